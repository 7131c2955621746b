"""COCO bbox evaluation speed: cnnlab against pycocotools and faster-coco-eval, timed in one run.

    .venv/bin/python benchmarks/coco_eval.py                # 2,000 images, 20 classes, ~7 GT and ~50 dets each
    .venv/bin/python benchmarks/coco_eval.py --images 500 --repeat 5
    .venv/bin/python benchmarks/coco_eval.py --save /tmp/coco   # also writes gt.json and dets.json for `cnnlab map`

Each tool starts from the same in-memory COCO dicts (deep copies, made outside the timing, because pycocotools'
loadRes writes into the detections) and runs to the 12 summary stats: for pycocotools COCO() + createIndex +
loadRes + COCOeval evaluate/accumulate/summarize, for faster-coco-eval the same through its C++ COCOeval_faster,
for cnnlab `coco_evaluate`. The machine may be shared, so compare the ratios, which come from the same run; each
time is the best of --repeat runs. Needs `pip install -e ".[test,bench]"` (pycocotools, faster-coco-eval).

With --command, the whole `cnnlab map GT.json DETS.json` command is timed as well, as a user runs it (a new process
reading the files; the console script answers it without importing torch), against the same command run through the
full command line, which imports torch first (`cnnlab.cli.main`): the process start-up is most of a small set's time.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from cnnlab.metrics import coco_evaluate


def synthetic_coco(seed: int, images: int, classes: int, gt_per_image: float, dets_per_image: float):
    """A seeded detection problem: small/medium/large boxes, ~2% crowd, scores on a 0.01 grid (so many ties),
    detections that are jittered copies of the ground truth (duplicates included) or background boxes."""
    rng = np.random.default_rng(seed)
    annotations, detections = [], []
    for image_id in range(1, images + 1):
        n_gt = rng.poisson(gt_per_image)
        side = np.exp(rng.uniform(np.log(6), np.log(400), (n_gt, 2)))  # log-uniform: all three COCO sizes
        xy = rng.uniform(0, 640 - side)
        labels = rng.integers(1, classes + 1, n_gt)
        for j in range(n_gt):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(labels[j]),
                    "bbox": [*np.round(xy[j], 2).tolist(), *np.round(side[j], 2).tolist()],
                    "area": float(np.round(side[j, 0] * side[j, 1] * rng.uniform(0.6, 1.0), 2)),  # a mask's area
                    "iscrowd": int(rng.random() < 0.02),
                }
            )
        n_dt = rng.poisson(dets_per_image)
        n_hits = min(n_dt, rng.binomial(n_dt, 0.5)) if n_gt else 0
        source = rng.integers(0, max(n_gt, 1), n_hits)
        jitter = rng.normal(0, 0.06, (n_hits, 4)) * np.tile(side[source], 2) if n_gt else np.zeros((0, 4))
        hit_boxes = np.concatenate([xy[source], side[source]], axis=1) + jitter
        hit_boxes[:, 2:] = np.abs(hit_boxes[:, 2:])
        hit_labels = np.where(rng.random(n_hits) < 0.9, labels[source], rng.integers(1, classes + 1, n_hits))
        bg_side = np.exp(rng.uniform(np.log(6), np.log(300), (n_dt - n_hits, 2)))
        bg_boxes = np.concatenate([rng.uniform(0, 640 - bg_side), bg_side], axis=1)
        boxes = np.round(np.concatenate([hit_boxes, bg_boxes]), 2)
        scores = np.round(np.concatenate([rng.beta(4, 2, n_hits), rng.beta(2, 4, n_dt - n_hits)]), 2)
        cats = np.concatenate([hit_labels, rng.integers(1, classes + 1, n_dt - n_hits)])
        for box, score, cat in zip(boxes.tolist(), scores.tolist(), cats.tolist(), strict=True):
            detections.append({"image_id": image_id, "category_id": cat, "bbox": box, "score": score})
    ground_truth = {
        "images": [{"id": i, "width": 640, "height": 640} for i in range(1, images + 1)],
        "categories": [{"id": c, "name": f"class{c}"} for c in range(1, classes + 1)],
        "annotations": annotations,
    }
    return ground_truth, detections


def run_pycocotools(gt: dict, dets: list):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(dets), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats), evaluator.eval["precision"]


def run_faster_coco_eval(gt: dict, dets: list):
    from faster_coco_eval import COCO, COCOeval_faster

    logging.getLogger("faster_coco_eval").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(gt)
        evaluator = COCOeval_faster(coco, coco.loadRes(dets), "bbox", print_function=lambda *a: None)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats), np.asarray(evaluator.eval["precision"])


def run_cnnlab(gt: dict, dets: list):
    result = coco_evaluate(gt, dets, per_class=False)
    return result.stats, result.precision


def best_time(fn, gt: dict, dets: list, repeat: int):
    """The best wall-clock and CPU seconds of `repeat` runs, and the last run's output."""
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        gt_copy, dets_copy = copy.deepcopy(gt), copy.deepcopy(dets)
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn(gt_copy, dets_copy)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu), out


