"""The box-loss study's rule on synthetic results, and a tiny training run."""

from __future__ import annotations

import matplotlib

from cnnlab.studies import Results
from cnnlab.studies import box_loss as bl
from cnnlab.studies._base import Context

matplotlib.use("Agg")

WOBBLE = (-0.005, 0.0, 0.005)  # per-seed shift shared by the arms (paired)


def _results(map75=None, maps=None, noise=(0.0, 0.0, 0.0)) -> Results:
    map75 = {"l1": 0.40, "iou": 0.50, "giou": 0.50, "ciou": 0.50, **(map75 or {})}
    maps = {"l1": 0.40, "iou": 0.40, "giou": 0.45, "ciou": 0.45, **(maps or {})}
    runs = {
        arm: tuple(
            {"map": maps[arm] + w + (e if arm == "giou" else 0), "map50": 0.8, "map75": map75[arm] + w}
            for w, e in zip(WOBBLE, noise, strict=True)
        )
        for arm in bl.ARMS
    }
    return Results("box-loss", "quick", bl.PROFILES["quick"], (0, 1, 2), runs)


def test_supported():
    v = bl.decide(_results())
    assert v.kind == "supported" and "AP75 GIoU 50.0 ± 0.5 vs L1 40.0 ± 0.5" in v.sentence and "3 seeds" in v.sentence


def test_nuanced_when_giou_equals_iou():
    v = bl.decide(_results(maps={"giou": 0.40}))
    assert v.kind == "nuanced" and "beat L1" in v.sentence


def test_refuted_when_giou_beats_neither():
    assert bl.decide(_results(map75={"giou": 0.40}, maps={"giou": 0.40})).kind == "refuted"


def test_inconclusive_when_noisy():
    assert bl.decide(_results(noise=(-0.2, 0.0, 0.25))).kind == "inconclusive"


def test_table_and_figure():
    r = _results()
    assert len(bl.table(r).rows) == 4 and bl.figure(r) is not None


def test_tiny_training_run_returns_coco_numbers():
    ctx = Context("quick", {**bl.PROFILES["quick"], "n_train": 64, "n_test": 32, "epochs": 1})
    out = bl.run("giou", 0, ctx)
    assert 0 <= out["map"] <= out["map50"] <= 1 and out["params"] > 0 and out["macs"] > 0
