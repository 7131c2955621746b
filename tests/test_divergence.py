"""The divergence rule both engines share (cnnlab/_divergence.py), on hand-made loss sequences."""

import math

import pytest

from cnnlab._divergence import FACTOR, DivergenceGuard
from cnnlab.errors import CnnlabError, TrainingDiverged


def feed(guard: DivergenceGuard, losses, lr=0.1) -> int:
    """Check `losses` as steps 1, 2, …; returns the number of steps taken."""
    for i, loss in enumerate(losses):
        guard.check(loss, step=i + 1, epoch=1, lr=lr)
    return len(losses)


def test_the_first_step_sets_the_reference_and_is_never_stopped_for_its_size():
    guard = DivergenceGuard()
    assert guard.limit == math.inf
    feed(guard, [5e6])  # an initialization that starts far off
    assert guard.reference == 5e6 and guard.limit == FACTOR * 5e6


def test_a_loss_past_the_limit_stops_the_step_with_one_line():
    guard = DivergenceGuard(cure="lower --lr")
    feed(guard, [2.0, 300.0, 2.0 * FACTOR])  # up to the limit itself is allowed
    with pytest.raises(TrainingDiverged) as info:
        guard.check(2.0 * FACTOR * 1.01, step=4, epoch=2, lr=0.5, detail=lambda: "largest gradient: fc (9e+03)")
    assert str(info.value) == (
        "step 4 (epoch 2): training diverged: the loss 2.02e+04 passed 10000 × 2, the first step's loss (lr 0.5); "
        "largest gradient: fc (9e+03); lower --lr, or turn this check off with --no-divergence-guard "
        "(divergence_guard=False)"
    )
    assert "\n" not in str(info.value)
    assert isinstance(info.value, CnnlabError) and info.value.exit_status == 3


def test_log_k_is_the_least_reference_for_k_classes():
    guard = DivergenceGuard(classes=10)
    feed(guard, [0.01])  # a first batch the untrained model happens to fit
    assert guard.limit == pytest.approx(FACTOR * math.log(10))
    with pytest.raises(TrainingDiverged, match=r"passed 10000 × 2\.303, log 10 for 10 classes \(lr 0\.1\)"):
        feed(guard, [0.01, 2.31e4])


def test_the_guard_off_lets_any_finite_loss_pass_but_never_nan_or_infinity():
    guard = DivergenceGuard(enabled=False)
    assert feed(guard, [1.0, 1e30, 1e300]) == 3
    with pytest.raises(TrainingDiverged, match=r"^step 4 \(epoch 1\): the loss is not finite \(loss nan, lr 0\.1\)"):
        guard.check(math.nan, step=4, epoch=1, lr=0.1)
    with pytest.raises(TrainingDiverged, match=r"^step 5 \(epoch 1\): the gradient is not finite \(loss 1, lr 0\.1\)"):
        guard.check(1.0, step=5, epoch=1, lr=0.1, gradient_finite=False)


def test_a_zero_first_loss_waits_for_a_positive_reference():
    guard = DivergenceGuard()
    feed(guard, [0.0, 0.0, 1e-3])
    assert guard.reference == 1e-3


def test_a_resumed_reference_is_kept():
    guard = DivergenceGuard(reference=2.0)
    with pytest.raises(TrainingDiverged, match="the first step's loss"):
        feed(guard, [3e4])  # the first step of this process is not the run's first step
