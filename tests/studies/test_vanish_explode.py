"""The vanish-explode study: its chain-rule prediction, its per-layer measurement, its decision rule on synthetic
results (one test per verdict kind), table, figures and one small real run."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from cnnlab import create
from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import vanish_explode as ve
from cnnlab.studies._base import Context

matplotlib.use("Agg")

L = 24
PREDICTED = {"linear": (0.5, 1.0, 2.0), "tanh": (0.5, 0.945, 1.166), "relu": (0.5, 1.0, 2.0)}
JITTER = (-0.005, 0.0, 0.005)  # per-seed wobble of a measured factor, in log units


def _run(predicted: float, signal: float, weight: float, r2: float = 1.0, noise=(0.0, 0.0, 0.0)) -> tuple:
    runs = []
    for j, e in zip(JITTER, noise, strict=True):
        s, w = signal * math.exp(j + e), weight * math.exp(j + e)
        runs.append({
            "signal_norms": [s ** (L - k) for k in range(1, L + 1)],
            "weight_norms": [w ** (L - k) for k in range(1, L + 1)],
            "signal_factor": s,
            "signal_r2": r2,
            "weight_factor": w,
            "weight_r2": r2,
            "predicted_factor": predicted,
            "predicted_factors": [predicted] * (L - 1),
        })  # fmt: skip
    return tuple(runs)


def _results(measure) -> Results:
    """`measure(act, gain, predicted)` -> (signal factor, weight factor[, r2[, noise]]) for each arm."""
    runs = {}
    for act, preds in PREDICTED.items():
        for gain, pred in zip(ve.GAINS, preds, strict=True):
            runs[f"{act}-{gain:g}"] = _run(pred, *measure(act, gain, pred))
    return Results("vanish-explode", "quick", ve.PROFILES["quick"], (0, 1, 2), runs)


def test_arm_names_and_judged_arms():
    assert ve.ARMS == ("linear-0.5", "linear-1", "linear-2", "tanh-0.5", "tanh-1", "tanh-2", "relu-0.5", "relu-1",
                       "relu-2")  # fmt: skip
    r = _results(lambda act, gain, p: (p, p))
    assert ve.judged_arms(r) == ["linear-0.5", "linear-2", "tanh-0.5", "tanh-2", "relu-0.5", "relu-2"]


def test_supported_when_signal_and_weight_gradients_follow_the_factor():
    v = ve.decide(_results(lambda act, gain, p: (p, p)))
    assert v.kind == "supported"
    assert "3 seeds" in v.sentence and "relu-2 predicted ×2.00: signal ×2.00 ± 0.01" in v.sentence
    assert "CI ×" in v.sentence
    assert v.number == "signal 6/6, weight grads 6/6 as predicted"


def test_nuanced_when_the_weight_gradients_stay_flat():
    v = ve.decide(_results(lambda act, gain, p: (p, 1.0 if act != "tanh" or gain < 2 else p)))
    assert v.kind == "nuanced"
    assert "did not follow it in linear-0.5, linear-2, tanh-0.5, relu-0.5, relu-2" in v.sentence
    assert "about the same size" in v.sentence
    assert v.number == "signal 6/6, weight grads 1/6 as predicted"


def test_refuted_when_nothing_follows_the_factor():
    v = ve.decide(_results(lambda act, gain, p: (1.0, 1.0)))
    assert v.kind == "refuted"
    assert "Neither" in v.sentence and "signal ×1.00" in v.sentence


def test_a_change_that_is_not_exponential_fails():
    r = _results(lambda act, gain, p: (p, p, 0.5))  # the right overall factor, but not a straight line
    assert ve.part(r, "relu-2", "signal_factor") == ve.FAILS
    assert ve.part(r, "relu-2", "weight_factor") == ve.HOLDS
    assert ve.decide(r).kind == "nuanced"


def test_inconclusive_when_the_factors_are_noisy():
    r = _results(lambda act, gain, p: (p, p, 1.0, (-0.6, 0.0, 0.6)))  # log factors spread ±0.6 over seeds
    assert {ve.measured(r, a, "signal_factor")[0] for a in ve.judged_arms(r)} == {ve.UNCLEAR}
    v = ve.decide(r)
    assert v.kind == "inconclusive"
    assert "Too noisy" in v.sentence


def test_prediction_linear_and_relu_factor_is_the_gain():
    widths = [64] + [128] * 6
    for gain in (0.5, 1.0, 2.0):
        assert ve.predicted_factors("none", f"xavier:{gain}", widths, 64.0) == pytest.approx([gain] * 5, rel=1e-12)
        assert ve.predicted_factors("relu", f"he:{gain}", widths, 64.0) == pytest.approx([gain] * 5, rel=1e-12)


def test_prediction_tanh_small_signal_is_linear_and_gain_two_settles_at_a_fixed_point():
    assert ve.moments("tanh", 1e-8) == pytest.approx((1e-8, 1.0), rel=1e-6)
    small = ve.predicted_factors("tanh", "xavier:0.5", [64] + [64] * 30, 64.0)
    assert small[-1] == pytest.approx(0.5, rel=1e-6)
    big = ve.predicted_factors("tanh", "xavier:2", [64] + [64] * 60, 64.0)
    # the fixed point q* = 4·E[tanh²(√q*·z)] and the factor √(4·E[tanh'(√q*·z)²]) there
    q = 1.0
    for _ in range(500):
        q = 4 * ve.moments("tanh", q)[0]
    assert big[-1] == pytest.approx(math.sqrt(4 * ve.moments("tanh", q)[1]), rel=1e-6)
    assert 1.1 < big[-1] < 1.2


def test_moments_against_monte_carlo():
    z = np.random.default_rng(0).standard_normal(400_000) * math.sqrt(2.0)
    forward, slope = ve.moments("tanh", 2.0)
    assert forward == pytest.approx(np.mean(np.tanh(z) ** 2), abs=2e-3)
    assert slope == pytest.approx(np.mean((1 - np.tanh(z) ** 2) ** 2), abs=2e-3)


def test_per_layer_of_a_geometric_sequence_is_exact():
    factor, r2 = ve.per_layer([3.0 * 0.7 ** (10 - k) for k in range(10)])
    assert factor == pytest.approx(0.7, rel=1e-12)
    assert r2 == pytest.approx(1.0, abs=1e-12)


def test_layer_gradients_of_a_linear_net_follow_the_transposed_weights():
    torch.manual_seed(0)
    model = create("mlp", act="none", init="xavier", depth=4, width=16, input_size=4).double()
    x, y = torch.randn(32, 1, 4, 4, dtype=torch.float64), torch.randint(0, 10, (32,))
    signal, weight = ve.layer_gradients(model, x, y)
    assert len(signal) == len(weight) == 4
    hidden = [m for m in model.features if isinstance(m, ve.LinearNormAct)]
    # δ_{k−1} = W_kᵀ δ_k for a linear net: rebuild δ_3 from the head's gradient and check the norms down the chain
    h = x.flatten(1)
    outs = []
    for layer in hidden:
        h = layer(h)
        outs.append(h)
    logits = model.head(h)
    delta = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, y), outs[-1])[0]
    for k in range(3, -1, -1):
        assert float(delta.detach().norm()) == pytest.approx(signal[k], rel=1e-10)
        if k:
            delta = delta @ hidden[k].fc.weight  # (N, out) @ (out, in) -> (N, in)


def test_one_small_run_matches_the_prediction():
    ctx = Context("quick", {"depth": 8, "width": 64, "samples": 200})
    numbers = ve.run("relu-2", 0, ctx)
    assert numbers["predicted_factor"] == pytest.approx(2.0)
    assert numbers["signal_factor"] == pytest.approx(2.0, rel=0.1)
    assert numbers["weight_factor"] == pytest.approx(1.0, rel=0.15)
    assert len(numbers["signal_norms"]) == 8 and len(numbers["predicted_factors"]) == 7


def test_table_and_figures():
    r = _results(lambda act, gain, p: (p, 1.0))
    t = ve.table(r)
    assert len(t.rows) == 9 and t.rows[2][0] == "linear-2" and t.rows[2][5] == "explodes / explodes"
    figs = ve.figure(r)
    assert len(figs) == 2
    for fig in figs:
        assert len(fig.axes) == 3 and fig.axes[0].get_yscale() == "log"
        matplotlib.pyplot.close(fig)


def test_closed_form_study_with_anchors():
    study = get_study("vanish-explode")
    study._check_evidence()
    assert not study.trains and len(study.literature) == 4


def test_anchors_compare_with_the_prediction():
    arms = {}
    for arm in ve.ARMS:
        act, init = ve._arm(arm)
        gain = float(init.split(":")[1])
        signal = {"none": gain, "relu": gain}.get(act, 1.17 if gain == 2 else gain)
        arms[arm] = tuple({"signal_factor": signal, "weight_factor": 1.0, "predicted_factor": signal, "signal_r2": 1.0}
                          for _ in range(3))  # fmt: skip
    r = Results("vanish-explode", "quick", ve.PROFILES["quick"], (0, 1, 2), arms)
    comparisons = judge(ve.STUDY, r).comparisons
    assert [c.agrees for c in comparisons] == [True, True, True, True]
    off = {**arms, "relu-1": tuple({**row, "signal_factor": 1.5} for row in arms["relu-1"])}
    he = judge(ve.STUDY, Results("vanish-explode", "quick", ve.PROFILES["quick"], (0, 1, 2), off)).comparisons[1]
    assert he.agrees is False and "×1.500" in he.here
