"""Conclusions from the records: vanishing or exploding gradients, dead ReLUs, saturated sigmoid/tanh units.

Pure functions of the records and the thresholds. The thresholds are rules of thumb, each documented where it is
defined; each warning names its standard cures (for vanishing and exploding gradients, dead ReLUs, saturation).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields

from ..errors import ConfigError
from .records import LayerRecord, finite

VANISHING, EXPLODING, DEAD_RELU, SATURATION = "vanishing", "exploding", "dead_relu", "saturation"

CURES = {
    VANISHING: "use ReLU-family activations, batch normalization or residual connections",
    EXPLODING: "clip gradients, lower the learning rate, add batch normalization or start from a smaller "
    "(He/Xavier) initialization",
    DEAD_RELU: "use Leaky ReLU (act='leaky_relu') or a smaller learning rate: one too-large update can push a "
    "unit to where it never fires again",
    SATURATION: "use ReLU, add batch normalization, or initialize so that pre-activations start near 0 (Xavier/Glorot)",
}


@dataclass(frozen=True)
class Thresholds:
    """When a condition is reported. Depth-wise conditions compare the median gradient norm of the first and the
    last `depth_fraction` of the parameterized layers (forward order; at least one layer each)."""

    vanishing_ratio: float = 1e-3  # first/last layers' gradient norm below this: vanishing (a 1000× drop)
    exploding_ratio: float = 1e3  # first/last layers' gradient norm above this: exploding with depth
    depth_fraction: float = 0.25  # share of the parameterized layers that are "first" and "last"
    growth: float = 100.0  # total gradient norm rising by this factor …
    growth_steps: int = 3  # … across this many consecutive sampled steps, rising at every one: exploding
    dead_fraction: float = 0.5  # a ReLU layer with at least this share of dead units is reported
    saturated_fraction: float = 0.3  # a sigmoid/tanh layer with at least this share of saturated outputs …
    saturation_derivative: float = 0.01  # … where an output is saturated when f' < this × the maximum of f'
    window: int = 5  # layer conditions are judged on the last `window` sampled steps …
    persist: float = 0.5  # … and reported when they hold on at least this share of them

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"threshold {f.name} must be a positive number, got {value!r}")
        for name in ("depth_fraction", "dead_fraction", "saturated_fraction", "saturation_derivative", "persist"):
            if getattr(self, name) > 1:
                raise ConfigError(f"threshold {name} is a fraction in (0, 1], got {getattr(self, name)}")
        for name in ("growth_steps", "window"):
            if not isinstance(getattr(self, name), int):
                raise ConfigError(f"threshold {name} counts sampled steps: an integer, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class Finding:
    """One conclusion: what is wrong (one line), the cure, and where and when it was seen."""

    code: str  # 'vanishing', 'exploding', 'dead_relu' or 'saturation'
    message: str
    cure: str
    layers: tuple[str, ...] = ()
    steps: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


def _by_step(records: Iterable[LayerRecord]) -> dict[int, list[LayerRecord]]:
    grouped: dict[int, list[LayerRecord]] = defaultdict(list)
    for record in records:
        grouped[record.step].append(record)
    return {step: sorted(rows, key=lambda r: r.depth) for step, rows in sorted(grouped.items())}


def _end_size(layers: int, depth_fraction: float) -> int:
    """How many layers count as "first" (and as "last"): the fraction, at least one, at most half."""
    return max(1, min(layers // 2, round(layers * depth_fraction)))


def depth_ratio(rows: Sequence[LayerRecord], depth_fraction: float = 0.25) -> float | None:
    """Median gradient norm of the first layers over that of the last layers at one step (None: cannot judge).

    Args:
        rows: the records of one step; only layers with a finite gradient norm take part.
        depth_fraction: the share of those layers that counts as first and as last (at least one each).
    """
    norms = [r.grad_norm for r in sorted(rows, key=lambda r: r.depth) if finite(r.grad_norm)]
    if len(norms) < 2:
        return None
    k = _end_size(len(norms), depth_fraction)
    first, last = statistics.median(norms[:k]), statistics.median(norms[-k:])
    return first / last if last > 0 else None


def _fmt_layers(values: dict[str, float]) -> str:
    shown = [f"{name} {value:.0%}" for name, value in list(values.items())[:3]]
    return ", ".join(shown) + (f" and {len(values) - 3} more" if len(values) > 3 else "")


def _persistent(steps: dict, condition: Callable[[list[LayerRecord]], bool], t: Thresholds) -> list[int]:
    """Recent steps on which `condition` holds, or [] when it holds on fewer than `persist` of them."""
    recent = list(steps)[-t.window :]
    hits = [step for step in recent if condition(steps[step])]
    return hits if hits and len(hits) >= math.ceil(t.persist * len(recent)) else []


def _depth_findings(steps: dict[int, list[LayerRecord]], t: Thresholds) -> list[Finding]:
    findings = []
    ratios = {step: depth_ratio(rows, t.depth_fraction) for step, rows in steps.items()}
    params = [r for r in next(reversed(steps.values()), []) if finite(r.grad_norm)]
    k = _end_size(len(params), t.depth_fraction)
    ends = (params[0].layer, params[-1].layer) if params else ()
    for code, below, bound, direction in (
        (VANISHING, True, t.vanishing_ratio, "vanish"),
        (EXPLODING, False, t.exploding_ratio, "explode"),
    ):

        def holds(rows, below=below, bound=bound):
            ratio = ratios[rows[0].step]
            return ratio is not None and (ratio < bound if below else ratio > bound)

        hits = _persistent(steps, holds, t)
        if hits:
            ratio = ratios[hits[-1]]
            findings.append(
                Finding(
                    code,
                    f"gradients {direction} toward the input: the first {k} layers' median gradient norm is "
                    f"{ratio:.1e} × the last {k} layers' (threshold {bound:g}) at {len(hits)} recent sampled "
                    f"step(s), so the {'early layers barely learn' if below else 'early layers take huge steps'}",
                    CURES[code],
                    ends,
                    tuple(hits),
                )
            )
    return findings


def _growth_finding(steps: dict[int, list[LayerRecord]], t: Thresholds) -> Finding | None:
    totals = [
        (step, math.sqrt(sum(r.grad_norm**2 for r in rows if finite(r.grad_norm)))) for step, rows in steps.items()
    ]
    for i in range(len(totals) - t.growth_steps):
        run = totals[i : i + t.growth_steps + 1]
        rising = all(b[1] > a[1] for a, b in itertools.pairwise(run))
        if rising and run[0][1] > 0 and run[-1][1] / run[0][1] >= t.growth:
            (a, first), (b, last) = run[0], run[-1]
            return Finding(
                EXPLODING,
                f"the total gradient norm grew {last / first:.3g}× from step {a} to step {b} "
                f"({first:.2e} → {last:.2e}), rising at every sampled step: the updates are running away",
                CURES[EXPLODING],
                (),
                tuple(step for step, _ in run),
            )
    return None


def _nonfinite_finding(steps: dict[int, list[LayerRecord]]) -> Finding | None:
    for step, rows in steps.items():
        bad = [
            r.layer
            for r in rows
            if (r.grad_norm is not None and not finite(r.grad_norm))
            or (r.weight_norm is not None and not finite(r.weight_norm))
        ]
        if bad:
            return Finding(
                EXPLODING,
                f"gradients or weights became non-finite (inf/NaN) at step {step} in {len(bad)} layer(s), first "
                f"{bad[0]}: from there on every update is meaningless",
                CURES[EXPLODING],
                tuple(bad),
                (step,),
            )
    return None


def _unit_finding(steps, t: Thresholds, column: str, bound: float, code: str, what: str) -> Finding | None:
    last = next(reversed(steps.values()), [])
    flagged, hit_steps = {}, set()
    for layer in (r.layer for r in last if getattr(r, column) is not None):

        def holds(rows, layer=layer):
            value = next((getattr(r, column) for r in rows if r.layer == layer), None)
            return value is not None and value >= bound

        hits = _persistent(steps, holds, t)
        if hits:
            flagged[layer] = next(getattr(r, column) for r in steps[hits[-1]] if r.layer == layer)
            hit_steps.update(hits)
    if not flagged:
        return None
    return Finding(
        code,
        f"{len(flagged)} layer(s) have at least {bound:.0%} {what}: {_fmt_layers(flagged)}",
        CURES[code],
        tuple(flagged),
        tuple(sorted(hit_steps)),
    )


def find_problems(records: Iterable[LayerRecord], thresholds: Thresholds | None = None) -> tuple[Finding, ...]:
    """What the records say is wrong, most serious first (exploding, vanishing, dead ReLUs, saturation).

    Args:
        records: the records of one run (any order).
        thresholds: when to report; `Thresholds()` unless given.
    """
    t = thresholds or Thresholds()
    steps = _by_step(records)
    if not steps:
        return ()
    depth = _depth_findings(steps, t)
    candidates = [
        _nonfinite_finding(steps),
        _growth_finding(steps, t),
        *(f for f in depth if f.code == EXPLODING),
        *(f for f in depth if f.code == VANISHING),
        _unit_finding(
            steps, t, "dead_fraction", t.dead_fraction, DEAD_RELU, "dead units (zero for every sample; no gradient)"
        ),
        _unit_finding(
            steps,
            t,
            "saturated_fraction",
            t.saturated_fraction,
            SATURATION,
            f"saturated outputs (f' below {t.saturation_derivative:.0%} of its maximum)",
        ),
    ]
    return tuple(f for f in candidates if f is not None)


def format_findings(findings: Sequence[Finding]) -> str:
    """One 'warning:' line per finding and its cure on the next; a single line when there is nothing to report."""
    if not findings:
        return "diagnostics: no vanishing or exploding gradients, dead ReLUs or saturation found"
    return "\n".join(f"warning: {f.code}: {f.message}\n  cure: {f.cure}" for f in findings)
