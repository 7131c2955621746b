"""What the gradient-descent studies share: the full training loss along a run, gradient noise, steps to a target,
a learning rate picked from a fixed grid, and how several parts of a claim combine into one verdict kind.

Gradient noise of batch size b at weights w: with g the gradient of the mean loss over all N training samples and
g_b that of a batch of b samples drawn without replacement,

    noise(b) = sqrt(E‖g_b − g‖²) / ‖g‖,    E‖g_b − g‖² = (N − b) / (b (N − 1)) · σ²,    σ² = mean_i ‖g_i − g‖²

so it falls like 1/√b and is exactly 0 for b = N (batch gradient descent).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data import TensorDataset, make_loader
from ..engine import Callback, TrainingDiverged, TrainState


def train_tensors(data: TensorDataset, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The whole training set as the engine feeds it (normalized by its own statistics): (N, C, H, W), (N,)."""
    loader = make_loader(data, len(data), shuffle=False, seed=0, augment=None, device=device)
    (batch,) = list(loader)
    return batch.inputs, batch.targets


@torch.no_grad()
def full_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean cross-entropy of `model` over all of (x, y): the objective the descent minimizes."""
    return float(F.cross_entropy(model(x), y))


def _flat_grad(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), params)
    return torch.cat([g.reshape(-1) for g in grads])  # every parameter's gradient -> one (P,) vector


def gradient_noise(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, draws: int, generator: torch.Generator
) -> float:
    """Relative gradient noise sqrt(mean ‖g_b − g‖²) / ‖g‖ over `draws` batches of `batch` samples (without
    replacement inside a batch) at the model's current weights; the weights are not changed."""
    n = x.shape[0]
    if not 1 <= batch <= n:
        raise ValueError(f"batch must lie in [1, {n}], got {batch}")
    full = _flat_grad(model, x, y)
    squared = []
    for _ in range(draws):
        idx = torch.randperm(n, generator=generator)[:batch].to(x.device)
        squared.append(float((_flat_grad(model, x[idx], y[idx]) - full).pow(2).sum()))
    return math.sqrt(float(np.mean(squared))) / float(full.norm())


def expected_noise(per_sample_spread: float, batch: int, n: int) -> float:
    """E‖g_b − g‖² for batches of `batch` of `n` samples drawn without replacement, from σ² = mean_i ‖g_i − g‖²."""
    if n == 1:
        return 0.0
    return (n - batch) / (batch * (n - 1)) * per_sample_spread


class LossTracker(Callback):
    """Records the full training loss along a run, and the time of each optimizer step.

    Args:
        x, y: the whole training set, normalized as the engine normalizes it.
        first_steps: record the full loss before the first step and after each of the first `first_steps` steps.
        marks_per_epoch: also record (epoch, step, seconds, loss) each time another 1/marks_per_epoch of an epoch's
            samples has been processed; `seconds` sums the steps' own time, without the time spent recording.
        batch: samples per optimizer step (the last batch of an epoch may be smaller; it is counted as it is).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, first_steps: int, marks_per_epoch: int, batch: int):
        self.x, self.y = x, y
        self.first_steps, self.marks_per_epoch = first_steps, marks_per_epoch
        self.n, self.batch = x.shape[0], batch
        self.step_loss: list[float] = []
        self.marks: list[tuple[float, int, float, float]] = []  # (epochs, steps, seconds, full loss)
        self.step_seconds: list[float] = []
        self._samples, self._next = 0, 0.0
        self._started = 0.0

    def on_train_start(self, state: TrainState) -> None:
        loss = full_loss(state.model, self.x, self.y)
        self.step_loss.append(loss)
        self.marks.append((0.0, 0, 0.0, loss))
        self._next = self.n / self.marks_per_epoch

    def on_step_start(self, state: TrainState) -> None:
        self._started = time.perf_counter()

    def on_step_end(self, state: TrainState) -> None:
        self.step_seconds.append(time.perf_counter() - self._started)
        within = self._samples % self.n
        self._samples += min(self.batch, self.n - within)
        loss = None
        if state.step <= self.first_steps:
            loss = full_loss(state.model, self.x, self.y)
            self.step_loss.append(loss)
        if self._samples >= self._next - 1e-9:
            loss = full_loss(state.model, self.x, self.y) if loss is None else loss
            self.marks.append((self._samples / self.n, state.step, float(np.sum(self.step_seconds)), loss))
            while self._next <= self._samples + 1e-9:
                self._next += self.n / self.marks_per_epoch


def up_fraction(losses: Sequence[float]) -> float:
    """Share of steps after which the loss is higher than before: 0 for a steady descent, ½ for a random walk."""
    d = np.diff(np.asarray(losses, dtype=np.float64))
    return float(np.mean(d > 0)) if d.size else math.nan


def steps_to(curve: Sequence[float], target: float) -> int | None:
    """The first index of `curve` (step t, curve[0] before any step) at or below `target`; None if never."""
    hits = np.flatnonzero(np.asarray(curve, dtype=np.float64) <= target)
    return int(hits[0]) if hits.size else None


def pick_lr(grid: Sequence[float], score: Callable[[float], float]) -> float:
    """The learning rate of `grid` with the lowest `score` (lower is better; a diverged run scores +inf).
    Ties go to the smaller rate."""
    best, best_score = grid[0], math.inf
    for lr in grid:
        try:
            value = score(lr)
        except TrainingDiverged:
            value = math.inf
        if math.isfinite(value) and value < best_score:
            best, best_score = lr, value
    return best


def log_ratio(a: Any, b: Any) -> np.ndarray:
    """log(a / b) element-wise (paired per seed); a ratio of 2 is +0.69."""
    return np.log(np.asarray(a, dtype=np.float64)) - np.log(np.asarray(b, dtype=np.float64))


def sci(values: Any) -> str:
    """'3.1e-04 ± 4e-05': mean ± sample std in scientific notation, for numbers that span decades."""
    x = np.asarray(values, dtype=np.float64)
    return f"{x.mean():.1e} ± {x.std(ddof=1):.0e}" if x.size > 1 else f"{x[0]:.1e}"
