"""Effects over seeds: the mean of paired differences with a Student-t 95% interval, and what counts as negligible.

A study runs every arm with the same seeds, so arm A's seed k and arm B's seed k share their data order, their
initial weights where the architectures allow, and their augmentation. The effect of A against B is judged on the
paired differences d_k = a_k − b_k, whose spread is smaller than either arm's own: the interval is
mean(d) ± t(0.975, n−1) · std(d) / √n (Student, 1908). With 3 seeds t = 4.30, so a quick run decides only large
effects; the same rule with 5 or more seeds decides smaller ones.

Each rule also names the smallest effect that matters, `min_effect`. An effect is
- *positive* when the interval lies above 0 and its mean reaches `min_effect`,
- *negative* when the interval lies below 0 and its mean reaches −`min_effect`,
- *negligible* when the whole interval lies within ±`min_effect` (an equivalence test: the data rule out any
  effect that matters),
- *unclear* otherwise (too few seeds or too much noise to say).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# t(0.975, df) for df = 1..30 (two-sided 95%), from the Student-t distribution.
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z975 = 1.959964


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (exact to 1e-4 for every df ≥ 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z, v = _Z975, float(df)  # Cornish–Fisher expansion around the normal quantile
    return z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% t-interval over `n` values (low = high = mean when they are all equal)."""

    mean: float
    low: float
    high: float
    std: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.3g} [{self.low:.3g}, {self.high:.3g}]"

    def format(self, scale: float = 1.0, digits: int = 1, unit: str = "") -> str:
        """'4.2 (95% CI 1.1–7.3)' with values times `scale`."""
        m, lo, hi = (v * scale for v in (self.mean, self.low, self.high))
        return f"{m:.{digits}f}{unit} (95% CI {lo:.{digits}f} to {hi:.{digits}f}{unit})"


def interval(values: Sequence[float]) -> Interval:
    """Mean and 95% t-interval of `values`; NaNs count as failures of the measurement and widen it to ±∞."""
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0:
        raise ValueError("no values to summarize")
    if n == 1 or not np.all(np.isfinite(x)):
        mean = float(x.mean()) if np.all(np.isfinite(x)) else math.nan
        return Interval(mean, -math.inf, math.inf, math.nan, n)
    mean, std = float(x.mean()), float(x.std(ddof=1))
    half = t975(n - 1) * std / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, std, n)


def paired(a: Sequence[float], b: Sequence[float]) -> Interval:
    """The interval of the paired differences a_k − b_k (the same seed k in both arms)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same seeds in both arms, got {a.size} and {b.size}")
    return interval(a - b)


POSITIVE, NEGATIVE, NEGLIGIBLE, UNCLEAR = "positive", "negative", "negligible", "unclear"


@dataclass(frozen=True)
class Effect:
    """The paired effect a − b and its reading against the smallest effect that matters."""

    interval: Interval
    min_effect: float

    @property
    def direction(self) -> str:
        iv, delta = self.interval, self.min_effect
        if iv.low > 0 and iv.mean >= delta:
            return POSITIVE
        if iv.high < 0 and iv.mean <= -delta:
            return NEGATIVE
        if -delta < iv.low and iv.high < delta:
            return NEGLIGIBLE
        return UNCLEAR

    @property
    def mean(self) -> float:
        return self.interval.mean


def effect(a: Sequence[float], b: Sequence[float], min_effect: float) -> Effect:
    """The paired effect of arm a over arm b (a_k − b_k per seed), judged against `min_effect` (> 0)."""
    if not min_effect > 0:
        raise ValueError(f"min_effect must be positive, got {min_effect}")
    return Effect(paired(a, b), min_effect)


def mean_std(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    """'23.1 ± 1.2' (mean ± sample standard deviation, times `scale`); one value prints alone."""
    x = np.asarray(values, dtype=np.float64) * scale
    if x.size == 1:
        return f"{x[0]:.{digits}f}"
    return f"{x.mean():.{digits}f} ± {x.std(ddof=1):.{digits}f}"
