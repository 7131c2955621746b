"""The descent study's decision rule on synthetic results (one test per verdict kind), its table and figures,
and one short real run of its cheap arms."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from cnnlab.studies import Context, Results, get_study, judge
from cnnlab.studies import descent as d

matplotlib.use("Agg")
SEEDS = (0, 1, 2)
PARAMS = d.PROFILES["quick"]


def _run(arm: str, loss: float, up: float, noise: float, k: int, acc: float = 0.95) -> dict:
    marks = np.array([0.0, 1.0, 2.0])
    return {
        "batch": {"full": 1442, "sgd": 1, "mini64": 64}[arm],
        "loss_at_samples": loss,
        "loss_at_steps": 0.3,
        "up_fraction": up,
        "noise": noise,
        "step_ms": 1.0,
        "steps": 10,
        "test_accuracy": acc,
        "step_loss": list(np.linspace(2.3, 0.3, PARAMS["window"] + 1)),
        "mark_epochs": marks,
        "mark_steps": marks * 10,
        "mark_seconds": marks * 0.1 + 0.01 * k,
        "mark_loss": [2.3, 1.0, loss],
    }


def _results(loss, up, noise, acc: float = 0.95) -> Results:
    """loss/up/noise: arm -> one value per seed; acc: every run's test accuracy."""
    runs = {arm: tuple(_run(arm, loss[arm][k], up[arm][k], noise[arm][k], k, acc) for k in range(3)) for arm in d.ARMS}
    return Results("descent", "quick", PARAMS, SEEDS, runs)


ORDERED = {"full": [1e-7] * 3, "sgd": [6.7, 6.5, 6.6], "mini64": [0.82, 0.8, 0.83]}


GD_TRAILS = {"full": [2.3, 2.31, 2.29], "sgd": [0.2] * 3, "mini64": [1.5, 1.55, 1.45]}
SGD_ZIGZAGS = {"full": [0, 0, 0], "sgd": [0.42, 0.4, 0.44], "mini64": [0.01, 0.02, 0.01]}
ALL_STEADY = {"full": [0, 0, 0], "sgd": [0.02, 0.03, 0.02], "mini64": [0.02, 0.02, 0.02]}


def test_supported():
    v = d.decide(_results(GD_TRAILS, SGD_ZIGZAGS, ORDERED))
    assert v.kind == "supported"
    assert "2.30 ± 0.01" in v.sentence and "3 seeds" in v.sentence and "6.60 ± 0.10" in v.sentence


def test_refuted_when_gd_keeps_up_and_sgd_is_steady():
    v = d.decide(_results({"full": [1.50, 1.51, 1.49], "sgd": [0.2] * 3, "mini64": [1.5, 1.5, 1.5]},
                          ALL_STEADY, {"full": [1e-7] * 3, "sgd": [0.5] * 3, "mini64": [0.8] * 3}))  # fmt: skip
    assert v.kind == "refuted"
    assert "1.50 ± 0.01" in v.sentence


def test_nuanced_when_only_the_cost_shows():
    v = d.decide(_results(GD_TRAILS, ALL_STEADY, ORDERED))
    assert v.kind == "nuanced"
    assert "cost" in v.sentence and "zigzag" in v.sentence


def test_inconclusive_when_noisy():
    noisy_loss = {"full": [2.3, 1.0, 2.0], "sgd": [0.2] * 3, "mini64": [1.5, 1.9, 0.9]}
    noisy_up = {"full": [0, 0, 0], "sgd": [0.42, 0.0, 0.3], "mini64": [0.01, 0.3, 0.01]}
    v = d.decide(_results(noisy_loss, noisy_up, ORDERED))
    assert v.kind == "inconclusive"
    assert "Too noisy" in v.sentence


def test_table_and_figures():
    r = _results({"full": [2.3] * 3, "sgd": [0.2] * 3, "mini64": [1.5] * 3},
                 {"full": [0] * 3, "sgd": [0.4] * 3, "mini64": [0.01] * 3}, ORDERED)  # fmt: skip
    t = d.table(r)
    assert len(t.rows) == 3 and t.rows[0][1] == "1442"
    figs = d.figure(r)
    assert len(figs) == 5
    import matplotlib.pyplot as plt

    plt.close("all")


def test_run_records_loss_at_equal_samples():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        params = {**PARAMS, "epochs": {"full": 3, "sgd": 1, "mini64": 2}, "window": 3, "draws": 4}
        out = d.run("mini64", 0, Context("quick", params))
        full = d.run("full", 0, Context("quick", params))
    finally:
        torch.set_num_threads(threads)
    assert full["steps"] == 3 and out["steps"] == 2 * 23
    assert len(out["step_loss"]) == 4 and 0 <= out["up_fraction"] <= 1
    assert full["noise"] < 1e-4 < out["noise"]
    assert out["mark_epochs"][-1] == pytest.approx(2.0) and len(full["mark_epochs"]) == 4
    # the same initial weights in both arms: the loss before the first step is the same
    assert out["step_loss"][0] == pytest.approx(full["step_loss"][0])


def test_judge_undertrained_when_the_mini_batch_net_did_not_learn():
    j = judge(d.STUDY, _results(GD_TRAILS, SGD_ZIGZAGS, ORDERED, acc=0.5))
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")
    assert "mini-batch GD (batch 64) reached 50.0%" in j.verdict.sentence


def test_judge_keeps_the_rule_when_competent():
    j = judge(d.STUDY, _results(GD_TRAILS, SGD_ZIGZAGS, ORDERED))
    assert j.competent and j.verdict.kind == "supported"
    assert [c.agrees for c in j.comparisons] == [True]


def test_evidence_is_declared():
    get_study("descent")._check_evidence()
