"""Detection through the trainer: a tiny tinydet run beats a trivial detector's mAP, a run killed with SIGKILL and
resumed ends bit-identical to one that never stopped, diagnostics hook every layer of the detector, and a detector
trains from an exported COCO folder."""

import json
import signal
from pathlib import Path

import pytest
import torch
from _killed_run import DETECTION, killed_run

from cnnlab.data import load_dataset
from cnnlab.engine import TrainConfig, train
from cnnlab.engine.export import load_safetensors
from cnnlab.metrics import coco_evaluate

DATA = {"task": "detection", "n_train": 600, "n_test": 200}


def prior_boxes_map(train, test) -> float:
    """mAP of a detector that ignores the pixels: for every class, the class's mean training box at its mean
    position, scored by how often the class occurs."""
    boxes, labels = torch.cat(train.boxes), torch.cat(train.labels)
    k = len(train.classes)
    mean_box = torch.stack([boxes[labels == c].mean(0) for c in range(k)])  # (K, 4)
    freq = torch.bincount(labels, minlength=k).float() / len(labels)
    found = [{"boxes": mean_box, "scores": freq, "labels": torch.arange(k)} for _ in range(len(test))]
    truths = [{"boxes": b, "labels": lab} for b, lab in zip(test.boxes, test.labels, strict=True)]
    return coco_evaluate(truths, found, per_class=False).AP


def test_a_short_run_beats_a_detector_that_ignores_the_pixels(tmp_path):
    torch.set_num_threads(1)
    # 8 epochs reach a test mAP of about 0.10, twice the bar (12 reach 0.17 for 1.7 times the CPU)
    config = TrainConfig(model="tinydet", data="shapes", data_kwargs=DATA, epochs=8, batch_size=16, lr=3e-3,
                         optimizer="adamw", augment="flip", progress=False, out=str(tmp_path / "r"))  # fmt: skip
    result = train(config, log=lambda _: None)
    baseline = prior_boxes_map(load_dataset("shapes", "train", **DATA), load_dataset("shapes", "test", **DATA))
    assert result.test_metrics["map"] > baseline + 0.05, (result.test_metrics, baseline)
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["test_map"] == result.test_metrics["map"] and metrics["test_accuracy"] is None
    assert metrics["best_epoch"] == max(range(8), key=lambda e: result.history[e]["val_map"]) + 1
    assert {"val_map", "val_map50", "val_map75", "val_loss"} <= set(result.history[-1])


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The detection run of _killed_run.py, never stopped (in this process, on one thread as the killed runs are): what
    every killed and resumed run must equal."""
    run_dir = tmp_path_factory.mktemp("ref") / "run"
    train(TrainConfig(**DETECTION, out=str(run_dir)), log=lambda _: None)
    return run_dir


@pytest.mark.parametrize(("mode", "n"), [("step", 4), ("epoch", 1)])
def test_a_killed_detection_run_resumes_exactly(tmp_path, reference, mode, n):
    run_dir = tmp_path / "run"
    assert killed_run(run_dir, mode, n, detection=True) == -signal.SIGKILL
    result = train(resume=run_dir, log=lambda _: None)
    ours, theirs = load_safetensors(run_dir / "model.safetensors"), load_safetensors(reference / "model.safetensors")
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    expected = json.loads((reference / "metrics.json").read_text())
    assert result.test_metrics["map"] == expected["test_map"] and result.test_loss == expected["test_loss"]


def test_diagnostics_hook_every_layer_of_a_detector(tmp_path, capsys):
    import csv
    import math

    from cnnlab.cli import main

    torch.set_num_threads(1)
    out = tmp_path / "run"
    argv = ["train", "tinydet", "--data", "shapes", "--data-kw", "n_train=200", "--data-kw", "n_test=50", "--kw",
            "widths=[8,16,32]", "--kw", "neck_width=16", "--epochs", "2", "--no-progress", "--diagnose"]  # fmt: skip
    assert main([*argv, "--out", str(out)]) == 0
    assert "diagnostics:" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "diagnostics" / "records.csv").open()))
    model = load_run_model(out)
    convs = {name for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)}
    recorded = {r["layer"] for r in rows if r["grad_norm"]}
    assert convs <= recorded  # backbone, neck and both heads
    assert all(math.isfinite(float(r["grad_norm"])) and float(r["grad_norm"]) > 0 for r in rows if r["grad_norm"])
    assert isinstance(json.loads((out / "diagnostics" / "findings.json").read_text()), list)


def load_run_model(run_dir: Path) -> torch.nn.Module:
    from cnnlab.engine.inference import load_run

    return load_run(run_dir)[1]


def test_a_detector_trains_from_a_coco_folder(tmp_path, capsys):
    from cnnlab.cli import main

    torch.set_num_threads(1)
    coco = tmp_path / "coco"
    argv = ["data", "export", "shapes", "--task", "detection", "--data-kw", "n_train=200", "--out", str(coco)]
    assert main(argv) == 0
    out = tmp_path / "run"
    argv = ["train", "tinydet", "--data", "coco", "--data-dir", str(coco), "--epochs", "3", "--lr", "0.01", "--kw",
            "widths=[8,16,32]", "--kw", "neck_width=16", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0  # the run's own test split: the folder's annotations.json
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["samples"] == 200 and evaluated["AP"] == pytest.approx(metrics["test_map"], abs=1e-9)
    assert evaluated["AP50"] > 0  # it found some of the shapes it trained on
    assert json.loads((out / "config.json").read_text())["data_dir"] == str(coco)
