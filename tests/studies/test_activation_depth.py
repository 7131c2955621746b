"""The activation-depth study's decision rule on synthetic results, its pieces, and one short run."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import _common as common
from cnnlab.studies import activation_depth as ad
from cnnlab.studies._activation import steps_to
from cnnlab.studies._base import Context

matplotlib.use("Agg")

WOBBLE = (-0.01, 0.0, 0.01)  # per-seed shift, shared by the arms (paired)
GOOD = (0.2, 0.80)  # (log10 gradient ratio, mean accuracy over the run) of an arm that trains well


def _arm(log_ratio: float, speed: float, spread=(0.0, 0.0, 0.0), final=None) -> tuple[dict, ...]:
    return tuple(
        {"log_ratio": log_ratio + w, "log_ratio_init": log_ratio, "speed": speed + w + s,
         "steps_to_90": 60 if speed > 0.7 else None, "final_accuracy": speed + 0.15 if final is None else final,
         "diverged": False, "checks": [0, 5, 10], "accuracy": [0.1, speed, speed + 0.1], "lr": 0.03,
         "tuning_speed": [0.5, speed, 0.2]}
        for w, s in zip(WOBBLE, spread, strict=True)
    )  # fmt: skip


def _results(sigmoid=(-12.0, 0.10), tanh=(-6.0, 0.30), spread=(0.0, 0.0, 0.0), family=GOOD, final=None) -> Results:
    runs = {}
    for arm in ad.ARMS:
        act, _ = ad.split_arm(arm)
        base = {"sigmoid": sigmoid, "tanh": tanh}.get(act, family)
        runs[arm] = _arm(
            *base, spread if act in ("sigmoid", "tanh") else (0.0, 0.0, 0.0), final if act == "relu" else None
        )
    return Results("activation-depth", "quick", ad.PROFILES["quick"], (0, 1, 2), runs)


def test_arms_cover_every_activation_at_every_depth():
    assert len(ad.ARMS) == 10 and ad.DEPTHS == (5, 20)
    assert ad.split_arm("leaky_relu-20") == ("leaky_relu", 20)
    assert ad.DECIDE_DEPTH == 20


def test_supported_when_the_family_keeps_gradients_and_trains_faster():
    v = ad.decide(_results())
    assert v.kind == "supported"
    assert "3 seeds" in v.sentence and "12.00 ± 0.01" in v.sentence and "80.0 ± 1.0%" in v.sentence


def test_nuanced_when_tanh_is_as_good_as_the_family():
    v = ad.decide(_results(tanh=(0.4, 0.85)))
    assert v.kind == "nuanced"
    assert "gradient relief over tanh: fails" in v.sentence and "faster than sigmoid: holds" in v.sentence


def test_refuted_when_nothing_differs():
    v = ad.decide(_results(sigmoid=GOOD, tanh=GOOD))
    assert v.kind == "refuted"


def test_inconclusive_when_speed_is_noisy_and_nothing_fails():
    noisy = (0.3, -0.3, 0.0)
    v = ad.decide(_results(sigmoid=(-12.0, 0.5), tanh=(-6.0, 0.5), spread=noisy))
    assert v.kind == "inconclusive"
    assert "faster than sigmoid: undecided" in v.sentence


def test_a_reversed_gradient_gap_fails_the_part():
    # sigmoid's gradients closer to balance than the family's: relief fails even with the family faster
    v = ad.decide(_results(sigmoid=(0.0, 0.10), family=(-3.0, 0.8)))
    assert "gradient relief over sigmoid: fails" in v.sentence


def test_steps_to_is_the_first_check_at_the_target():
    assert steps_to([0, 5, 10, 15], [0.1, 0.85, 0.92, 0.95], 0.9) == 10
    assert steps_to([0, 5], [0.1, 0.5], 0.9) is None


def test_table_and_figures():
    r = _results()
    t = ad.table(r)
    assert len(t.rows) == 10 and t.rows[0][:3] == ("sigmoid", "5", "0.03")
    assert t.rows[0][6] == "> 10" and t.rows[2][6] == "60"
    figs = ad.figure(r)
    assert len(figs) == 2 and all(f.axes[0].get_xlabel() == "hidden layers" for f in figs)


def test_judged_with_competence_and_premise():
    met = judge(ad.STUDY, _results())
    assert met.competent and met.premise_met and met.verdict.kind == "supported"
    under = judge(ad.STUDY, _results(final=0.55))  # the 20-layer ReLU net did not learn the digits
    assert under.verdict.kind == "inconclusive" and under.verdict.sentence.startswith("Undertrained:")
    assert "55.0%" in under.verdict.sentence
    absent = judge(ad.STUDY, _results(sigmoid=(-0.5, 0.1)))  # the deep sigmoid net's gradients do not vanish
    assert absent.verdict.kind == "inconclusive" and absent.verdict.sentence.startswith("Premise absent:")


def test_declares_its_evidence():
    study = get_study("activation-depth")
    study._check_evidence()
    assert study.version == ad.VERSION == 2 and study.revisions[-1].version == 2


def test_the_rate_is_tuned_on_the_tuning_seed(monkeypatch):
    seen = []

    def fake(act, depth, lr, seed, ctx):
        seen.append((lr, seed))
        return {"speed": {0.01: 0.5, 0.03: 0.7, 0.1: 0.6}[lr]}

    monkeypatch.setattr(ad, "train_arm", fake)
    monkeypatch.setattr(common, "_SHARED", {})  # this process's shared trainings, tuning runs among them
    lr, speeds = ad.tuned_lr("relu", 5, Context("quick", ad.PROFILES["quick"]))
    assert lr == 0.03 and speeds == [0.5, 0.7, 0.6]
    assert {seed for _, seed in seen} == {ad.TUNE_SEED} and ad.TUNE_SEED not in range(0, 5)
    ad.tuned_lr("relu", 5, Context("quick", ad.PROFILES["quick"]))
    assert len(seen) == 3  # tuned once per process


def test_one_short_run(monkeypatch):
    monkeypatch.setattr(ad, "LRS", (0.03,))  # one rate: the tuning is tested above
    monkeypatch.setattr(common, "_SHARED", {})  # this process's shared trainings, tuning runs among them
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        n = ad.run("relu-5", 0, Context("quick", {**ad.PROFILES["quick"], "epochs": 1}))
    finally:
        torch.set_num_threads(threads)
    assert n["lr"] == 0.03 and len(n["tuning_speed"]) == 1
    steps = math.ceil(1442 / 64)
    assert n["checks"] == list(range(0, steps + 1, 5))
    assert len(n["accuracy"]) == len(n["checks"]) and n["accuracy"][0] < 0.3  # chance-level before training
    assert n["speed"] == pytest.approx(sum(n["accuracy"]) / len(n["accuracy"]))
    assert math.isfinite(n["log_ratio"]) and math.isfinite(n["log_ratio_init"])
    assert n["diverged"] is False