def write_coco(folder: str, gt: dict, dets: list) -> list[str]:
    """Write FOLDER/gt.json and FOLDER/dets.json; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, "gt.json"), os.path.join(folder, "dets.json")]
    for path, data in zip(paths, (gt, dets), strict=True):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f)
    return paths


def time_command(code: str, files: list[str], repeat: int) -> tuple[float, str]:
    """The best wall-clock seconds of `repeat` runs of `python -c code map GT DETS`, and the last run's output."""
    walls, out = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code, "map", *files], capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - start)
    return min(walls), out.stdout


def time_the_command(gt: dict, dets: list, repeat: int) -> None:
    """`cnnlab map` as a process: the console script (no torch) against the full command line (torch imported)."""
    with tempfile.TemporaryDirectory() as folder:
        files = write_coco(folder, gt, dets)
        script = "import sys; from cnnlab.__main__ import main; sys.exit(main())"
        full = "import sys; from cnnlab.cli import main; sys.exit(main(sys.argv[1:]))"
        t_script, said_script = time_command(script, files, repeat)
        t_full, said_full = time_command(full, files, repeat)
    print(
        f"cnnlab map as a command (best of {repeat}): {t_script:.2f} s; through the full command line, torch "
        f"imported first: {t_full:.2f} s ({t_full / t_script:.1f}×); the same output: {said_script == said_full}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--gt-per-image", type=float, default=7.0)
    parser.add_argument("--dets-per-image", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the best time counts")
    parser.add_argument("--pycocotools-repeat", type=int, default=1, help="runs of the slow reference")
    parser.add_argument("--save", metavar="DIR", help="also write DIR/gt.json and DIR/dets.json")
    parser.add_argument("--command", action="store_true", help="also time the `cnnlab map` command as a process")
    args = parser.parse_args()

    gt, dets = synthetic_coco(args.seed, args.images, args.classes, args.gt_per_image, args.dets_per_image)
    if args.save:
        write_coco(args.save, gt, dets)
    crowd = np.mean([a["iscrowd"] for a in gt["annotations"]])
    print(
        f"{args.images} images, {args.classes} classes, {len(gt['annotations'])} ground truths "
        f"({crowd:.1%} crowd), {len(dets)} detections ({len({d['score'] for d in dets})} distinct scores)"
    )
    t_ref, c_ref, (ref_stats, ref_precision) = best_time(run_pycocotools, gt, dets, args.pycocotools_repeat)
    t_fast, c_fast, (fast_stats, _) = best_time(run_faster_coco_eval, gt, dets, args.repeat)
    t_ours, c_ours, (our_stats, our_precision) = best_time(run_cnnlab, gt, dets, args.repeat)

    print(f"{'tool':<18}{'wall s':>8}{'cpu s':>8}{'vs pycocotools':>16}{'vs faster-coco-eval':>21}  (wall)")
    for name, t, c in (("pycocotools", t_ref, c_ref), ("faster-coco-eval", t_fast, c_fast), ("cnnlab", t_ours, c_ours)):
        print(f"{name:<18}{t:>8.3f}{c:>8.3f}{t_ref / t:>15.1f}×{t_fast / t:>20.2f}×")
    print(
        f"cnnlab stats == pycocotools stats: {np.array_equal(our_stats, ref_stats)} "
        f"(max |diff| {np.max(np.abs(our_stats - ref_stats)):.1e}); precision arrays identical: "
        f"{np.array_equal(our_precision, ref_precision)}"
    )
    print(f"faster-coco-eval vs pycocotools: max |stats diff| {np.max(np.abs(fast_stats - ref_stats)):.1e}")
    print("AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl =")
    print("  " + " ".join(f"{v:.4f}" for v in our_stats))
    if args.command:
        time_the_command(gt, dets, args.repeat)


if __name__ == "__main__":
    main()
