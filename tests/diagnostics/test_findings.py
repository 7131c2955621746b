"""The conclusions: real training runs that vanish, explode, die or saturate are flagged, their cures are not;
and each rule, on records made by hand, fires exactly at its documented threshold."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import cnnlab
from cnnlab.diagnostics import Diagnostics, LayerRecord, Thresholds, depth_ratio, find_problems, format_findings


def _run(model, optimizer, loop, digits, steps: int, every: int = 2) -> Diagnostics:
    with Diagnostics(model, optimizer, every=every) as diag:
        loop(model, optimizer, digits, steps)
    return diag


def _codes(diag: Diagnostics) -> set[str]:
    return {f.code for f in diag.findings()}


def _last(diag: Diagnostics, field: str) -> dict[str, float]:
    last = max(r.step for r in diag.records)
    return {r.layer: getattr(r, field) for r in diag.records if r.step == last and getattr(r, field) is not None}


# -- training runs -------------------------------------------------------------------------------------------------
def test_deep_sigmoid_mlp_vanishes_and_relu_with_batch_norm_does_not(digits, loop):
    sigmoid = cnnlab.create("mlp", depth=20, act="sigmoid", input_size=8)
    diag = _run(sigmoid, torch.optim.SGD(sigmoid.parameters(), lr=0.1), loop, digits, 8)
    (vanishing,) = (f for f in diag.findings() if f.code == "vanishing")
    assert vanishing.layers == ("features.1.fc", "head.fc")
    assert "ReLU" in vanishing.cure and "batch normalization" in vanishing.cure
    steps = sorted({r.step for r in diag.records})
    assert all(depth_ratio([r for r in diag.records if r.step == s]) < 1e-6 for s in steps)

    relu_bn = cnnlab.create("mlp", depth=20, act="relu", norm="batch", input_size=8)
    diag = _run(relu_bn, torch.optim.SGD(relu_bn.parameters(), lr=0.1), loop, digits, 8)
    assert _codes(diag) == set()
    assert all(1e-2 < depth_ratio([r for r in diag.records if r.step == s]) < 1e2 for s in steps)


def _plain_relu_mlp(init_gain: float | None) -> nn.Module:
    model = cnnlab.create("mlp", depth=10, width=64, act="relu", input_size=8)
    if init_gain is not None:
        for module in model.modules():
            if isinstance(module, nn.Linear):  # He init scaled up: every layer multiplies the signal by init_gain
                nn.init.normal_(module.weight, std=init_gain * math.sqrt(2 / module.in_features))
    return model


def test_large_init_without_normalization_at_high_lr_explodes(digits, loop):
    model = _plain_relu_mlp(init_gain=3.0)
    diag = _run(model, torch.optim.SGD(model.parameters(), lr=1.0), loop, digits, 12)
    exploding = [f for f in diag.findings() if f.code == "exploding"]
    assert exploding and "clip gradients" in exploding[0].cure

    control = _plain_relu_mlp(init_gain=None)  # PyTorch's default init and a modest learning rate
    diag = _run(control, torch.optim.SGD(control.parameters(), lr=0.01), loop, digits, 12)
    assert "exploding" not in _codes(diag)
    assert all(math.isfinite(r.grad_norm) for r in diag.records if r.grad_norm is not None)


def test_huge_lr_kills_relus_and_leaves_leaky_relus_alive(digits, loop):
    dead = {}
    for act in ("relu", "leaky_relu"):
        torch.manual_seed(0)
        model = cnnlab.create("mlp", depth=3, width=64, act=act, input_size=8)
        diag = _run(model, torch.optim.Adam(model.parameters(), lr=1.0), loop, digits, 20)
        dead[act] = (_last(diag, "dead_fraction"), _codes(diag), diag)
    relu, relu_codes, _ = dead["relu"]
    assert set(relu) == {"features.1.act", "features.2.act", "features.3.act"}
    assert min(relu.values()) >= 0.9  # nearly every unit outputs 0 for the whole batch
    assert "dead_relu" in relu_codes
    leaky, leaky_codes, leaky_diag = dead["leaky_relu"]
    assert set(leaky) == set(relu)
    assert all(r.dead_fraction == 0.0 for r in leaky_diag.records if r.dead_fraction is not None)
    assert "dead_relu" not in leaky_codes
    assert min(_last(leaky_diag, "negative_fraction").values()) > 0.5  # where ReLU units would be dead


def test_large_tanh_weights_saturate_and_default_init_does_not(digits, loop):
    fractions = {}
    for scale in (10.0, 1.0):
        torch.manual_seed(0)
        model = cnnlab.create("mlp", depth=3, width=64, act="tanh", input_size=8)
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, nn.Linear):
                    module.weight.mul_(scale)
        diag = _run(model, torch.optim.SGD(model.parameters(), lr=0.01), loop, digits, 6)
        fractions[scale] = (_last(diag, "saturated_fraction"), _codes(diag))
    assert min(fractions[10.0][0].values()) > 0.3 and "saturation" in fractions[10.0][1]
    assert max(fractions[1.0][0].values()) < 0.05 and "saturation" not in fractions[1.0][1]


# -- the rules on records made by hand ----------------------------------------------------------------------------
def _step(step: int, grads: list[float], **activation) -> list[LayerRecord]:
    rows = [LayerRecord(step, f"fc{d}", "Linear", d, grad_norm=g, weight_norm=1.0) for d, g in enumerate(grads)]
    if activation:
        rows.append(LayerRecord(step, "act", "ReLU", len(grads), **activation))
    return rows


def test_depth_ratio_is_median_of_first_over_median_of_last_quarter():
    rows = _step(0, [1e-6, 3e-6, 2e-6, 1.0, 1.0, 1.0, 1.0, 1.0, 4.0, 2.0, 3.0, 5.0])  # 12 layers: quarters of 3
    assert depth_ratio(rows) == pytest.approx(2e-6 / 3.0)
    assert depth_ratio(_step(0, [2.0, 8.0])) == 0.25  # one layer each
    assert depth_ratio(_step(0, [1.0])) is None
    assert depth_ratio(_step(0, [1.0, 0.0])) is None  # the last layers have no gradient: cannot judge


def test_vanishing_fires_below_its_threshold_on_enough_recent_steps():
    def run(ratios):
        return [row for s, r in enumerate(ratios) for row in _step(s, [r, r, 1.0, 1.0])]

    assert [f.code for f in find_problems(run([1e-4] * 5))] == ["vanishing"]
    assert find_problems(run([2e-3] * 5)) == ()  # above the 1e-3 threshold
    assert find_problems(run([1e-4, 1.0, 1.0, 1.0, 1.0, 1e-4])) == ()  # 1 of the last 5 steps
    assert [f.steps for f in find_problems(run([1.0, 1.0, 1e-4, 1e-4, 1e-4]))] == [(2, 3, 4)]  # 3 of 5
    assert find_problems(run([1e-2] * 5), Thresholds(vanishing_ratio=0.1))[0].code == "vanishing"
    assert find_problems(run([1e4] * 5))[0].code == "exploding"


def test_growth_over_steps_must_rise_at_every_step_by_the_total_factor():
    def run(totals):
        return [row for s, t in enumerate(totals) for row in _step(s, [t, t])]

    (finding,) = find_problems(run([1.0, 10.0, 100.0, 1000.0]))
    assert finding.code == "exploding" and finding.steps == (0, 1, 2, 3) and "grew 1e+03×" in finding.message
    assert find_problems(run([1.0, 10.0, 5.0, 1000.0])) == ()  # not rising at every step
    assert find_problems(run([1.0, 2.0, 4.0, 8.0])) == ()  # rising, but only 8×


def test_non_finite_gradients_or_weights_are_exploding():
    records = _step(0, [1.0, 1.0]) + _step(1, [1.0, math.inf]) + _step(2, [math.nan, math.nan])
    (finding,) = find_problems(records)
    assert finding.code == "exploding" and finding.steps == (1,) and finding.layers == ("fc1",)
    weights = [LayerRecord(0, "fc", "Linear", 0, grad_norm=1.0, weight_norm=math.nan)]
    assert find_problems(weights)[0].layers == ("fc",)


def test_dead_and_saturation_fire_at_their_thresholds():
    def run(**activation):
        return [row for s in range(5) for row in _step(s, [1.0, 1.0], **activation)]

    (dead,) = find_problems(run(dead_fraction=0.5))
    assert dead.code == "dead_relu" and dead.layers == ("act",) and "act 50%" in dead.message
    assert "Leaky ReLU" in dead.cure and "smaller learning rate" in dead.cure
    assert find_problems(run(dead_fraction=0.49)) == ()
    (sat,) = find_problems(run(saturated_fraction=0.3))
    assert sat.code == "saturation" and "ReLU" in sat.cure and "batch normalization" in sat.cure
    assert find_problems(run(saturated_fraction=0.29)) == ()
    assert find_problems(run(saturated_fraction=0.29), Thresholds(saturated_fraction=0.2))[0].code == "saturation"


def test_format_findings_gives_a_warning_line_and_a_cure_line_each():
    records = [row for s in range(3) for row in _step(s, [1e-9, 1.0], dead_fraction=1.0)]
    text = format_findings(find_problems(records)).splitlines()
    assert [line.split(":")[0] for line in text] == ["warning", "  cure", "warning", "  cure"]
    assert text[0].startswith("warning: vanishing: gradients vanish toward the input")
    assert format_findings(()) == "diagnostics: no vanishing or exploding gradients, dead ReLUs or saturation found"
