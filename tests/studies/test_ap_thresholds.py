"""The ap-thresholds study: the metric's averages on fixed detections, and its rule on synthetic results."""

from __future__ import annotations

import matplotlib
import numpy as np
import torch

from cnnlab.metrics import coco_evaluate
from cnnlab.studies import Results
from cnnlab.studies import ap_thresholds as at

matplotlib.use("Agg")


def _truth(n=40):
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        xy = 20 * torch.rand(2, 2, generator=gen)
        boxes = torch.cat([xy, xy + 6 + 4 * torch.rand(2, 2, generator=gen)], 1).double()
        out.append({"boxes": boxes, "labels": torch.randint(0, 3, (2,), generator=gen)})
    return out


def _results(drop_coco=(0.45, 0.46, 0.47), drop50=(0.2, 0.21, 0.19), error=1e-16) -> Results:
    t = len(at.SHIFTS)
    curves = {f"pr_{x}": [1.0, 0.5] for x in at.PR_THRESHOLDS}
    runs = tuple({"ap_error": error, "ap50_error": 0.0, "class_error": 0.0, "ap50": 0.88, "ap75": 0.78, "ap": 0.62,
                  "drop_coco": c, "drop50": f, "recall": [0.0, 1.0], **curves,
                  "shift_ap50": [0.88] * t, "shift_ap75": [0.78] * t, "shift_ap": [0.62] * t}
                 for c, f in zip(drop_coco, drop50, strict=True))  # fmt: skip
    return Results("ap-thresholds", "quick", at.PROFILES["quick"], (0, 1, 2), {"jittered": runs})


def test_identities_hold_exactly_on_synthetic_detections():
    truth = _truth()
    result = coco_evaluate(truth, at.synthetic_detections(truth, 1, num_classes=3))
    errors = at.identity_errors(result)
    assert max(errors.values()) < 1e-12
    assert result.AP50 >= result.AP75 >= 0


def test_perfect_detections_score_one_and_a_shift_hurts_coco_more():
    truth = _truth()
    perfect = [
        {"boxes": t["boxes"], "scores": torch.ones(2, dtype=torch.float64), "labels": t["labels"]} for t in truth
    ]
    r0 = coco_evaluate(truth, perfect)
    assert np.isclose(r0.AP, 1.0) and np.isclose(r0.AP50, 1.0)
    r2 = coco_evaluate(truth, at._shift(perfect, 2))
    assert 1 - r2.AP > 1 - r2.AP50


def test_supported():
    v = at.decide(_results())
    assert v.kind == "supported" and "46.0 ± 1.0" in v.sentence and "3 seeds" in v.sentence


def test_nuanced_when_both_fall_alike():
    assert at.decide(_results(drop_coco=(0.2, 0.21, 0.19))).kind == "nuanced"


def test_inconclusive_when_noisy():
    assert at.decide(_results(drop_coco=(0.0, 0.6, 0.3))).kind == "inconclusive"


def test_refuted_when_the_average_fails():
    assert at.decide(_results(error=1e-3)).kind == "refuted"


def test_table_and_figures():
    r = _results()
    assert len(at.table(r).rows) == 3
    assert len(at.figure(r)) == 2


def test_anchors_agree_on_exact_averages_and_not_when_they_fail():
    from cnnlab.studies import get_study
    from cnnlab.studies.evidence import judge

    study = get_study("ap-thresholds")
    study._check_evidence()
    assert not study.trains and not study.requirements_for("quick")
    j = judge(study, _results())
    assert j.verdict.kind == "supported" and [c.agrees for c in j.comparisons] == [True, True, True]
    bad = judge(study, _results(error=1e-3))
    assert bad.comparisons[0].agrees is False and "Unlike Lin" in bad.verdict.sentence
