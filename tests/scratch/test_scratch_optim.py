"""The scratch optimizers step for step against torch.optim in float64."""

import re

import numpy as np
import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.scratch import SGD, Adam, Param, create_optimizer

STEPS = 6


def _run_both(make_ours, make_theirs, seed=0):
    """Apply the same gradients for STEPS steps to scratch and torch parameters; yield both after every step."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 1, 3, 3)]
    ours = [Param(rng.normal(size=shape)) for shape in shapes]
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    opt, opt_t = make_ours(ours), make_theirs(theirs)
    for _ in range(STEPS):
        for p, t in zip(ours, theirs, strict=True):
            g = rng.normal(size=p.data.shape)
            p.grad = g
            t.grad = torch.from_numpy(g.copy())
        opt.step()
        opt_t.step()
        yield ours, theirs


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True},
        {"weight_decay": 0.01},
        {"momentum": 0.5, "weight_decay": 0.1, "nesterov": True},
    ],
    ids=["plain", "momentum", "nesterov", "weight_decay", "all"],
)
def test_sgd_matches_torch(kwargs):
    steps = _run_both(lambda p: SGD(p, 0.1, **kwargs), lambda p: torch.optim.SGD(p, lr=0.1, **kwargs))
    for ours, theirs in steps:
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"betas": (0.8, 0.99), "eps": 1e-6},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
    ],
    ids=["default", "betas_eps", "l2", "adamw"],
)
def test_adam_matches_torch(kwargs):
    steps = _run_both(lambda p: Adam(p, 0.01, **kwargs), lambda p: torch.optim.Adam(p, lr=0.01, **kwargs))
    for ours, theirs in steps:
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_adamw_by_name_is_decoupled():
    params = [Param(np.ones(3))]
    opt = create_optimizer("adamw", params, lr=0.1, weight_decay=0.5)
    assert isinstance(opt, Adam) and opt.decoupled
    nesterov = create_optimizer("nesterov", [Param(np.ones(2))], lr=0.1, momentum=0.9)
    assert isinstance(nesterov, SGD) and nesterov.nesterov


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: SGD(p, 0.0), "learning rate must be positive"),
        (lambda p: SGD(p, 0.1, momentum=1.0), "momentum must lie in [0, 1)"),
        (lambda p: SGD(p, 0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
        (lambda p: Adam(p, 0.1, weight_decay=-1), "weight decay must be non-negative"),
        (lambda p: create_optimizer("adagrad", p, lr=0.1), "unknown optimizer (NumPy reference) 'adagrad'"),
        (lambda p: SGD([], 0.1), "got no parameters"),
    ],
)
def test_bad_optimizer_arguments(make, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make([Param(np.zeros(2))])
