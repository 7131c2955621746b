"""`cnnlab eval` and `cnnlab predict` on a detection run: the 12 COCO numbers, boxes drawn on image files, and COCO
results JSON that `cnnlab map` and pycocotools score identically."""

import json

import numpy as np
import pytest
import torch

from cnnlab.cli import main
from cnnlab.data import load_dataset, render_grid
from cnnlab.data.grid import GAP
from cnnlab.engine import load_run
from cnnlab.engine.detection_inference import DRAW_CELL, coco_results, detect
from cnnlab.engine.inference import target_split
from cnnlab.metrics import coco_evaluate

DATA = ["--data-kw", "task=detection", "--data-kw", "n_train=200", "--data-kw", "n_test=64"]
STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # the conftest gives the count back after each test


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny tinydet, trained for 2 epochs: poor, but with detections above the decoder's 0.05 threshold."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("detection") / "run"
    argv = ["train", "tinydet", "--data", "shapes", *DATA, "--kw", "widths=[8,16,32]", "--kw", "neck_width=16",
            "--epochs", "2", "--batch-size", "16", "--lr", "0.01", "--no-progress", "--out", str(out)]  # fmt: skip
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module")
def images(run, tmp_path_factory):
    """Three test images as PNG files (shapes pixels are floats: the files hold them rounded to 8 bits)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    test = load_dataset("shapes", "test", task="detection", n_train=200, n_test=64)
    paths = []
    for i in range(3):
        pixels = (test.images[i] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
        Image.fromarray(pixels).save(folder / f"shape{i}.png")
        paths.append(folder / f"shape{i}.png")
    return paths


def test_eval_prints_the_12_coco_numbers_of_its_detections(run, capsys):
    capsys.readouterr()
    assert main(["eval", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "shapes-detection/test: COCO bbox evaluation of 64 images"
    assert len(lines) == 13 and lines[1].startswith(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all")
    assert sum("Average Recall" in line for line in lines) == 6

    assert main(["eval", str(run), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    config, model, train = load_run(run)
    test = target_split(config, train)
    expected = coco_evaluate(test.to_coco(), coco_results(test, detect(model, test)), per_class=False)
    assert printed == {"data": "shapes-detection/test", "samples": 64, **{k: getattr(expected, k) for k in STATS}}
    assert printed["AP50"] > 0  # the run finds something, so the comparison is not one of zeros
    # the trainer's own test mAP (the same model and data; its batches may differ in memory layout)
    metrics = json.loads((run / "metrics.json").read_text())
    assert printed["AP"] == pytest.approx(metrics["test_map"], abs=1e-6)


def test_eval_on_another_split_and_seed(run, capsys):
    capsys.readouterr()
    argv = ["eval", str(run), "--split", "test[:10]", "--data-kw", "seed=7", "--per-class", "--json"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["samples"] == 10 and set(STATS) <= set(printed)


def test_flip_test_evaluates_the_mirror_averaged_maps(run, images, capsys):
    capsys.readouterr()
    assert main(["eval", str(run), "--flip-test", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    config, model, train = load_run(run)
    test = target_split(config, train)
    expected = coco_evaluate(test.to_coco(), coco_results(test, detect(model, test, flip_test=True)), per_class=False)
    assert printed["AP"] == expected.AP and printed["AR100"] == expected.AR100
    plain = coco_evaluate(test.to_coco(), coco_results(test, detect(model, test)), per_class=False)
    assert (printed["AP"], printed["AR100"]) != (plain.AP, plain.AR100)  # a second forward pass changes the boxes
    assert main(["predict", str(run), str(images[0]), "--flip-test", "--min-score", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["detections"]


def test_predict_draws_one_png_per_image_and_never_overwrites(run, images, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "drawn"
    capsys.readouterr()
    assert main(["predict", str(run), *map(str, images), "--out", str(out), "--min-score", "0", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == ["shape0.png", "shape1.png", "shape2.png"]
    _, _, train = load_run(run)
    drew = 0
    for path, entry in zip(images, printed, strict=True):
        assert entry["path"] == str(path) and entry["drawn"] == str(out / path.name)
        drawn = np.asarray(Image.open(out / path.name).convert("RGB"))
        image = torch.from_numpy(np.array(Image.open(path))).permute(2, 0, 1).float() / 255
        plain = np.asarray(render_grid([image], [path.name], None, columns=1, cell=DRAW_CELL))
        assert drawn.shape == plain.shape
        for d in entry["detections"]:
            x0, y0 = (round(GAP + v * DRAW_CELL / 32) for v in d["box"][:2])  # the grid upscales 32 px 8×
            near = (slice(y0 - 1, y0 + 2), slice(x0 - 1, x0 + 2))
            assert (drawn[near] != plain[near]).any()  # the box's corner (and its tag) are drawn
            assert d["label"] in train.classes and 0.05 < d["score"] <= 1
            drew += 1
        if not entry["detections"]:
            assert (drawn == plain).all()
    assert drew > 0

    before = (out / "shape0.png").read_bytes()
    assert main(["predict", str(run), str(images[0]), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "already exists" in captured.err
    assert (out / "shape0.png").read_bytes() == before


def test_predict_prints_the_detections_of_each_image(run, images, capsys):
    capsys.readouterr()
    assert main(["predict", str(run), str(images[0]), "--min-score", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{images[0]}: ") and "detection" in lines[0]
    assert len(lines) == 1 + int(lines[0].split(": ")[1].split()[0])


def test_coco_json_is_scored_identically_by_cnnlab_map_and_pycocotools(run, tmp_path, capsys):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    dets, gt = tmp_path / "dets.json", tmp_path / "gt.json"
    argv = ["predict", str(run), "--data", "shapes", *DATA, "--split", "test", "--coco-json", str(dets)]
    assert main([*argv, "--coco-gt", str(gt)]) == 0
    assert "detections in 64 images of shapes-detection/test" in capsys.readouterr().out
    test = load_dataset("shapes", "test", task="detection", n_train=200, n_test=64)
    assert json.loads(gt.read_text()) == json.loads(json.dumps(test.to_coco()))
    results = json.loads(dets.read_text())
    assert results and set(results[0]) == {"image_id", "category_id", "bbox", "score"}

    assert main(["map", str(gt), str(dets), "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)
    coco_gt = COCO(str(gt))
    evaluator = COCOeval(coco_gt, coco_gt.loadRes(str(dets)), iouType="bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    capsys.readouterr()  # pycocotools prints
    np.testing.assert_allclose([ours[k] for k in STATS], evaluator.stats, rtol=0, atol=1e-12)
    assert ours["AP50"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "{run}", "{img}", "--coco-json", "{tmp}/d.json"], "drop the IMAGE files"),
        (["predict", "{run}"], "name IMAGE files to predict"),
        (["predict", "{run}", "{img}", "--split", "test"], "--split choose the data of --coco-json"),
        (["predict", "{run}", "{img}", "--min-score", "2"], "--min-score is a score in [0, 1]"),
        (["predict", "{run}", "{big}"], "is 64×48 pixels, but the model was trained on 32×32"),
        (["predict", "{run}", "{img}", "{img}", "--out", "{tmp}/o"], "would both be drawn to"),
        (["predict", "{run}", "--coco-json", "{img}"], "already exists"),
        (["predict", "{run}", "--coco-json", "{tmp}/d.json", "--data", "digits"], "has no boxes"),
        (["eval", "{run}", "--data", "digits"], "has no boxes, but the model is a detector"),
        (["eval", "{run}", "--split", "nope"], "split"),
    ],
)
def test_bad_inputs_are_one_line_errors(run, images, tmp_path, capsys, argv, message):
    from PIL import Image

    Image.new("RGB", (64, 48)).save(tmp_path / "big.png")
    values = {"run": run, "img": images[0], "tmp": tmp_path, "big": tmp_path / "big.png"}
    capsys.readouterr()
    assert main([a.format(**values) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err, captured.err
    assert not (tmp_path / "o").exists() and not (tmp_path / "d.json").exists()
