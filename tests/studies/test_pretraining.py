"""The pretraining study's decision rule on synthetic results, its gradient-ratio probe, its table and figures."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from cnnlab import create
from cnnlab.engine import TrainState
from cnnlab.layers import LinearNormAct
from cnnlab.studies import Results, get_study
from cnnlab.studies import pretraining as pt
from cnnlab.studies._nets import FAILS, HOLDS, UNDECIDED
from cnnlab.studies.evidence import judge
from cnnlab.studies.stats import NEGATIVE, NEGLIGIBLE, POSITIVE
from cnnlab.studies.stats import UNCLEAR as NOISY

matplotlib.use("Agg")

WOBBLE = (-0.01, 0.0, 0.01)  # per-seed offset, shared by the arms (paired)


def _arm(acc: float, ratio: float, cpu: float, spread: tuple[float, ...] = WOBBLE) -> tuple[dict, ...]:
    return tuple(
        {"test_accuracy": acc + d, "log_ratio_start": ratio + d, "log_ratio_end": ratio / 2, "train_loss": 0.5,
         "cpu_seconds": cpu * (1 + d)}
        for d in spread
    )  # fmt: skip


def _results(random: tuple, pretrained: tuple, modern: tuple) -> Results:
    runs = {"random": _arm(*random), "pretrained": _arm(*pretrained), "modern": _arm(*modern)}
    return Results("pretraining", "quick", pt.PROFILES["quick"], (0, 1, 2), runs)


RANDOM = (0.10, -3.0, 1.0)


def test_supported_when_pretraining_lifts_gradients_gains_and_beats_the_modern_recipe():
    v = pt.decide(_results(RANDOM, (0.90, -1.0, 2.0), (0.80, 0.2, 1.0)))
    assert v.kind == "supported"
    assert "pretrained 90.0 ± 1.0%" in v.sentence and "3 seeds" in v.sentence and "(×2.00)" in v.sentence


def test_refuted_when_pretraining_changes_nothing_and_costs_more():
    v = pt.decide(_results(RANDOM, (0.10, -3.0, 2.0), (0.97, 0.2, 1.0)))
    assert v.kind == "refuted"
    assert "pretrained − random 0.0 decades" in v.sentence


def test_nuanced_when_pretraining_buys_accuracy_without_lifting_the_ratio_and_loses_to_modern():
    v = pt.decide(_results(RANDOM, (0.75, -2.7, 2.0), (0.97, 0.2, 1.0)))
    assert v.kind == "nuanced"
    assert v.sentence.startswith("Holds: pretraining gains ≥ 3 accuracy points over random init; does not hold: ")
    assert "still earns its CPU time" in v.sentence and "modern 97.0 ± 1.0%" in v.sentence


def test_inconclusive_when_too_noisy():
    noisy = (-0.3, 0.0, 0.3)
    v = pt.decide(_results(RANDOM, (0.40, -2.0, 2.0, noisy), (0.60, 0.2, 1.0, (0.3, 0.0, -0.3))))
    assert v.kind == "inconclusive"
    assert "undecided" in v.sentence and "95% CI" in v.sentence


@pytest.mark.parametrize(
    ("acc", "cost", "part"),
    [
        (NEGATIVE, POSITIVE, HOLDS),  # pretraining more accurate: worth it whatever it costs
        (NEGLIGIBLE, NEGATIVE, HOLDS),  # as accurate and cheaper
        (NEGLIGIBLE, POSITIVE, FAILS),  # as accurate, costlier
        (POSITIVE, NEGLIGIBLE, FAILS),  # modern better for the same time
        (POSITIVE, NEGATIVE, UNDECIDED),  # a trade-off
        (NOISY, POSITIVE, UNDECIDED),
    ],
)
def test_earns_its_cost(acc, cost, part):
    assert pt._earns_its_cost(acc, cost) == part


def _mlp_with_grads(first: float, last: float) -> torch.nn.Module:
    model = create("mlp", depth=3, width=8, input_size=4, in_channels=1, act="sigmoid")
    hidden = [m for m in model.modules() if isinstance(m, LinearNormAct)]
    for layer, scale in zip(hidden, (first, 1.0, last), strict=True):
        layer.fc.weight.grad = torch.full_like(layer.fc.weight, scale)  # norm = scale · √(rows · cols)
    return model


def test_layer_log_ratio_compares_the_first_and_last_hidden_layers():
    model = _mlp_with_grads(1e-4, 2.0)
    expected = math.log10(1e-4 * math.sqrt(8 * 16) / (2.0 * math.sqrt(8 * 8)))  # first layer is 8 × 16 inputs
    assert pt.layer_log_ratio(model) == pytest.approx(expected, abs=1e-6)
    assert pt.layer_log_ratio(_mlp_with_grads(0.0, 1.0)) == pytest.approx(pt.LOG_FLOOR - math.log10(8.0), abs=1e-6)


def test_gradient_ratio_keeps_the_first_and_last_steps():
    probe = pt.GradientRatio(2)
    for scale in (1e-1, 1e-2, 1e-3, 1e-4):
        probe.on_after_backward(TrainState(model=_mlp_with_grads(scale, 1.0), optimizer=None))
    offset = math.log10(math.sqrt(2))  # √(8·16) / √(8·8)
    assert probe.first == pytest.approx([-1 + offset, -2 + offset], abs=1e-6)
    assert list(probe.last) == pytest.approx([-3 + offset, -4 + offset], abs=1e-6)


def test_table_and_figures_draw_synthetic_results():
    r = _results(RANDOM, (0.75, -2.7, 2.0), (0.97, 0.2, 1.0))
    t = pt.table(r)
    assert [row[0] for row in t.rows] == list(pt.ARMS) and t.rows[1][1] == "75.0 ± 1.0"
    figs = pt.figure(r)
    assert len(figs) == 2 and figs[1].axes[0].get_xlabel().startswith("CPU time")


def test_judge_keeps_the_rule_when_the_modern_net_learns_and_the_random_gradient_vanishes():
    r = _results(RANDOM, (0.75, -2.7, 2.0), (0.97, 0.2, 1.0))
    j = judge(pt.STUDY, r)
    assert j.competent and j.premise_met
    assert j.verdict == pt.decide(r) and j.verdict.kind == "nuanced"
    assert [c.agrees for c in j.comparisons] == [True, True, True, True]


def test_judge_undertrained_when_the_modern_net_does_not_learn():
    j = judge(pt.STUDY, _results(RANDOM, (0.75, -2.7, 2.0), (0.85, 0.2, 1.0)))
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")
    assert "the modern net (ReLU, BatchNorm, He init) reached 85.0%" in j.verdict.sentence


def test_judge_premise_absent_when_the_random_gradient_does_not_vanish():
    j = judge(pt.STUDY, _results((0.10, -0.4, 1.0), (0.75, -0.2, 2.0), (0.97, 0.2, 1.0)))
    assert j.competent and j.verdict.sentence.startswith("Premise absent:")
    assert "log10 first/last gradient ratio was -0.4 ± 0.0" in j.verdict.sentence


def test_rates_and_evidence_are_declared():
    get_study("pretraining")._check_evidence()
    assert set(pt.TUNED_LR) == set(pt.ARMS) and set(pt.TUNED_LR.values()) <= set(pt.LR_GRID)
    assert pt.TUNING_SEED not in (*range(5), *range(100, 105))
    assert [r.version for r in pt.STUDY.revisions] == [1, 2] and "Depth 8 → 4" in pt.STUDY.revisions[0].change
