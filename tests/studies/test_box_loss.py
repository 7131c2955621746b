"""The box-loss study's rule, competence, premise and anchors on synthetic results, and a tiny training run."""

from __future__ import annotations

import matplotlib

from cnnlab.studies import Results, get_study
from cnnlab.studies import _detector as det
from cnnlab.studies import box_loss as bl
from cnnlab.studies._base import Context
from cnnlab.studies.evidence import judge

matplotlib.use("Agg")

WOBBLE = (-0.005, 0.0, 0.005)  # per-seed shift shared by the arms (paired)
TINY = {**bl.PROFILES["quick"], "n_train": 96, "n_test": 16, "n_val": 16, "epochs": 1, "widths": (4, 8, 8),
        "neck_width": 8, "lr_factors": det.LR_FACTORS}  # fmt: skip


def _results(map75=None, maps=None, noise=(0.0, 0.0, 0.0), miss=0.2) -> Results:
    map75 = {"l1": 0.60, "iou": 0.70, "giou": 0.70, "ciou": 0.70, **(map75 or {})}
    maps = {"l1": 0.55, "iou": 0.55, "giou": 0.60, "ciou": 0.65, **(maps or {})}
    runs = {
        arm: tuple(
            {"map": maps[arm] + w + (e if arm == "giou" else 0), "map50": 0.9, "map75": map75[arm] + w,
             "lr": 0.003, "miss_share": miss}
            for w, e in zip(WOBBLE, noise, strict=True)
        )
        for arm in bl.ARMS
    }  # fmt: skip
    return Results("box-loss", "quick", bl.PROFILES["quick"], (0, 1, 2), runs)


def test_supported():
    v = bl.decide(_results())
    assert v.kind == "supported" and "AP75 GIoU 70.0 ± 0.5 vs L1 60.0 ± 0.5" in v.sentence and "3 seeds" in v.sentence


def test_nuanced_when_giou_equals_iou():
    v = bl.decide(_results(maps={"giou": 0.55}))
    assert v.kind == "nuanced" and "beat L1" in v.sentence


def test_refuted_when_giou_beats_neither():
    assert bl.decide(_results(map75={"giou": 0.60}, maps={"giou": 0.55})).kind == "refuted"


def test_inconclusive_when_noisy():
    assert bl.decide(_results(noise=(-0.2, 0.0, 0.25))).kind == "inconclusive"


def test_undertrained_detector_makes_it_inconclusive():
    r = _results(maps={"l1": 0.05, "iou": 0.05, "giou": 0.10, "ciou": 0.10})
    j = judge(bl.STUDY, r)
    assert j.measured.kind == "supported"
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")
    assert "0.10" in j.verdict.sentence


def test_premise_absent_when_no_prediction_can_miss():
    j = judge(bl.STUDY, _results(miss=0.0))
    assert j.competent and not j.premise_met
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Premise absent:")
    assert "0.0% of the box-regression cells" in j.verdict.sentence


def test_rule_stands_when_requirements_are_met():
    j = judge(bl.STUDY, _results())
    assert j.competent and j.premise_met and j.verdict.kind == "supported"
    assert {c.anchor.source.split(",")[0] for c in j.comparisons} == {"Yu", "Rezatofighi", "Zheng"}
    assert all(c.agrees for c in j.comparisons)  # IoU > L1 on AP75, GIoU > L1 and IoU, CIoU > GIoU


def test_evidence_is_declared():
    get_study("box-loss")._check_evidence()


def test_table_and_figure():
    r = _results()
    assert len(bl.table(r).rows) == 4 and bl.table(r).rows[0][1] == "0.003" and bl.figure(r) is not None


def test_no_regression_cell_can_miss_its_target():
    # tinydet regresses from cells inside the box with positive distances: the premise is absent by construction
    assert bl.miss_share(Context("quick", TINY)) == 0.0


def test_a_grid_of_one_factor_tunes_nothing():
    lr, scores = det.tuned_lr(Context("quick", {**TINY, "lr_factors": (1.0,)}), "giou")
    assert lr == TINY["lr"] and scores == {}
    assert bl.PROFILES["quick"]["lr_factors"] == (1.0,) and bl.PROFILES["full"]["lr_factors"] == det.LR_FACTORS


def test_tiny_training_run_tunes_and_returns_coco_numbers():
    out = bl.run("giou", 0, Context("quick", TINY))
    assert 0 <= out["map"] <= out["map50"] <= 1 and out["params"] > 0 and out["macs"] > 0
    assert out["lr"] in out["tune_lr"] and len(out["tune_map"]) == len(det.LR_FACTORS)
    assert out["tune_lr"] == sorted(TINY["lr"] * f for f in det.LR_FACTORS)
