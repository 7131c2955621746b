"""The chain-rule study's decision rule on synthetic results, its exact gradients, its table and figure."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import chain_rule as cr
from cnnlab.studies._base import Context

matplotlib.use("Agg")


def _arm(fz: float, fx: float) -> tuple[dict, ...]:
    values = [0.1, -0.2, 0.3]
    return tuple(
        {"max_err_fz": fz, "max_err_fx1": fx, "max_err_fx2": fx * 2, "max_err_fx": fx, "median_err_fx": fx / 10,
         "share_fx_within_tol": 0.0 if fx > cr.TOL else 1.0, "fx_reading": "x1", "autograd_dw1": values,
         "hand_dw1": values, "written_dw1": [v * 2 for v in values]}
        for _ in range(3)
    )  # fmt: skip


def _results(fz: float, fx: float) -> Results:
    return Results("chain-rule", "quick", cr.PROFILES["quick"], (0, 1, 2), {a: _arm(fz, fx) for a in cr.ARMS})


def test_nuanced_when_only_f_prime_of_z_matches():
    v = cr.decide(_results(2e-16, 0.4))
    assert v.kind == "nuanced"
    assert "2.0e-16 with f′(z), 4.0e-01 with f′(x)" in v.sentence and "3 seeds" in v.sentence
    assert "200 random neurons" in v.sentence


def test_supported_when_the_written_formula_matches():
    assert cr.decide(_results(2e-16, 3e-16)).kind == "supported"


def test_refuted_when_neither_matches():
    v = cr.decide(_results(1e-3, 0.4))
    assert v.kind == "refuted"
    assert "1.0e-03 with f′(z)" in v.sentence


def test_inconclusive_when_a_value_is_not_finite():
    v = cr.decide(_results(math.nan, 0.4))
    assert v.kind == "inconclusive"


def test_the_tolerance_is_a_boundary():
    assert cr.decide(_results(cr.TOL, 0.4)).kind == "nuanced"
    assert cr.decide(_results(cr.TOL * 1.01, 0.4)).kind == "refuted"


def test_autograd_matches_the_closed_form_of_a_sigmoid_neuron():
    v = cr.draw_neurons(50, seed=3)
    g = cr.autograd_gradients("sigmoid", v)
    z = v["w1"] * v["x1"] + v["w2"] * v["x2"] + v["b"]
    a = 1 / (1 + np.exp(-z))
    dl_dz = 2 * (a - v["target"]) * a * (1 - a)
    np.testing.assert_allclose(g["z"], dl_dz, rtol=1e-10)
    np.testing.assert_allclose(g["w1"], dl_dz * v["x1"], rtol=1e-10)
    np.testing.assert_allclose(g["b"], dl_dz, rtol=1e-10)


def test_written_formula_is_right_exactly_when_x_equals_z():
    """With w1 = 1, w2 = b = 0 the pre-activation z is x1, so f′(x1) = f′(z) and the written reading x1 agrees."""
    v = cr.draw_neurons(20, seed=1)
    v["w1"], v["w2"], v["b"] = np.ones(20), np.zeros(20), np.zeros(20)
    auto = cr.autograd_gradients("tanh", v)
    hand, dl_da, a = cr.hand_gradients("tanh", v)
    scale = cr.factor_scales(v, a)
    assert cr._errors(cr.written_gradients("tanh", v, dl_da, "x1"), auto, scale).max() <= 1e-15
    assert cr._errors(cr.written_gradients("tanh", v, dl_da, "x2"), auto, scale).max() > 1e-3
    assert cr._errors(hand, auto, scale).max() <= 1e-15


def test_factor_scales():
    v = {"x1": np.array([2.0]), "x2": np.array([-0.5]), "target": np.array([0.25])}
    s = cr.factor_scales(v, np.array([-0.75]))
    assert (s["w1"][0], s["w2"][0], s["b"][0], s["z"][0]) == (4.0, 1.0, 2.0, 2.0)


@pytest.mark.parametrize("arm", cr.ARMS)
def test_a_run_finds_f_prime_of_z_exact_and_f_prime_of_x_wrong(arm):
    out = cr.run(arm, 0, Context("quick", {"draws": 30}))
    assert out["max_err_fz"] <= 1e-14
    assert out["max_err_fx"] > 1e-3 and out["max_err_fx"] == min(out["max_err_fx1"], out["max_err_fx2"])
    assert len(out["autograd_dw1"]) == 30


def test_table_and_figure_draw_synthetic_results():
    r = _results(2e-16, 0.4)
    t = cr.table(r)
    assert [row[0] for row in t.rows] == list(cr.ARMS) and t.rows[0][1] == "2.0e-16"
    fig = cr.figure(r)
    assert len(fig.axes) == len(cr.ARMS) and fig.axes[0].get_xlabel() == "∂l/∂w1 by autograd"


def test_closed_form_study_with_anchors():
    study = get_study("chain-rule")
    study._check_evidence()
    assert not study.trains and len(study.literature) == 2
    row = {"max_err_fz": 3e-16, "max_err_fx": 0.9, "max_err_fx1": 0.9, "max_err_fx2": 0.95, "median_err_fx": 0.1,
           "share_fx_within_tol": 0.1}  # fmt: skip
    r = Results("chain-rule", "quick", cr.PROFILES["quick"], (0, 1, 2), {a: (row,) * 3 for a in cr.ARMS})
    j = judge(study, r)
    assert j.verdict.kind == "nuanced" and [c.agrees for c in j.comparisons] == [True, True]
