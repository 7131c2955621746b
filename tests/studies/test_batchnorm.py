"""The batchnorm study's decision rule on synthetic results, its table and figures, and its step counter."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import batchnorm as bn
from cnnlab.studies._common import digit_data, fit

matplotlib.use("Agg")


@pytest.fixture
def one_thread():
    """Tiny training runs are fastest on one thread (and do not spin on a shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _depth_acc(i: int, deepest: int) -> float | None:
    """Trains up to `deepest`, fails at the next depth, and the walk stops there."""
    if i <= deepest:
        return 0.9
    return 0.2 if i == deepest + 1 else None


def _run(steps: float, lr_index: int, depth_index: int, acc: float = 0.97) -> dict:
    n_lr, n_depth = len(bn.LRS), len(bn.DEPTHS)
    stable = [i <= lr_index for i in range(min(lr_index + 2, n_lr))] + [None] * (n_lr - min(lr_index + 2, n_lr))
    return {
        "steps_to_target": steps,
        "max_lr_index": lr_index,
        "max_depth_index": depth_index,
        "test_accuracy": acc,
        "tuned_lr": 0.1,
        "reached": True,
        "lr_stable": stable,
        "lr_steps": [int(steps) if s else None for s in stable],
        "depth_train_acc": [_depth_acc(i, depth_index) for i in range(n_depth)],
    }


def _results(none: list[tuple], batch: list[tuple]) -> Results:
    """Each tuple: (steps to target, largest stable lr index, deepest depth index[, test accuracy])."""
    runs = {"none": tuple(_run(*t) for t in none), "batch": tuple(_run(*t) for t in batch)}
    return Results("batchnorm", "quick", bn.PROFILES["quick"], tuple(range(len(none))), runs)


NONE = [(48, 2, 0), (54, 2, 0), (42, 2, 1)]


def test_supported_when_faster_more_stable_and_deeper():
    r = _results(NONE, [(24, 4, 2), (30, 4, 2), (24, 4, 2)])
    v = bn.decide(r)
    assert v.kind == "supported"
    assert "3 seeds" in v.sentence and "×1.85" in v.sentence and "batch 1/1/1 vs none 0.1/0.1/0.1" in v.sentence


def test_nuanced_when_faster_and_deeper_but_same_learning_rates():
    r = _results(NONE, [(24, 2, 2), (30, 2, 2), (24, 2, 3)])
    v = bn.decide(r)
    assert v.kind == "nuanced"
    assert "not for larger stable learning rate" in v.sentence
    assert "faster convergence" in v.sentence and "deeper trainable net" in v.sentence


def test_refuted_when_no_part_holds():
    r = _results(NONE, [(48, 2, 0), (54, 2, 0), (42, 2, 1)])
    v = bn.decide(r)
    assert v.kind == "refuted"
    assert "48 ± 6" in v.sentence


def test_inconclusive_when_a_part_is_noisy_and_none_fails():
    r = _results(NONE, [(24, 3, 2), (30, 3, 2), (24, 2, 3)])  # lr +1, +1, 0 grid steps: unclear
    v = bn.decide(r)
    assert v.kind == "inconclusive"
    assert (
        "Faster convergence, deeper trainable net held; too noisy to decide larger stable learning rate" in v.sentence
    )


def test_slower_batchnorm_counts_as_a_failed_part():
    r = _results(NONE, [(96, 3, 2), (108, 4, 2), (90, 3, 2)])
    v = bn.decide(r)
    assert v.kind == "nuanced"
    assert "not for faster convergence" in v.sentence


def test_table_and_figures_render():
    r = _results(NONE, [(24, 3, 2), (30, 4, 2), (24, -1, 4)])
    t = bn.table(r)
    assert t.rows[0][0] == "none" and t.rows[0][1] == "0.1"
    assert t.rows[1][3] == "0.3/1/none" and t.rows[1][4] == "8/8/32"
    figs = bn.figure(r)
    assert len(figs) == 2
    import matplotlib.pyplot as plt

    for f in figs:
        assert f.axes[0].get_ylabel()
        plt.close(f)


def test_trains_needs_finite_loss_and_the_accuracy_bar():
    assert bn._trains(({"train_loss": 0.3, "train_accuracy": bn.STABLE_ACC},))
    assert not bn._trains(({"train_loss": 0.3, "train_accuracy": bn.STABLE_ACC - 0.01},))
    assert not bn._trains(({"train_loss": math.inf, "train_accuracy": 0.99},))


def test_split_is_fixed_and_disjoint():
    ctx = bn.STUDY.context("quick")
    train, val, _ = bn._split(ctx)
    train2, val2, _ = bn._split(ctx)
    assert len(val) == ctx["n_val"] and len(train) + len(val) == len(digit_data(ctx)[0])
    assert train.images.equal(train2.images) and val.images.equal(val2.images)


def test_steps_to_target_records_the_first_check_above_the_target(one_thread):
    ctx = bn.STUDY.context("quick")
    train, val, test = bn._split(ctx)
    low, high = bn.StepsToTarget(val, 0.0, 5), bn.StepsToTarget(val, 1.01, 5)
    fit(ctx, 0, (train.subset(slice(0, 64)), test), callbacks=[low, high], model="mlp", epochs=1, batch_size=8,
        model_kwargs={"depth": 1, "width": 16})  # fmt: skip
    assert low.step == 5  # the first check (step 5) already meets a target of 0
    assert high.step is None  # never reached
    assert 0.0 <= low.final_val <= 1.0


@pytest.mark.parametrize("arm", bn.ARMS)
def test_arms_are_norm_names(arm):
    from cnnlab.layers.norm import NORM_NAMES

    assert arm in NORM_NAMES


def test_fastest_index_is_the_stable_rate_with_fewest_steps():
    sweep = {"lr_stable": [True, True, True, False, None, None], "lr_steps": [90, 30, 30, None, None, None],
             "lr_val_acc": [0.9, 0.95, 0.96, 0.1, None, None]}  # fmt: skip
    assert bn.fastest_index(sweep) == 1  # a tie goes to the smaller rate
    never = {**sweep, "lr_steps": [None] * 6}
    assert bn.fastest_index(never) == 2  # none got there: the best-validating stable rate
    assert bn.fastest_index({**never, "lr_stable": [False] * 6}) == 0


def test_judge_undertrained_when_batchnorm_did_not_learn():
    j = judge(bn.STUDY, _results(NONE, [(24, 4, 2, 0.8), (30, 4, 2, 0.8), (24, 4, 2, 0.8)]))
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")
    assert "reached 80.0%" in j.verdict.sentence


def test_judge_keeps_the_rule_when_competent():
    j = judge(bn.STUDY, _results(NONE, [(24, 4, 2), (30, 4, 2), (24, 4, 2)]))
    assert j.competent and j.verdict.kind == "supported"
    assert [c.agrees for c in j.comparisons] == [True]


def test_evidence_is_declared():
    get_study("batchnorm")._check_evidence()
