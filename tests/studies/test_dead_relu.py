"""The dead-relu study's unit counting, its decision rule on synthetic results, and short runs."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import dead_relu as dr
from cnnlab.studies._activation import activation_outputs, unit_masks
from cnnlab.studies._base import Context

matplotlib.use("Agg")

WOBBLE = (-0.01, 0.0, 0.01)  # per-seed shift, shared by the arms (paired)


def _arm(dead: float, stuck: float, mid: float = 20, back: float = 0, diverged=(False,) * 3, spread=WOBBLE,
         born=0.03, accuracy=0.95):  # fmt: skip
    return tuple(
        {"dead": [born, dead], "stuck": [born, stuck], "dead_init": born,
         "dead_end": math.nan if d else dead + w, "stuck_end": math.nan if d else stuck + w,
         "dead_final": dead + w, "stuck_final": stuck + w,
         "stuck_mid": math.nan if d else mid, "recovered_units": math.nan if d else back,
         "recovered": math.nan if d else back / mid, "test_accuracy": math.nan if d else accuracy, "diverged": d}
        for w, d in zip(spread, diverged, strict=True)
    )  # fmt: skip


def _results(relu_high=(0.40, 0.40), leaky_high=(0.0, 0.02), back=0, lo=(0.05, 0.05), top_diverges=True, born=0.03,
             accuracy=0.95, **over):  # fmt: skip
    runs = {}
    for arm in dr.ARMS:
        act, lr = dr.split_arm(arm)
        div = (True, False, True) if lr == dr.HIGH and top_diverges else (False,) * 3
        high = relu_high if act == "relu" else leaky_high
        if lr == dr.HIGH:
            runs[arm] = _arm(*high, back=back if act == "relu" else 0, diverged=div, born=born, accuracy=accuracy)
        else:
            runs[arm] = _arm(*(lo if act == "relu" else (0.0, lo[1])), back=back if act == "relu" else 0, born=born,
                             accuracy=accuracy)  # fmt: skip
    runs.update(over)
    return Results("dead-relu", "quick", dr.PROFILES["quick"], (0, 1, 2), runs)


def test_masks_count_dead_and_stuck_units_exactly():
    y = torch.tensor([[0.0, 0.0, -1.0, 2.0], [0.0, -0.5, 0.0, 0.0], [0.0, 0.0, float("nan"), 1.0]])  # (N=3, C=4)
    dead, stuck = unit_masks([(y, y)])
    assert dead.tolist() == [True, False, False, False]
    assert stuck.tolist() == [True, True, False, False]  # unit 2 holds a NaN: nothing is proven about it


def test_activation_outputs_see_every_activation_in_order():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(inplace=True), nn.Linear(3, 2), nn.LeakyReLU())
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]]))
        model[0].bias.copy_(torch.tensor([0.0, 0.0, -1.0]))
    outs = activation_outputs(model, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert len(outs) == 2 and outs[0][1].shape == (2, 3) and outs[1][1].shape == (2, 2)
    dead, _ = unit_masks(outs[:1])
    assert dead.tolist() == [False, True, True]
    assert model.training  # eval mode only inside


def test_recovered_and_pooled_recovery():
    mid = torch.tensor([True, True, False, True])
    end = torch.tensor([True, False, False, False])
    assert dr.recovered(mid, end) == (3, 2)
    r = _results(back=4)  # 4 of 20 per finished rate
    assert dr.pooled_recovery(r) == pytest.approx([0.2, 0.2, 0.2])


def test_supported_when_relus_die_stay_dead_and_leaky_stays_alive():
    v = dr.decide(_results())
    assert v.kind == "supported"
    assert (
        "40.0 ± 1.0% at lr 1" in v.sentence and "2 of 3 ReLU and 2 of 3 Leaky ReLU runs at lr 1 diverged" in v.sentence
    )
    assert "3 seeds" in v.sentence


def test_diverged_runs_count_with_their_last_finite_state():
    # every ReLU run at lr 1 diverged, yet its final nets are counted, not dropped
    every = _arm(0.6, 0.6, diverged=(True,) * 3)
    v = dr.decide(_results(**{f"relu-{dr.HIGH:g}": every}))
    assert "60.0 ± 1.0% at lr 1" in v.sentence and "3 of 3 ReLU" in v.sentence
    assert v.kind == "supported"


def test_nuanced_when_leaky_units_get_stuck_as_often():
    v = dr.decide(_results(leaky_high=(0.0, 0.40)))
    assert v.kind == "nuanced"
    assert "Leaky ReLU keeps units alive: fails" in v.sentence


def test_refuted_when_nothing_dies_and_dead_units_come_back():
    v = dr.decide(_results(relu_high=(0.02, 0.02), back=10))  # half of the units dead after epoch 1 recover
    assert v.kind == "refuted"
    assert "50.0 ± 0.0% came back" in v.sentence


def test_inconclusive_when_recovery_is_noisy_and_the_rest_fails():
    r = _results(relu_high=(0.02, 0.02), top_diverges=False)
    runs = dict(r.runs)
    for lr in dr.LRS:  # pooled recovery per seed: 0%, 10%, 30% of the units dead after epoch 1
        arm = f"relu-{lr:g}"
        runs[arm] = tuple({**row, "recovered_units": b} for row, b in zip(runs[arm], (0, 2, 6), strict=True))
    v = dr.decide(Results(r.study, r.profile, r.params, r.seeds, runs))
    assert v.kind == "inconclusive"
    assert "dead ReLUs stay dead: undecided" in v.sentence and "13.3 ± 15.3% came back" in v.sentence


def test_judged_with_competence_and_premise():
    met = judge(dr.STUDY, _results())
    assert met.competent and met.premise_met and met.verdict.kind == "supported"
    under = judge(dr.STUDY, _results(accuracy=0.85))
    assert under.verdict.kind == "inconclusive" and under.verdict.sentence.startswith("Undertrained:")
    assert "85.0%" in under.verdict.sentence
    absent = judge(dr.STUDY, _results(born=0.3))  # the net is born with 30% of its units dead
    assert absent.verdict.kind == "inconclusive" and absent.verdict.sentence.startswith("Premise absent:")


def test_declares_its_evidence():
    study = get_study("dead-relu")
    study._check_evidence()
    assert study.version == 2 and [r.version for r in study.revisions] == [1, 1, 1, 2]


def test_table_and_figures():
    r = _results()
    t = dr.table(r)
    assert len(t.rows) == 15 and t.rows[0][:2] == ("relu", "0.01")
    assert t.rows[4][3] == "40.0 ± 1.0" and t.rows[4][-1] == "2"  # lr 1: diverged runs count with their last state
    figs = dr.figure(r)
    assert len(figs) == 2 and all(f.axes[0].get_xlabel() == "learning rate (plain SGD)" for f in figs)


@pytest.mark.parametrize(("arm", "diverges"), [("relu-0.1", False), ("elu-1", True)])
def test_short_runs(arm, diverges):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        n = dr.run(arm, 0, Context("quick", {**dr.PROFILES["quick"], "epochs": 2}))
    finally:
        torch.set_num_threads(threads)
    assert n["diverged"] is diverges
    if diverges:
        assert math.isnan(n["dead_end"]) and math.isnan(n["test_accuracy"])
        assert 0 <= n["dead_final"] <= n["stuck_final"] <= 1  # the last finite net is still probed
    else:
        assert len(n["dead"]) == 3 and 0 <= n["dead_end"] <= 1 and n["dead_end"] == n["stuck_end"]  # ReLU: same
        assert 0 <= n["recovered_units"] <= n["stuck_mid"] <= 4 * 64
        assert np.isfinite(n["test_accuracy"])
