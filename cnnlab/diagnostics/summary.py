"""The end-of-run table: one row per layer, in forward order (pure data, then a separate formatter)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .records import LayerRecord, finite


@dataclass(frozen=True)
class LayerSummary:
    """A layer over the run: first and last sampled gradient norm, typical update ratio, last activation state."""

    layer: str
    layer_type: str
    depth: int
    steps: int  # sampled steps that recorded this layer
    grad_norm_first: float | None
    grad_norm_last: float | None
    update_ratio_median: float | None  # median over sampled steps (finite values only)
    act_mean_last: float | None
    act_std_last: float | None
    dead_fraction_last: float | None
    negative_fraction_last: float | None
    saturated_fraction_last: float | None


def layer_summary(records: Iterable[LayerRecord]) -> tuple[LayerSummary, ...]:
    """Per-layer summary of a run's records, in forward (depth) order.

    Args:
        records: the records of one run (any order).
    """
    by_layer: dict[str, list[LayerRecord]] = {}
    for record in sorted(records, key=lambda r: r.step):
        by_layer.setdefault(record.layer, []).append(record)
    rows = []
    for name, recs in by_layer.items():
        grads = [r.grad_norm for r in recs if r.grad_norm is not None]
        ratios = [r.update_ratio for r in recs if finite(r.update_ratio)]
        last = recs[-1]
        rows.append(
            LayerSummary(
                layer=name,
                layer_type=last.layer_type,
                depth=last.depth,
                steps=len(recs),
                grad_norm_first=grads[0] if grads else None,
                grad_norm_last=grads[-1] if grads else None,
                update_ratio_median=statistics.median(ratios) if ratios else None,
                act_mean_last=last.act_mean,
                act_std_last=last.act_std,
                dead_fraction_last=last.dead_fraction,
                negative_fraction_last=last.negative_fraction,
                saturated_fraction_last=last.saturated_fraction,
            )
        )
    return tuple(sorted(rows, key=lambda r: r.depth))


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2e}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def format_layer_summary(rows: Sequence[LayerSummary]) -> str:
    """A plain-text table: layer, type, gradient norm first → last, update/weight, activation, dead/saturated."""
    header = ("layer", "type", "grad first", "grad last", "update/w", "act mean", "act std", "dead", "neg", "sat")
    table = [header]
    for r in rows:
        table.append(
            (
                r.layer,
                r.layer_type,
                _num(r.grad_norm_first),
                _num(r.grad_norm_last),
                _num(r.update_ratio_median),
                "" if r.act_mean_last is None else f"{r.act_mean_last:.3f}",
                "" if r.act_std_last is None else f"{r.act_std_last:.3f}",
                _pct(r.dead_fraction_last),
                _pct(r.negative_fraction_last),
                _pct(r.saturated_fraction_last),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    rule = "-" * len(lines[0])
    return "\n".join([lines[0], rule, *lines[1:]])
