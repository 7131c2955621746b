"""The gradient-descent studies' shared helpers: gradient noise against its closed form, the full-loss tracker's
sample counting, steps to a target, the rate picker and how parts combine into a verdict kind."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cnnlab.engine import TrainingDiverged
from cnnlab.studies._gradient import (
    LossTracker,
    _flat_grad,
    expected_noise,
    gradient_noise,
    pick_lr,
    sci,
    steps_to,
    up_fraction,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models are fastest on one thread (and do not spin on a shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _toy():
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)).double()
    x = torch.randn(12, 1, 2, 2, dtype=torch.float64)
    y = torch.randint(0, 3, (12,))
    return model, x, y


def test_gradient_noise_matches_the_sampling_formula():
    model, x, y = _toy()
    full = _flat_grad(model, x, y)
    spread = float(np.mean([(_flat_grad(model, x[i : i + 1], y[i : i + 1]) - full).pow(2).sum() for i in range(12)]))
    gen = torch.Generator().manual_seed(0)
    for b in (1, 6):
        measured = gradient_noise(model, x, y, b, 400, gen)
        expected = math.sqrt(expected_noise(spread, b, 12)) / float(full.norm())
        assert measured == pytest.approx(expected, rel=0.1)


def test_full_batch_noise_is_zero_and_bad_batch_raises():
    model, x, y = _toy()
    assert gradient_noise(model, x, y, 12, 3, torch.Generator().manual_seed(0)) < 1e-12
    assert expected_noise(5.0, 12, 12) == 0.0
    with pytest.raises(ValueError, match="batch"):
        gradient_noise(model, x, y, 13, 1, torch.Generator())


class _State:
    def __init__(self, model):
        self.model, self.step = model, 0


def test_loss_tracker_counts_samples_with_a_short_last_batch():
    model, x, y = _toy()
    tracker = LossTracker(x, y, first_steps=2, marks_per_epoch=2, batch=5)  # 12 samples: batches 5, 5, 2
    state = _State(model)
    tracker.on_train_start(state)
    for _ in range(6):  # two epochs
        tracker.on_step_start(state)
        state.step += 1
        tracker.on_step_end(state)
    epochs = [m[0] for m in tracker.marks]
    steps = [m[1] for m in tracker.marks]
    assert epochs == pytest.approx([0, 10 / 12, 1, 22 / 12, 2])  # a mark once ≥ 6, 12, 18, 24 samples are done
    assert steps == [0, 2, 3, 5, 6]
    assert len(tracker.step_loss) == 3 and len(tracker.step_seconds) == 6


def test_up_fraction_and_steps_to():
    assert up_fraction([3, 2, 2.5, 1, 1.5]) == pytest.approx(0.5)
    assert up_fraction([3, 2, 1]) == 0.0
    assert steps_to([5, 3, 0.9, 0.5], 1.0) == 2
    assert steps_to([5, 3], 1.0) is None


def test_pick_lr_skips_diverged_and_nan():
    def score(lr):
        if lr > 0.5:
            raise TrainingDiverged("boom")
        return {0.01: 3.0, 0.1: 1.0, 0.3: math.nan}[lr]

    assert pick_lr((0.01, 0.1, 0.3, 1.0), score) == 0.1
    assert pick_lr((0.01, 0.1), lambda lr: 2.0) == 0.01  # ties go to the smaller rate


def test_sci():
    assert sci([1e-3, 3e-3]) == "2.0e-03 ± 1e-03"
    assert sci([2.5]) == "2.5e+00"
