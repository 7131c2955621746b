"""Pictures of the records (matplotlib, imported only here; figures are drawn with the Agg canvas, no pyplot).

- `plot_grad_heatmap`: layer × sampled step, colour = log10 of the gradient norm. Vanishing gradients show as a
  dark band on the input side that stays dark; exploding ones as a bright band that grows.
- `plot_grad_depth`: gradient norm against depth at a few steps; a straight line on the log axis is a
  geometric decay (vanishing, falling toward the input) or growth (exploding, rising toward the input).
- `plot_units`: fraction of dead ReLU units and of saturated sigmoid/tanh outputs over steps, one line per layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .records import LayerRecord, finite


def grad_grid(records: Iterable[LayerRecord]) -> tuple[list[str], list[int], np.ndarray]:
    """Layers with parameters (forward order), sampled steps, and the (layers, steps) array of log10 ‖grad‖.

    Cells without a finite, positive gradient norm are NaN (drawn blank).
    """
    records = [r for r in records if r.has_params]
    layers = [name for _, name in sorted({(r.depth, r.layer) for r in records})]
    steps = sorted({r.step for r in records})
    grid = np.full((len(layers), len(steps)), np.nan)
    row, col = {name: i for i, name in enumerate(layers)}, {step: j for j, step in enumerate(steps)}
    for r in records:
        if finite(r.grad_norm) and r.grad_norm > 0:
            grid[row[r.layer], col[r.step]] = math.log10(r.grad_norm)
    return layers, steps, grid


def _figure(width: float, height: float, ncols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, axes


def _layer_ticks(axis_set, labels: Sequence[str], limit: int = 30) -> None:
    """Label every layer when there are few, else about `limit` evenly spaced ones."""
    stride = max(1, math.ceil(len(labels) / limit))
    positions = list(range(0, len(labels), stride))
    axis_set(positions, [labels[i] for i in positions], fontsize=7)


def plot_grad_heatmap(records: Iterable[LayerRecord]):
    """Heatmap of log10 gradient norm: rows are layers (input at the top), columns are sampled steps."""
    layers, steps, grid = grad_grid(records)
    figure, (ax,) = _figure(8, max(3.0, 0.22 * len(layers) + 1.5))
    if not layers:
        ax.text(0.5, 0.5, "no sampled step with gradients", ha="center", va="center")
        return figure
    image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis")
    figure.colorbar(image, ax=ax, label="log10 ‖gradient‖")
    _layer_ticks(ax.set_yticks, layers)
    stride = max(1, math.ceil(len(steps) / 12))
    ax.set_xticks(range(0, len(steps), stride), [str(s) for s in steps[::stride]])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("layer (input side at the top)")
    ax.set_title("gradient norm per layer and step")
    return figure


def default_steps(steps: Sequence[int], count: int = 4) -> list[int]:
    """Up to `count` evenly spaced steps from `steps`, always the first and the last."""
    if len(steps) <= count:
        return list(steps)
    return [steps[round(i * (len(steps) - 1) / (count - 1))] for i in range(count)]


def plot_grad_depth(records: Iterable[LayerRecord], steps: Sequence[int] | None = None):
    """Gradient norm (log axis) against layer depth, one line per chosen step.

    Args:
        records: the run's records.
        steps: the steps to draw; up to four evenly spaced sampled steps unless given.
    """
    layers, all_steps, grid = grad_grid(records)
    figure, (ax,) = _figure(8, 4)
    chosen = default_steps(all_steps) if steps is None else [s for s in steps if s in all_steps]
    if not chosen:
        ax.text(0.5, 0.5, "no sampled step with gradients", ha="center", va="center")
        return figure
    for step in chosen:
        ax.plot(range(len(layers)), 10 ** grid[:, all_steps.index(step)], marker=".", label=f"step {step}")
    ax.set_yscale("log")
    _layer_ticks(ax.set_xticks, layers)
    ax.tick_params(axis="x", labelrotation=90)
    ax.set_xlabel("layer (input → output)")
    ax.set_ylabel("‖gradient‖")
    ax.set_title("gradient norm against depth")
    ax.legend(fontsize=8)
    return figure


def _curves(ax, records: list[LayerRecord], column: str, title: str, empty: str, dashed: str | None = None) -> None:
    import matplotlib as mpl

    layers = sorted({(r.depth, r.layer) for r in records if getattr(r, column) is not None})
    if not layers:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
    colors = mpl.colormaps["viridis"]
    for rank, (_, name) in enumerate(layers):
        rows = sorted((r for r in records if r.layer == name), key=lambda r: r.step)
        color = colors(rank / max(1, len(layers) - 1))
        label = name if len(layers) <= 8 else None
        ax.plot([r.step for r in rows], [getattr(r, column) for r in rows], color=color, label=label)
        if dashed and any(getattr(r, dashed) is not None for r in rows):
            ax.plot([r.step for r in rows], [getattr(r, dashed) for r in rows], color=color, linestyle="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("optimizer step")
    ax.set_title(title + ("" if len(layers) <= 8 else " (dark: input side, light: output side)"), fontsize=9)
    if 0 < len(layers) <= 8:
        ax.legend(fontsize=7)


def plot_units(records: Iterable[LayerRecord]):
    """Two panels over steps: fraction of dead ReLU units (dashed: Leaky ReLU units negative for every sample)
    and fraction of saturated sigmoid/tanh outputs, one line per activation layer."""
    records = list(records)
    figure, (dead, sat) = _figure(10, 4, ncols=2)
    _curves(dead, records, "dead_fraction", "dead units (0 for every sample)", "no ReLU layers", "negative_fraction")
    _curves(sat, records, "saturated_fraction", "saturated sigmoid/tanh outputs", "no sigmoid/tanh layers")
    dead.set_ylabel("fraction")
    return figure


PLOTS = (plot_grad_heatmap, plot_grad_depth, plot_units)
