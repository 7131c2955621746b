"""The norm-batch-size study's decision rule on synthetic results, its arms, table, figure and one tiny run."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from cnnlab.studies import Results
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


def _results(acc: dict[tuple[str, int], tuple[float, float, float]]) -> Results:
    """Results with accuracy 0.9 everywhere except where `acc` says (per seed)."""
    runs = {}
    for arm in nb.ARMS:
        values = acc.get(nb.parse_arm(arm), (0.9, 0.9, 0.9))
        runs[arm] = tuple({"test_accuracy": v, "diverged": False, "steps": 10} for v in values)
    return Results("norm-batch-size", "quick", nb.PROFILES["quick"], SEEDS, runs)


BN_DROPS = {("batch", 2): (0.70, 0.72, 0.68)}  # BatchNorm loses 20 points at batch 2


def test_supported_when_only_batchnorm_degrades():
    v = nb.decide(_results(BN_DROPS))
    assert v.kind == "supported"
    assert "90.0 ± 0.0% at batch 8 vs 70.0 ± 2.0% at batch 2" in v.sentence and "3 seeds" in v.sentence
    assert v.number == "BN batch 2 − batch 8: -20.0 pts"


def test_nuanced_when_instance_norm_degrades_as_much():
    v = nb.decide(_results({**BN_DROPS, ("instance", 2): (0.71, 0.73, 0.69)}))
    assert v.kind == "nuanced"
    assert "more than layer, group, weight, but not more than instance" in v.sentence


def test_refuted_when_batchnorm_holds_up():
    v = nb.decide(_results({("batch", 2): (0.90, 0.89, 0.905)}))
    assert v.kind == "refuted"
    assert "did not lose 3 points" in v.sentence


def test_refuted_when_every_alternative_degrades_as_much():
    same = (0.70, 0.72, 0.68)
    v = nb.decide(_results({(n, 2): same for n in ("batch", *nb.ALTERNATIVES)}))
    assert v.kind == "refuted"
    assert "no more than the alternatives" in v.sentence


def test_inconclusive_when_batchnorm_drop_is_noisy():
    v = nb.decide(_results({("batch", 2): (0.70, 0.90, 0.86)}))
    assert v.kind == "inconclusive"
    assert "Too noisy" in v.sentence


def test_inconclusive_when_a_comparison_is_noisy_and_none_fails():
    v = nb.decide(_results({**BN_DROPS, ("weight", 2): (0.70, 0.90, 0.80)}))
    assert v.kind == "inconclusive"
    assert "compare it with weight" in v.sentence


def test_arms_cover_the_grid_and_parse_back():
    assert len(nb.ARMS) == len(nb.NORMS) * len(nb.BATCHES) == 20
    assert {nb.parse_arm(a) for a in nb.ARMS} == {(n, b) for n in nb.NORMS for b in nb.BATCHES}
    assert nb.parse_arm("group-b128") == ("group", 128)


def test_learning_rate_scales_linearly_with_batch():
    assert nb.learning_rate(32) == pytest.approx(nb.LR_PER_32)
    assert nb.learning_rate(2) == pytest.approx(nb.LR_PER_32 / 16)
    assert nb.learning_rate(128) == pytest.approx(4 * nb.LR_PER_32)


def test_table_and_figure_render():
    r = _results(BN_DROPS)
    t = nb.table(r)
    assert [row[0] for row in t.rows] == list(nb.NORMS)
    assert t.rows[0][5] == "20.0 ± 2.0" and t.rows[1][6].startswith("20.0")
    fig = nb.figure(r)
    assert fig.axes[0].get_xlabel().startswith("batch size")
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_one_quick_run_trains(one_thread):
    ctx = nb.STUDY.context("quick")
    out = nb.run("group-b128", 0, ctx)  # 8 steps: fast, and the group spec must build
    assert out["diverged"] is False and out["steps"] == 8
    assert 0.0 <= out["test_accuracy"] <= 1.0
