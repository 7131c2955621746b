"""The giou-gradient study: its closed-form gradients and GIoU formula, and its rule on synthetic results."""

from __future__ import annotations

import matplotlib
import torch

from cnnlab.metrics.boxes import generalized_box_iou
from cnnlab.studies import Results
from cnnlab.studies import giou_gradient as gg
from cnnlab.studies._base import Context

matplotlib.use("Agg")


def _results(iou_grad=0.0, giou_grad=0.02, error=1e-9, formula=0.0) -> Results:
    def arm(grad, extra):
        curve = {"gaps_over_width": [0.0, 1.0], "grad_norm": [grad, grad], "disjoint": [True, True]}
        return tuple({"max_rel_error": error, "min_disjoint_grad": grad, "max_disjoint_grad": grad * 2, **curve,
                      **extra} for _ in range(3))  # fmt: skip

    runs = {"iou": arm(iou_grad, {}), "giou": arm(giou_grad, {"formula_error": formula})}
    return Results("giou-gradient", "quick", gg.PROFILES["quick"], (0, 1, 2), runs)


def test_closed_form_matches_autograd_overlapping_and_disjoint():
    target = torch.tensor([10.0, 10.0, 20.0, 18.0], dtype=torch.float64)
    for pred in ([13.0, 12.0, 24.0, 21.0], [25.0, 11.0, 31.0, 19.0]):
        pred = torch.tensor(pred, dtype=torch.float64)
        _, _, g_iou, g_giou = gg.closed_form(pred, target)
        assert torch.allclose(g_iou, gg.autograd_grad(pred, target, "iou"), atol=1e-8)
        assert torch.allclose(g_giou, gg.autograd_grad(pred, target, "giou"), atol=1e-8)


def test_iou_gradient_zero_and_giou_not_for_disjoint_boxes():
    target = torch.tensor([0.0, 0.0, 10.0, 10.0], dtype=torch.float64)
    pred = torch.tensor([15.0, 0.0, 25.0, 10.0], dtype=torch.float64)
    iou, giou, g_iou, g_giou = gg.closed_form(pred, target)
    assert iou == 0 and abs(giou - (200 / 250 - 1)) < 1e-12  # U = 200, C = 25·10
    assert g_iou.abs().max() == 0 and g_giou[0] > 0  # moving x1 right (away) raises the loss


def test_giou_formula_matches_cnnlab():
    gen = torch.Generator().manual_seed(3)
    a, b = gg.random_box(gen, 200), gg.random_box(gen, 200)
    assert torch.allclose(gg.giou_formula(a, b), generalized_box_iou(a, b, pairwise=False), atol=1e-12, rtol=0)


def test_supported():
    v = gg.decide(_results())
    assert v.kind == "supported" and "0.0e+00" in v.sentence and "2.00e-02" in v.sentence


def test_nuanced_when_giou_pull_vanishes():
    assert gg.decide(_results(giou_grad=1e-6)).kind == "nuanced"


def test_refuted_when_neither_half_holds():
    assert gg.decide(_results(iou_grad=0.1, giou_grad=1e-6)).kind == "refuted"


def test_inconclusive_when_closed_form_and_autograd_disagree():
    assert gg.decide(_results(error=0.1)).kind == "inconclusive"
    assert gg.decide(_results(formula=1e-3)).kind == "inconclusive"


def test_one_run_figure_and_table():
    ctx = Context("quick", {"steps": 9, "pairs": 50})
    runs = {arm: (gg.run(arm, 0, ctx),) * 3 for arm in gg.ARMS}
    r = Results("giou-gradient", "quick", ctx.params, (0, 1, 2), runs)
    assert gg.decide(r).kind == "supported"
    assert len(gg.table(r).rows) == 2
    assert gg.figure(r) is not None


def test_anchors_agree_with_a_plateau_and_a_weakening_pull():
    from cnnlab.studies import get_study
    from cnnlab.studies.evidence import judge

    study = get_study("giou-gradient")
    study._check_evidence()
    assert not study.trains and not study.requirements_for("full")
    r = _results()
    runs = {arm: tuple({**run, "disjoint": [False, True, True], "grad_norm": [0.05, 0.04, 0.01]} for run in runs)
            for arm, runs in r.runs.items()}  # fmt: skip
    j = judge(study, Results(r.study, r.profile, r.params, r.seeds, runs))
    assert [c.agrees for c in j.comparisons] == [True, True] and "25%" in j.comparisons[1].here
    flat = judge(study, _results(iou_grad=0.1, giou_grad=1e-6))
    assert flat.comparisons[0].agrees is False
