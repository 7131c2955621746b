"""The l1-vs-l2 study's decision rule on synthetic results, its strength rules and weight measures, and one run."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from cnnlab.studies import Results
from cnnlab.studies import l1_vs_l2 as lv
from cnnlab.studies._base import Context

matplotlib.use("Agg")

WOBBLE = (0.98, 1.0, 1.02)  # per-seed factor, shared by the arms (paired)


def _arm(near_zero: float, sq_norm: float, noise=(1.0, 1.0, 1.0)) -> tuple[dict, ...]:
    hist = [0] * (len(lv.HIST_EDGES) - 1)
    hist[0], hist[-4] = int(near_zero * 1000), int((1 - near_zero) * 1000)
    return tuple(
        {"near_zero": near_zero * w, "near_zero_loose": min(1.0, near_zero * w + 0.05), "sq_norm": sq_norm * w * e,
         "mean_abs": 0.05, "test_accuracy": 0.97, "hist": hist}
        for w, e in zip(WOBBLE, noise, strict=True)
    )  # fmt: skip


def _results(**arms) -> Results:
    base = {"none": (0.005, 100.0), "l1": (0.40, 60.0), "l2": (0.01, 50.0), "dropout": (0.005, 80.0)}
    base.update(arms)
    runs = {arm: _arm(*base[arm]) for arm in lv.ARMS}
    return Results("l1-vs-l2", "quick", lv.PROFILES["quick"], (0, 1, 2), runs)


def test_supported_when_l1_zeroes_l2_shrinks_and_dropout_shrinks():
    v = lv.decide(_results())
    assert v.kind == "supported"
    assert "L1 40.0" in v.sentence and "3 seeds" in v.sentence and "×0.50" in v.sentence and "×0.80" in v.sentence


def test_nuanced_when_dropout_grows_the_norm():
    v = lv.decide(_results(dropout=(0.005, 115.0)))
    assert v.kind == "nuanced"
    assert "dropout shrinks Σw²: fails" in v.sentence and "×1.15" in v.sentence


def test_nuanced_when_l2_piles_weights_at_zero():
    v = lv.decide(_results(l2=(0.30, 50.0), l1=(0.45, 60.0)))  # L1 − L2 = 15 pts, but L2 adds 29.5 pts near zero
    assert v.kind == "nuanced"
    assert "L2 shrinks without zeroing: fails" in v.sentence


def test_refuted_when_nothing_differs():
    same = (0.005, 100.0)
    v = lv.decide(_results(l1=same, l2=same, dropout=same))
    assert v.kind == "refuted"


def test_inconclusive_when_the_norms_are_noisy():
    runs = {
        "none": _arm(0.005, 100.0),
        "l1": _arm(0.40, 60.0),
        "l2": _arm(0.01, 80.0, noise=(0.6, 1.3, 0.9)),
        "dropout": _arm(0.005, 80.0, noise=(0.6, 1.3, 0.9)),
    }
    v = lv.decide(Results("l1-vs-l2", "quick", lv.PROFILES["quick"], (0, 1, 2), runs))
    assert v.kind == "inconclusive"
    assert "unclear" in v.sentence


def test_nuanced_even_with_a_part_unclear_when_one_holds_and_one_fails():
    runs = {
        "none": _arm(0.005, 100.0),
        "l1": _arm(0.40, 60.0),
        "l2": _arm(0.01, 80.0, noise=(0.6, 1.3, 0.9)),
        "dropout": _arm(0.005, 120.0),
    }
    v = lv.decide(Results("l1-vs-l2", "quick", lv.PROFILES["quick"], (0, 1, 2), runs))
    assert v.kind == "nuanced"


def test_table_and_figures():
    r = _results()
    t = lv.table(r)
    assert [row[0] for row in t.rows] == list(lv.ARMS)
    assert t.rows[1][1] == "40.0 ± 0.8"
    figs = lv.figure(r)
    assert len(figs) == 2 and all(f.axes[0].get_ylabel() for f in figs)


def test_weight_numbers_are_exact():
    w = torch.tensor([0.0, 5e-4, -2e-3, 0.05, -0.5, 3.0])
    n = lv.weight_numbers(w)
    assert n["near_zero"] == pytest.approx(2 / 6)
    assert n["near_zero_loose"] == pytest.approx(3 / 6)
    assert n["sq_norm"] == pytest.approx(5e-4**2 + 2e-3**2 + 0.05**2 + 0.25 + 9.0)
    assert sum(n["hist"]) == 6
    assert n["hist"][0] == 1 and n["hist"][-1] == 1  # 0 lands in the first bin, 3.0 (clipped to 10⁰) in the last
    assert n["hist"][-2] == 1  # log10(0.5) = −0.30 lies in [−0.5, −0.25)


def test_strength_rules():
    assert lv.decay_time_l2(0.1, 1000) == pytest.approx(0.02)
    # cosine from lr to 0: Σ_t lr_t ≈ lr·T/2, so λ₂·Σ lr_t ≈ 1
    lrs = 0.1 * (1 + np.cos(np.pi * np.arange(1000) / 1000)) / 2
    assert lv.decay_time_l2(0.1, 1000) * lrs.sum() == pytest.approx(1.0, rel=0.01)
    ctx = Context("quick", lv.PROFILES["quick"])
    from cnnlab.studies._common import digit_data

    train, _ = digit_data(ctx)
    l1, l2 = lv.strengths(ctx, train)
    assert l2 == pytest.approx(2 / (lv.LR * math.ceil(len(train) / lv.BATCH) * lv.PROFILES["quick"]["epochs"]))
    # 64·64 + 64·64 + 64·10 weights from U(±1/√fan_in): E|w| = 1/(2√fan_in)
    counts, fans = (64 * 64, 64 * 64, 64 * 10), (64, 64, 64)
    expected = sum(c / (2 * math.sqrt(f)) for c, f in zip(counts, fans, strict=True)) / sum(counts)
    assert l1 / l2 == pytest.approx(expected, rel=0.03)


def test_one_short_run():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        numbers = lv.run("l1", 0, Context("quick", {**lv.PROFILES["quick"], "epochs": 1}))
    finally:
        torch.set_num_threads(threads)
    assert numbers["n_weights"] == 64 * 64 + 64 * 64 + 64 * 10
    assert sum(numbers["hist"]) == numbers["n_weights"]
    assert 0 <= numbers["near_zero"] <= numbers["near_zero_loose"] <= 1
    assert numbers["lambda_l1"] == pytest.approx(numbers["lambda_l2"] * 0.0625, rel=0.03)


def test_competence_gates_the_verdict():
    from cnnlab.studies import get_study, judge

    study = get_study("l1-vs-l2")
    study._check_evidence()
    r = _results()
    crushed = {**r.runs, "l1": tuple(dict(run, test_accuracy=0.40) for run in r.runs["l1"])}
    undertrained = judge(study, Results(r.study, r.profile, r.params, r.seeds, crushed))
    assert undertrained.verdict.kind == "inconclusive" and undertrained.measured.kind == "supported"
    assert undertrained.verdict.sentence.startswith("Undertrained:") and "L1 arm reached 40.0%" in (
        undertrained.verdict.sentence
    )
    learned = judge(study, r)
    assert learned.competent and learned.verdict.kind == "supported"
    assert [c.agrees for c in learned.comparisons] == [True, True]
