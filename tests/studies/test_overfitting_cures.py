"""The overfitting-cures study's decision rule on synthetic results, its strength rules, table, figures and one run."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from cnnlab.models import create
from cnnlab.studies import Results
from cnnlab.studies import overfitting_cures as oc
from cnnlab.studies._base import Context
from cnnlab.studies.l1_vs_l2 import init_mean_abs

matplotlib.use("Agg")

BASE = (0.99, 0.65)  # train, test accuracy of the baseline: a 34-point gap
JITTER = (-0.004, 0.0, 0.004)  # per-seed wobble of test accuracy, identical across arms unless an arm adds noise


def _arm(train: float, test: float, noise=(0.0, 0.0, 0.0), params: int = 1000) -> tuple[dict, ...]:
    return tuple(
        {"train_accuracy": train, "test_accuracy": test + j + e, "gap": train - (test + j + e), "params": params}
        for j, e in zip(JITTER, noise, strict=True)
    )


def _results(cures: dict[str, tuple], base: tuple = BASE) -> Results:
    runs = {"baseline": _arm(*base)}
    runs.update({c: _arm(*cures[c]) for c in oc.CURES})
    return Results("overfitting-cures", "quick", oc.PROFILES["quick"], (0, 1, 2), runs)


def _all(value) -> dict[str, tuple]:
    return {c: value for c in oc.CURES}


def test_supported_when_every_cure_cuts_the_gap():
    v = oc.decide(_results(_all((0.95, 0.70))))  # gap 25 instead of 34, test +5
    assert v.kind == "supported"
    assert "pts" in v.sentence and "3 seeds" in v.sentence and "34.0" in v.sentence
    assert v.number == "7/7 cures cut the gap"


def test_nuanced_when_some_cure_and_some_do_not():
    cures = _all((0.95, 0.70))
    cures["l1"] = cures["l2"] = (0.99, 0.65)  # exactly the baseline: gap change 0 ± 0, negligible
    v = oc.decide(_results(cures))
    assert v.kind == "nuanced"
    assert "did not: l1" in v.sentence and "l2" in v.sentence
    assert v.number == "5/7 cures cut the gap"


def test_refuted_when_no_cure_changes_the_gap():
    v = oc.decide(_results(_all((0.99, 0.655))))  # gap 0.5 points smaller: within ±3
    assert v.kind == "refuted"
    assert "3 points" in v.sentence


def test_a_gap_closed_by_losing_test_accuracy_is_no_cure():
    cures = _all((0.99, 0.65))
    cures["dropout"] = (0.70, 0.55)  # gap 15 but test −10 points
    r = _results(cures)
    kind, gap, test = oc.reading(r, "dropout")
    assert kind == "underfit" and gap.mean < 0 and test.mean < 0
    v = oc.decide(r)
    assert v.kind == "refuted"
    assert "dropout closed it only by losing test accuracy" in v.sentence


def test_inconclusive_when_the_gap_changes_are_noisy():
    noisy = (0.95, 0.67)
    runs = {"baseline": _arm(*BASE)}
    runs.update({c: _arm(*noisy, noise=(-0.15, 0.02, 0.12)) for c in oc.CURES})
    r = Results("overfitting-cures", "quick", oc.PROFILES["quick"], (0, 1, 2), runs)
    assert {oc.reading(r, c)[0] for c in oc.CURES} == {"unclear"}
    v = oc.decide(r)
    assert v.kind == "inconclusive"
    assert "unclear: augment" in v.sentence


def test_inconclusive_when_some_cure_and_the_rest_are_unclear():
    runs = {"baseline": _arm(*BASE), "batchnorm": _arm(0.95, 0.75)}
    runs.update({c: _arm(0.95, 0.67, noise=(-0.15, 0.02, 0.12)) for c in oc.CURES if c != "batchnorm"})
    r = Results("overfitting-cures", "quick", oc.PROFILES["quick"], (0, 1, 2), runs)
    assert oc.decide(r).kind == "inconclusive"


def test_competence_and_premise_gate_the_verdict():
    from cnnlab.studies import get_study, judge

    study = get_study("overfitting-cures")
    study._check_evidence()
    unfit = judge(study, _results(_all((0.85, 0.80)), base=(0.90, 0.60)))  # fits only 90% of its training set
    assert unfit.verdict.kind == "inconclusive"
    assert unfit.verdict.sentence.startswith("Undertrained:") and "baseline CNN reached 90.0%" in unfit.verdict.sentence
    no_gap = judge(study, _results(_all((1.0, 0.92)), base=(1.0, 0.90)))  # fits, generalizes, gap 10 < 15 points
    assert no_gap.competent and not no_gap.premise_met
    assert no_gap.verdict.kind == "inconclusive" and no_gap.verdict.sentence.startswith("Premise absent:")
    assert "gap was 10.0 points" in no_gap.verdict.sentence
    met = judge(study, _results(_all((0.95, 0.70)), base=(1.0, 0.65)))
    assert met.competent and met.premise_met and met.verdict.kind == met.measured.kind == "supported"


def test_table_ranks_cures_by_gap_change_and_figures_draw():
    cures = _all((0.99, 0.65))
    cures["batchnorm"] = (0.99, 0.80)
    cures["augment"] = (0.80, 0.40)
    r = _results(cures)
    t = oc.table(r)
    arms = [row[0] for row in t.rows]
    assert arms[0] == "baseline" and arms[1] == "batchnorm" and arms[-1] == "augment"
    assert t.rows[1][-1] == "cured"
    figs = oc.figure(r)
    assert len(figs) == 2 and all(f.axes[0].get_xlabel() for f in figs)


def _ctx(**params) -> Context:
    return Context("quick", {**oc.PROFILES["quick"], **params})


def test_each_cure_changes_one_thing():
    ctx = _ctx()
    base = oc.arm_config("baseline", ctx)
    for cure in oc.CURES:
        config = oc.arm_config(cure, ctx)
        changed = {k for k in set(base) | set(config) if base.get(k) != config.get(k)}
        assert len(changed - {"optimizer"}) == 1, (cure, changed)
    assert oc.arm_config("weight_decay", ctx)["optimizer"] == "adamw"
    assert oc.arm_config("augment", ctx)["augment"] == "crop:2,flip"


def test_strength_rules_are_exact():
    ctx = _ctx()
    wd = oc.arm_config("weight_decay", ctx)["weight_decay"]
    assert wd == pytest.approx(0.05 * math.sqrt(32 / (256 * 40)) / 3e-3)
    train, _ = oc._data(ctx)
    l1 = oc.arm_config("l1", ctx)["l1"]
    mean_abs = init_mean_abs(train, model="small_cnn", norm="none", dropout=0.0, model_kwargs={"widths": (8, 16, 32)})
    assert l1 == pytest.approx(oc.L2 * mean_abs)
    assert 0.01 < mean_abs < 0.5  # He-initialized 3×3 convs and an FC layer: E|w| of order 0.1


def test_one_short_run_measures_the_gap():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        numbers = oc.run("l1", 0, _ctx(epochs=1))
    finally:
        torch.set_num_threads(threads)
    assert numbers["gap"] == pytest.approx(numbers["train_accuracy"] - numbers["test_accuracy"])
    assert 0 <= numbers["test_accuracy"] <= 1 and numbers["l1"] > 0
    net = create("small_cnn", input_size=16, widths=(8, 16, 32), norm="none")
    assert numbers["params"] == sum(p.numel() for p in net.parameters())
