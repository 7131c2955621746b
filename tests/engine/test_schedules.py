"""Every schedule against the torch.optim.lr_scheduler that computes the same curve."""

import math

import pytest
import torch
from torch.optim import lr_scheduler as S

from cnnlab.engine.schedules import create_schedule
from cnnlab.errors import ConfigError

BASE = 0.1
TOTAL = 50


def torch_curve(make, total=TOTAL):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE)
    sched = make(opt)
    rates = []
    for _ in range(total):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def ours(name, **kw):
    schedule = create_schedule(name, total_steps=TOTAL, **kw)
    return [BASE * schedule(t) for t in range(TOTAL)]


def test_constant():
    assert ours("constant") == [BASE] * TOTAL


def test_step_equals_steplr():
    assert ours("step", step_size=7, gamma=0.5) == pytest.approx(torch_curve(lambda o: S.StepLR(o, 7, 0.5)), rel=1e-12)


def test_multistep_equals_multisteplr():
    expected = torch_curve(lambda o: S.MultiStepLR(o, [10, 25, 40], 0.1))
    assert ours("multistep", milestones=[25, 10, 40], gamma=0.1) == pytest.approx(expected, rel=1e-12)


def test_cos_equals_cosine_annealing():
    expected = torch_curve(lambda o: S.CosineAnnealingLR(o, T_max=TOTAL, eta_min=0.001))
    assert ours("cos", min_factor=0.01) == pytest.approx(expected, rel=1e-9)


def test_warmup_cos_equals_linear_then_cosine():
    warm = 5
    expected = torch_curve(
        lambda o: S.SequentialLR(
            o,
            [S.LinearLR(o, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1),
             S.CosineAnnealingLR(o, T_max=TOTAL - warm)],
            milestones=[warm],
        )
    )  # fmt: skip
    assert ours("warmup_cos", warmup_steps=warm) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_onecycle_equals_onecyclelr_without_momentum_cycling():
    expected = torch_curve(lambda o: S.OneCycleLR(o, max_lr=BASE, total_steps=TOTAL, cycle_momentum=False))
    assert ours("onecycle") == pytest.approx(expected, rel=1e-9)


def test_cos_reaches_min_at_the_end_and_stays():
    schedule = create_schedule("cos", total_steps=10, min_factor=0.1)
    assert schedule(10) == pytest.approx(0.1) and schedule(99) == pytest.approx(0.1)
    assert schedule(5) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 2)) / 2)


@pytest.mark.parametrize(
    ("name", "kw", "message"),
    [
        ("cosine", {}, "unknown schedule 'cosine'; did you mean 'cos'"),
        ("warmup_cos", {"warmup_steps": 0}, "warmup"),
        ("onecycle", {"pct_start": 1.5}, "pct_start"),
        ("cos", {"min_factor": 2.0}, "min_lr"),
    ],
)
def test_bad_arguments(name, kw, message):
    with pytest.raises(ConfigError, match=message):
        create_schedule(name, total_steps=TOTAL, **kw)
