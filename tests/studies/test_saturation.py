"""The saturation study's exact values, its decision rule on synthetic results, and one short run."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import saturation as sat
from cnnlab.studies._base import Context

matplotlib.use("Agg")

WOBBLE = (-0.01, 0.0, 0.01)  # per-seed shift of the sensitivity drop


def _arm(drop: float, spread=WOBBLE, accuracy=0.95, start=0.9) -> tuple[dict, ...]:
    return tuple(
        {"drop": drop + w, "drop_layer": 4, "top_mean_init": 0.5, "top_mean_end": 0.2, "test_accuracy": accuracy,
         "train_loss": [2.3, 2.3], "sensitivity_init": [start] * 4, "sensitivity_end": [start - drop] * 4,
         "steps": [0, 10, 20], "layer_mean": [[0.5] * 4, [0.4] * 4, [0.2] * 4], "saturated_end": 0.0,
         "above1_below099": 0.99}
        for w in spread
    )  # fmt: skip


def _results(sigmoid=0.4, tanh=0.35, spread=WOBBLE, accuracy=0.95, start=0.9) -> Results:
    runs = {arm: _arm(sigmoid if arm.startswith("sigmoid") else tanh, spread, accuracy, start) for arm in sat.ARMS}
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


def test_layer_stats_read_sensitivity_from_the_outputs():
    model = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Sigmoid())
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.0], [100.0]]))
        model[0].bias.zero_()
    stats = sat.layer_stats("sigmoid", model, torch.tensor([[1.0], [2.0]]))
    assert stats["mean"] == [pytest.approx(0.75)]  # one unit at σ(0) = 0.5, the other at σ(≥ 100) = 1
    assert stats["sensitivity"] == [pytest.approx(0.5)]  # 4·½·½ = 1 and 4·1·0 = 0
    assert stats["saturated"] == [pytest.approx(0.5)]
    assert sat.sensitivity("tanh", torch.tensor([0.0, 1.0])).tolist() == [1.0, 0.0]


def test_nuanced_when_both_saturate_but_the_wording_is_wrong():
    v = sat.decide(_results())
    assert v.kind == "nuanced"
    assert "σ(1) = 0.731" in v.sentence and "3 seeds" in v.sentence and "0.40 ± 0.01" in v.sentence
    assert "sigmoid is 1.0 above 1 and 0.0 below 0: fails" in v.sentence


def test_refuted_when_nothing_saturates():
    v = sat.decide(_results(sigmoid=0.0, tanh=0.01))
    assert v.kind == "refuted"
    assert v.sentence.startswith("Neither function saturated") and "0.00 ± 0.01" in v.sentence


def test_inconclusive_when_the_drop_is_noisy():
    v = sat.decide(_results(sigmoid=0.3, tanh=0.3, spread=(-0.3, 0.0, 0.3)))
    assert v.kind == "inconclusive"
    assert "sigmoid saturates in training: undecided" in v.sentence


def test_supported_only_if_the_wording_were_within_tolerance(monkeypatch):
    monkeypatch.setattr(sat, "WORDING_TOL", 0.6)  # the exact miss is 0.5: only a loose tolerance passes it
    assert sat.decide(_results()).kind == "supported"


def test_judged_with_competence_and_premise():
    met = judge(sat.STUDY, _results())
    assert met.competent and met.premise_met and met.verdict.kind == "nuanced"
    assert [c.agrees for c in met.comparisons] == [True, True]
    under = judge(sat.STUDY, _results(accuracy=0.80))  # the Xavier tanh net did not learn the digits
    assert under.verdict.kind == "inconclusive" and under.verdict.sentence.startswith("Undertrained:")
    assert "80.0%" in under.verdict.sentence
    absent = judge(sat.STUDY, _results(start=0.5))  # the layers start half saturated
    assert absent.verdict.kind == "inconclusive" and absent.verdict.sentence.startswith("Premise absent:")


def test_declares_its_evidence():
    study = get_study("saturation")
    study._check_evidence()
    assert study.version == 2 and study.revisions[-1].version == 2 and len(study.literature) == 2


def test_table_and_figures():
    r = _results()
    t = sat.table(r)
    assert [row[:2] for row in t.rows] == [("sigmoid", "standard"), ("tanh", "standard"), ("sigmoid", "xavier"),
                                           ("tanh", "xavier")]  # fmt: skip
    assert t.rows[0][4] == "0.40 ± 0.01" and t.rows[0][7] == "2.30"
    figs = sat.figure(r)
    assert len(figs) == 2 and all(f.axes[0].get_xlabel() and f.axes[0].get_ylabel() for f in figs)


def test_one_short_run():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tiny = {**sat.PROFILES["quick"], "epochs": 1, "width": 16, "probe": 50, "every": 50}
        n = sat.run("sigmoid", 0, Context("quick", tiny))
    finally:
        torch.set_num_threads(threads)
    assert n["steps"][0] == 0 and n["steps"][1] == 50 and n["steps"][-1] == 145  # 1,442 digits / batch 10
    assert len(n["layer_mean"]) == len(n["steps"]) and len(n["layer_mean"][0]) == 4
    assert 0 < n["sensitivity_init"][0] <= 1 and 1 <= n["drop_layer"] <= 4
    assert n["drop"] == pytest.approx(
        max(a - b for a, b in zip(n["sensitivity_init"], n["sensitivity_end"], strict=True))
    )
    assert 0 <= n["above1_below099"] <= 1 and len(n["train_loss"]) == 1
