"""Learning-rate schedules as pure functions of the optimizer step.

A schedule maps step t (0-based, of `total` steps) to a factor of the base learning rate. Being a function of the
step alone, it needs no state of its own: a resumed run recomputes the exact rate from the step it resumes at.

    constant     1
    step         gamma^floor(t / step_size)
    multistep    gamma^(number of milestones ≤ t)
    cos          min_factor + (1 − min_factor)·(1 + cos(π·t / total)) / 2       (cosine decay)
    warmup_cos   linear from 1/warmup to 1 over `warmup` steps, then cos over the rest
    onecycle     Smith & Topin (2019), as torch's OneCycleLR: cos from 1/div up to 1 over pct·total steps,
                 then cos down to 1/(div·final_div)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError, unknown_name

SCHEDULES = ("constant", "step", "multistep", "cos", "warmup_cos", "onecycle")


def _cos(start: float, end: float, fraction: float) -> float:
    """Cosine interpolation from `start` (fraction 0) to `end` (fraction 1)."""
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


@dataclass(frozen=True)
class Schedule:
    """Learning-rate factor per step. Build with `create_schedule`; call with the step."""

    name: str
    total: int  # optimizer steps in the whole run
    warmup: int = 0  # warmup_cos: steps of linear warmup
    step_size: int = 1  # step: steps between decays
    milestones: tuple[int, ...] = ()  # multistep: steps at which the rate is multiplied by gamma
    gamma: float = 0.1  # step, multistep: decay factor
    min_factor: float = 0.0  # cos, warmup_cos: final rate as a fraction of the base rate
    pct_start: float = 0.3  # onecycle: fraction of steps spent rising
    div_factor: float = 25.0  # onecycle: initial rate = base / div_factor
    final_div_factor: float = 1e4  # onecycle: final rate = initial / final_div_factor

    def __call__(self, step: int) -> float:
        t = min(step, self.total)
        if self.name == "constant":
            return 1.0
        if self.name == "step":
            return self.gamma ** (t // self.step_size)
        if self.name == "multistep":
            return self.gamma ** sum(1 for m in self.milestones if m <= t)
        if self.name == "cos":
            return _cos(1.0, self.min_factor, t / self.total)
        if self.name == "warmup_cos":
            if t < self.warmup:
                return (t + 1) / self.warmup
            return _cos(1.0, self.min_factor, (t - self.warmup) / max(1, self.total - self.warmup))
        # onecycle, with torch.optim.lr_scheduler.OneCycleLR's phase boundaries (three_phase=False)
        initial = 1.0 / self.div_factor
        final = initial / self.final_div_factor
        peak = float(self.pct_start * self.total) - 1
        if t <= peak:
            return _cos(initial, 1.0, t / peak)
        return _cos(1.0, final, (t - peak) / (self.total - 1 - peak))


def create_schedule(
    name: str,
    *,
    total_steps: int,
    warmup_steps: int = 0,
    step_size: int = 1,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    min_factor: float = 0.0,
    pct_start: float = 0.3,
) -> Schedule:
    """Check the arguments and build a `Schedule` (all positions in optimizer steps)."""
    if name not in SCHEDULES:
        raise unknown_name("schedule", name, SCHEDULES)
    if total_steps < 1:
        raise ConfigError(f"a schedule needs at least one step, got {total_steps}")
    if name == "warmup_cos" and not 0 < warmup_steps < total_steps:
        raise ConfigError(
            f"warmup_cos needs a warmup shorter than the run and longer than 0 (got {warmup_steps} of {total_steps} "
            "steps); set --warmup in epochs, e.g. --warmup 1"
        )
    if name == "onecycle" and not 0 < pct_start < 1:
        raise ConfigError(f"onecycle pct_start must lie in (0, 1), got {pct_start}")
    if name == "onecycle" and pct_start * total_steps < 2:
        raise ConfigError(f"onecycle needs at least 2 rising steps; {total_steps} steps are too few")
    if not 0 <= min_factor <= 1:
        raise ConfigError(f"min_lr must lie between 0 and the base rate (factor {min_factor})")
    if name == "step" and step_size < 1:
        raise ConfigError(f"step schedule needs step_size ≥ 1 step, got {step_size}")
    return Schedule(
        name,
        total_steps,
        warmup=warmup_steps,
        step_size=step_size,
        milestones=tuple(sorted(milestones)),
        gamma=gamma,
        min_factor=min_factor,
        pct_start=pct_start,
    )
