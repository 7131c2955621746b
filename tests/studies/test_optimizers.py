"""The optimizers study: gradients and plain-SGD paths against closed forms, the step angle, the seeded starts,
and the decision rule on synthetic results (one test per verdict kind)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import optimizers as op

matplotlib.use("Agg")
SEEDS = (0, 1, 2)


@pytest.mark.parametrize("problem", ["quad", "rosen"])
def test_analytic_gradients_match_autograd(problem):
    fn = op.PROBLEMS[problem][0]
    p = torch.tensor([[-1.3, 0.7], [0.4, 2.2]], dtype=torch.float64, requires_grad=True)
    x, y = p[:, 0], p[:, 1]
    f = x**2 / 20 + y**2 if problem == "quad" else (1 - x) ** 2 + 100 * (y - x**2) ** 2
    f.sum().backward()
    value, grad = fn(p.detach().numpy())
    np.testing.assert_allclose(value, f.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-12)


def test_plain_sgd_on_the_quadratic_follows_the_closed_form():
    lr, steps = 0.3, 20
    paths, values = op.descend("quad", (-7.0, 2.0), "sgd", (lr, 0.01), steps)
    t = np.arange(steps + 1)
    np.testing.assert_allclose(paths[0, :, 0], -7.0 * (1 - lr / 10) ** t, rtol=1e-12)  # x ← x − lr·x/10
    np.testing.assert_allclose(paths[0, :, 1], 2.0 * (1 - 2 * lr) ** t, rtol=1e-12)  # y ← y − lr·2y
    assert paths[1, 1, 0] == pytest.approx(-7.0 * (1 - 0.01 / 10))  # the second rate runs on its own
    assert values[0, 0] == pytest.approx(op.QUAD_F0)


def test_a_diverging_run_reads_inf():
    _, values = op.descend("quad", (-7.0, 2.0), "sgd", (3.0,), 200)  # |1 − 2·3| > 1: y explodes
    assert np.isinf(values[0, -1]) and np.isfinite(values[0, 0])


def test_mean_angle():
    straight = np.array([[-4.0, 0.0], [-2.0, 0.0], [-1.0, 0.0]])
    assert op.mean_angle(straight, np.array([4.0, 2.0, 1.0]), (0.0, 0.0), 1e-3) == pytest.approx(0.0)
    sideways = np.array([[-1.0, 0.0], [-1.0, 1.0], [-1.0, 2.0]])  # steps at 90°, then at 90 + 45 = 135°
    assert op.mean_angle(sideways, np.ones(3), (0.0, 0.0), 1e-3) == pytest.approx(112.5)
    assert math.isnan(op.mean_angle(straight, np.zeros(3), (0.0, 0.0), 1e-3))  # never above the target


def test_seeded_quadratic_starts_lie_on_the_level_set():
    for seed in range(5):
        x, y = op._start("quad", seed)
        assert x**2 / 20 + y**2 == pytest.approx(op.QUAD_F0)
        assert x < 0 < y
    assert op._start("rosen", 1) != op._start("rosen", 2)


def _results(angle, steps, amp, acc: float = 0.95) -> Results:
    """angle: SGD's per seed; steps: arm -> per seed (all problems); amp: arm -> per seed (both measures)."""
    runs = {}
    for arm in op.ARMS:
        rows = []
        for k in range(3):
            row = {
                "quad_angle": angle[k] if arm == "sgd" else 60.0,
                "quad_amplitude": amp.get(arm, [1e-3] * 3)[k],
                "digits_jitter": amp.get(arm, [1e-3] * 3)[k],
                "quad_lr": 0.3,
                "rosen_lr": 1e-3,
                "digits_lr": 0.1,
            }
            for p in ("quad", "rosen", "digits"):
                row[f"{p}_steps_to"] = steps.get(arm, [60, 62, 64])[k]
                row[f"{p}_x"], row[f"{p}_y"], row[f"{p}_dist"] = [-7.0, -1.0, 0.0], [2.0, 0.5, 0.0], [7.0, 1.2, 1e-3]
            row["digits_loss"] = [2.3, 0.5, 0.1]
            row["digits_test_accuracy"] = acc
            rows.append(row)
        runs[arm] = tuple(rows)  # fmt: skip
    return Results("optimizers", "quick", op.PROFILES["quick"], SEEDS, runs)


FAST = {"sgd": [200, 190, 210], "adam": [50, 55, 52]}
DAMPED = {"adam": [1e-2, 1.2e-2, 0.9e-2], "adam-cos": [1e-4, 1.1e-4, 0.9e-4]}


def test_supported():
    v = op.decide(_results([60.0, 62.0, 58.0], FAST, DAMPED))
    assert v.kind == "supported"
    assert "60.0 ± 2.0°" in v.sentence and "200 ± 10" in v.sentence and "3 seeds" in v.sentence


def test_refuted_when_nothing_holds():
    same = {"sgd": [50, 52, 51], "adam": [50, 52, 51]}
    flat = {"adam": [1e-3, 1.01e-3, 0.99e-3], "adam-cos": [1e-3, 1.0e-3, 1.0e-3]}
    v = op.decide(_results([1.0, 1.2, 0.8], same, flat))
    assert v.kind == "refuted"
    assert "1.0 ± 0.2°" in v.sentence


def test_nuanced_when_sgd_points_at_the_minimum_but_adam_is_faster():
    v = op.decide(_results([1.0, 1.2, 0.8], FAST, DAMPED))
    assert v.kind == "nuanced"
    held, failed = v.sentence.split("Failed:")[0], v.sentence.split("Failed:")[1].split("Numbers:")[0]
    assert "Adam faster (digits)" in held and "points away" in failed


def test_inconclusive_when_steps_are_noisy():
    noisy = {"sgd": [200, 40, 210], "adam": [50, 120, 52]}
    v = op.decide(_results([60.0, 62.0, 58.0], noisy, {"adam": [1e-2, 1e-5, 1e-2], "adam-cos": [1e-4, 1e-3, 1e-4]}))
    assert v.kind == "inconclusive"


def test_table_and_figures():
    r = _results([60.0, 62.0, 58.0], FAST, DAMPED)
    t = op.table(r)
    assert [row[0] for row in t.rows] == list(op.ARMS) and t.rows[0][1] == "0.3/0.001/0.1"
    assert len(op.figure(r)) == 4
    import matplotlib.pyplot as plt

    plt.close("all")


def test_judge_undertrained_when_adam_did_not_learn_the_digits():
    j = judge(op.STUDY, _results([60.0, 62.0, 58.0], FAST, DAMPED, acc=0.4))
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")
    assert "Adam's digits MLP reached 40.0%" in j.verdict.sentence


def test_judge_keeps_the_rule_when_competent():
    j = judge(op.STUDY, _results([60.0, 62.0, 58.0], FAST, DAMPED))
    assert j.competent and j.verdict.kind == "supported"
    assert [c.agrees for c in j.comparisons] == [True, True]


def test_evidence_is_declared():
    get_study("optimizers")._check_evidence()
