"""The saturation study's exact values, its decision rule on synthetic results, and one short run."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from cnnlab.diagnostics import LayerRecord
from cnnlab.studies import Results
from cnnlab.studies import saturation as sat
from cnnlab.studies._base import Context

matplotlib.use("Agg")

WOBBLE = (-0.01, 0.0, 0.01)  # per-seed shift of the end share


def _arm(init: float, end: float, spread=WOBBLE) -> tuple[dict, ...]:
    return tuple(
        {"init": init, "end": end + w, "steps": [0, 10, 20], "saturated": [init, (init + end) / 2, end + w],
         "above1_below099": 0.99, "above1_share": 0.2, "abs_pre_median": 1.0, "test_accuracy": 0.9}
        for w in spread
    )  # fmt: skip


def _results(sigmoid=(0.0, 0.30), tanh=(0.0, 0.25), spread=WOBBLE) -> Results:
    runs = {"sigmoid": _arm(*sigmoid, spread), "tanh": _arm(*tanh, spread)}
    return Results("saturation", "quick", sat.PROFILES["quick"], (0, 1, 2), runs)


def test_exact_values():
    e = sat.exact()
    assert e["sigmoid(1)"] == pytest.approx(1 / (1 + math.exp(-1)))
    assert e["sigmoid(1)"] == pytest.approx(0.7311, abs=1e-4)
    assert e["sigmoid(0)"] == 0.5
    assert e["sigmoid(-1)"] == pytest.approx(1 - e["sigmoid(1)"])
    assert e["max dsigmoid"] == pytest.approx(0.25)
    assert e["max dtanh"] == pytest.approx(1.0)
    assert e["wording miss"] == 0.5  # σ just below 0 is ½, not 0.0


def test_sensitive_windows_bound_the_derivative_at_one_percent():
    ws, wt = sat.sensitive_window("sigmoid"), sat.sensitive_window("tanh")
    assert ws == pytest.approx(2 * wt)
    assert wt == pytest.approx(2.9932, abs=1e-4)
    s = sat.sigmoid(ws)
    assert s * (1 - s) == pytest.approx(0.01 * 0.25, rel=1e-9)
    assert 1 - math.tanh(wt) ** 2 == pytest.approx(0.01, rel=1e-9)
    # the diagnostics' saturation mask agrees: just inside the window not saturated, just outside saturated
    from cnnlab.diagnostics._layers import saturated

    y = torch.sigmoid(torch.tensor([ws - 1e-3, ws + 1e-3], dtype=torch.float64))
    assert saturated(torch.nn.Sigmoid(), y, 0.01).tolist() == [False, True]


def test_saturation_curve_means_the_activation_layers_per_step():
    records = [
        LayerRecord(0, "a", "Sigmoid", 1, saturated_fraction=0.1),
        LayerRecord(0, "b", "Sigmoid", 3, saturated_fraction=0.3),
        LayerRecord(0, "fc", "Linear", 0, grad_norm=1.0),
        LayerRecord(10, "a", "Sigmoid", 1, saturated_fraction=0.5),
        LayerRecord(10, "b", "Sigmoid", 3, saturated_fraction=0.7),
    ]
    steps, curve = sat.saturation_curve(records)
    assert steps == [0, 10]
    assert curve == pytest.approx([0.2, 0.6])


def test_nuanced_when_both_saturate_but_the_wording_is_wrong():
    v = sat.decide(_results())
    assert v.kind == "nuanced"
    assert "σ(1) = 0.731" in v.sentence and "3 seeds" in v.sentence and "30.0 ± 1.0%" in v.sentence
    assert "sigmoid is 1.0 above 1 and 0.0 below 0: fails" in v.sentence


def test_refuted_when_nothing_saturates():
    v = sat.decide(_results(sigmoid=(0.0, 0.0), tanh=(0.001, 0.002)))
    assert v.kind == "refuted"
    assert "0.0 ± 1.0%" in v.sentence


def test_inconclusive_when_the_rise_is_noisy():
    v = sat.decide(_results(sigmoid=(0.0, 0.08), tanh=(0.0, 0.08), spread=(-0.08, 0.0, 0.08)))
    assert v.kind == "inconclusive"
    assert "sigmoid saturates in training: undecided" in v.sentence


def test_supported_only_if_the_wording_were_within_tolerance(monkeypatch):
    monkeypatch.setattr(sat, "WORDING_TOL", 0.6)  # the exact miss is 0.5: only a loose tolerance passes it
    assert sat.decide(_results()).kind == "supported"


def test_table_and_figures():
    r = _results()
    t = sat.table(r)
    assert [row[0] for row in t.rows] == ["sigmoid", "tanh"]
    assert t.rows[0][1] == "0.250" and t.rows[1][2] == "|x| ≤ 2.99"
    figs = sat.figure(r)
    assert len(figs) == 2 and all(f.axes[0].get_xlabel() and f.axes[0].get_ylabel() for f in figs)


def test_one_short_run():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        n = sat.run("sigmoid", 0, Context("quick", {**sat.PROFILES["quick"], "epochs": 1}))
    finally:
        torch.set_num_threads(threads)
    assert n["steps"][0] == 0 and n["steps"][1] == sat.EVERY
    assert len(n["saturated"]) == len(n["steps"])
    assert 0 <= n["init"] <= 1 and 0 <= n["end"] <= 1
    assert n["end"] == pytest.approx(np.mean(n["saturated"][-sat.END_SAMPLES :]))
    assert 0 <= n["above1_below099"] <= 1
