"""The detector's targets: accuracy after a bounded training time, training overhead, evaluation time.

1. Accuracy: `cnnlab train tinydet --data shapes` with the default recipe and nothing else (10,000 training scenes,
   32×32, up to 4 shapes), then COCO mAP, AP50 and AP75 on the 2,000 test scenes, per-class AP, and the same
   numbers on a test set drawn with another data seed. Targets: mAP@[.5:.95] ≥ 0.75 and mAP-50 ≥ 0.97 after at
   most 10 minutes of training on a 2-core CPU. The numbers with the flip test (`cnnlab eval RUN --flip-test`)
   follow on their own line.
2. Overhead: the trainer's step against a bare step of the same model, loss and optimizer (forward,
   `detection_loss`, backward, AdamW step), alternating step by step on the same batches so that the machine's
   drift hits both alike. Target: ≤ 1.05×.
3. Evaluation: the 2,000 test images through forward, decoding, NMS and COCO mAP (`DetectionTask.evaluate`).
   Target: ≤ 3 s.

    .venv/bin/python benchmarks/detection.py                    # all three; the training takes the recipe's time
    .venv/bin/python benchmarks/detection.py --skip-training --run RUN_DIR   # 2 and 3 only, or 3 on a trained run
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from cnnlab.cli import main as cli
from cnnlab.data import load_dataset, make_loader
from cnnlab.data.shapes import CLASSES
from cnnlab.engine import TrainConfig, Trainer
from cnnlab.engine.distributed import World
from cnnlab.engine.inference import load_run
from cnnlab.engine.tasks import DetectionTask
from cnnlab.metrics import coco_evaluate


def train_default(out: Path) -> float:
    started = time.perf_counter()
    assert cli(["train", "tinydet", "--data", "shapes", "--out", str(out)]) == 0
    return time.perf_counter() - started


def evaluate(model: torch.nn.Module, seed: int) -> tuple[dict[str, float], float, object]:
    """COCO numbers of `model` on the test scenes of data seed `seed`, and the seconds they took."""
    test = load_dataset("shapes", "test", task="detection", seed=seed)
    loader = make_loader(test, 256, shuffle=False, seed=0, augment=None, device="cpu")
    task = DetectionTask(model, box_loss="giou", cls_loss="focal")
    started = time.perf_counter()
    numbers = task.evaluate(model, loader, world=World(), autocast=contextlib.nullcontext(),
                            memory_format=torch.contiguous_format)  # fmt: skip
    seconds = time.perf_counter() - started
    truths = [{"boxes": b, "labels": lab} for b, lab in zip(test.boxes, test.labels, strict=True)]
    model.eval()
    with torch.no_grad():
        found = [d for batch in loader for d in model.decode(model(batch.inputs))]
    per_class = coco_evaluate(truths, found).per_class
    with torch.no_grad():
        flipped = [d for batch in loader for d in model.decode(model.flip_test(batch.inputs))]
    flip = coco_evaluate(truths, flipped, per_class=False)
    numbers.update(flip_map=flip.AP, flip_map50=flip.AP50, flip_map75=flip.AP75)
    return numbers, seconds, per_class


def overhead(steps: int) -> list[float]:
    """Ratios (trainer step / bare step) of alternating rounds on the same batches."""
    torch.set_num_threads(1)
    config = TrainConfig(model="tinydet", data="shapes", data_kwargs={"task": "detection", "n_train": 2000},
                         optimizer="adamw", lr=1e-3, progress=False, val_fraction=0.0)  # fmt: skip
    trainer = Trainer(config, in_memory=True, log=lambda _: None)
    bare = copy.deepcopy(trainer.model)  # the same architecture and weights, with an optimizer of its own
    opt = torch.optim.AdamW(bare.parameters(), lr=1e-3)
    batches = iter(trainer.train_loader)
    ratios = []
    for _ in range(steps):
        batch = next(batches, None)
        if batch is None:
            batches = iter(trainer.train_loader)
            batch = next(batches)
        t0 = time.perf_counter()
        trainer._step(batch)
        t1 = time.perf_counter()
        loss = bare.detection_loss(bare(batch.inputs), batch.boxes, batch.labels)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        ratios.append((t1 - t0) / (t2 - t1))
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--run", type=Path, help="a trained detection run to evaluate (default: train one)")
    parser.add_argument("--steps", type=int, default=200, help="alternating steps for the overhead")
    args = parser.parse_args()
    run = args.run
    if run is None and not args.skip_training:
        run = Path(tempfile.mkdtemp(prefix="cnnlab-det-")) / "run"
        print(f"training with the default recipe: {train_default(run):.0f} s wall")
    if run is not None:
        _, model, _ = load_run(run)
        for seed in (0, 1):
            numbers, seconds, per_class = evaluate(model, seed)
            print(f"test scenes of data seed {seed}: mAP {numbers['map']:.3f}  AP50 {numbers['map50']:.3f}  "
                  f"AP75 {numbers['map75']:.3f}  (evaluation of 2,000 images {seconds:.2f} s)")  # fmt: skip
            print("  per class AP: " + ", ".join(f"{CLASSES[int(c.name)]} {c.AP:.2f}" for c in per_class))
            print(f"  with --flip-test: mAP {numbers['flip_map']:.3f}  AP50 {numbers['flip_map50']:.3f}  "
                  f"AP75 {numbers['flip_map75']:.3f}")  # fmt: skip
    ratios = overhead(args.steps)
    low, _, high = statistics.quantiles(ratios, n=4)
    print(f"trainer step / bare step: median {statistics.median(ratios):.3f} (quartiles {low:.3f}–{high:.3f}, "
          f"{len(ratios)} alternating steps)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
