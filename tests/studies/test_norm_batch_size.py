"""The norm-batch-size study's decision rule and requirements on synthetic results, its arms, table, figure and one
tiny run."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import norm_batch_size as nb

matplotlib.use("Agg")


@pytest.fixture
def one_thread():
    """Tiny training runs are fastest on one thread (and do not spin on a shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SEEDS = (0, 1, 2)


def _results(acc: dict[tuple[str, int], tuple[float, float, float]], base: float = 0.97) -> Results:
    """Results with accuracy `base` everywhere except where `acc` says (per seed)."""
    runs = {}
    for arm in nb.ARMS:
        values = acc.get(nb.parse_arm(arm), (base, base, base))
        runs[arm] = tuple({"lr": 0.1, "test_accuracy": v, "diverged": False, "steps": 10} for v in values)
    return Results("norm-batch-size", "quick", nb.PROFILES["quick"], SEEDS, runs)


BN_DROPS = {("batch", 2): (0.77, 0.79, 0.75)}  # BatchNorm loses 20 points at batch 2


def test_supported_when_only_batchnorm_degrades():
    v = nb.decide(_results(BN_DROPS))
    assert v.kind == "supported"
    assert "97.0 ± 0.0% at batch 32 vs 77.0 ± 2.0% at batch 2" in v.sentence and "3 seeds" in v.sentence
    assert v.number == "BN batch 2 − batch 32: -20.0 pts"


def test_nuanced_when_instance_norm_degrades_as_much():
    v = nb.decide(_results({**BN_DROPS, ("instance", 2): (0.78, 0.80, 0.76)}))
    assert v.kind == "nuanced"
    assert "more than layer, group, weight, but not more than instance" in v.sentence


def test_refuted_when_batchnorm_holds_up():
    v = nb.decide(_results({("batch", 2): (0.97, 0.96, 0.975)}))
    assert v.kind == "refuted"
    assert "did not lose 3 points" in v.sentence


def test_refuted_when_every_alternative_degrades_as_much():
    same = (0.77, 0.79, 0.75)
    v = nb.decide(_results({(n, 2): same for n in ("batch", *nb.ALTERNATIVES)}))
    assert v.kind == "refuted"
    assert "no more than the alternatives" in v.sentence


def test_inconclusive_when_batchnorm_drop_is_noisy():
    v = nb.decide(_results({("batch", 2): (0.77, 0.97, 0.93)}))
    assert v.kind == "inconclusive"
    assert "Too noisy" in v.sentence


def test_inconclusive_when_a_comparison_is_noisy_and_none_fails():
    v = nb.decide(_results({**BN_DROPS, ("weight", 2): (0.77, 0.97, 0.87)}))
    assert v.kind == "inconclusive"
    assert "compare it with weight" in v.sentence


def test_arms_cover_the_grid_and_parse_back():
    assert len(nb.ARMS) == len(nb.NORMS) * len(nb.BATCHES) == 10
    assert {nb.parse_arm(a) for a in nb.ARMS} == {(n, b) for n in nb.NORMS for b in nb.BATCHES}
    assert nb.parse_arm("group-b32") == ("group", 32)


def test_learning_rate_scales_linearly_with_batch():
    assert nb.learning_rate(0.1, 32) == pytest.approx(0.1)
    assert nb.learning_rate(0.1, 2) == pytest.approx(0.1 / 16)


def test_judge_undertrained_when_the_batch_32_nets_did_not_learn():
    j = judge(nb.STUDY, _results(BN_DROPS, base=0.90))
    assert not j.competent
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")
    assert "BatchNorm at batch 32 reached 90.0%" in j.verdict.sentence


def test_judge_keeps_the_rule_when_competent():
    j = judge(nb.STUDY, _results(BN_DROPS))
    assert j.competent and j.verdict.kind == "supported"
    assert [c.agrees for c in j.comparisons] == [True]


def test_judge_says_why_when_the_anchor_disagrees():
    j = judge(nb.STUDY, _results({("batch", 2): (0.97, 0.96, 0.975)}))
    assert j.verdict.kind == "refuted" and "Unlike Wu & He (2018)" in j.verdict.sentence


def test_evidence_is_declared():
    get_study("norm-batch-size")._check_evidence()
    assert all(r.kind == "competence" for r in nb.STUDY.requirements)


def test_table_and_figure_render():
    r = _results(BN_DROPS)
    t = nb.table(r)
    assert [row[0] for row in t.rows] == list(nb.NORMS)
    assert t.rows[0][1] == "0.1" and t.rows[0][4] == "20.0 ± 2.0" and t.rows[1][5].startswith("20.0")
    fig = nb.figure(r)
    assert fig.axes[0].get_xlabel().startswith("batch size")
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_one_quick_run_trains(one_thread, monkeypatch):
    monkeypatch.setattr(nb, "LR_GRID", (0.1,))  # one tuning run, not three (the grid is part of its key)
    ctx = nb.Context("quick", {"epochs": 1, "n_train": None})
    out = nb.run("group-b32", 0, ctx)  # 46 steps: fast, and the group spec must build
    assert out["diverged"] is False and out["steps"] == 46
    assert out["lr"] == 0.1 and 0.0 <= out["test_accuracy"] <= 1.0
