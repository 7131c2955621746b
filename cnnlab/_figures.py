"""A run's pictures, drawn from numbers: learning curves, a confusion matrix, precision-recall curves, an image
grid and curves of several runs overlaid (matplotlib's Agg canvas, imported only when a picture is drawn; no pyplot,
so nothing opens a window and nothing global changes).

Every function returns a matplotlib `Figure`; `save_figure` writes one to a file whole or not at all. The numbers
come from the caller (the run's history, its test predictions, cnnlab's COCO evaluation): a picture is never read
back as data. Torch-free, so that `cnnlab._painter` draws them in a process of its own beside a training run.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_write

DPI = 100  # figure inches × DPI = pixels; every figure is at least 6.4 inches wide (≥ 640 px)
# History columns drawn in the metric panel, by task: (column suffix, axis label).
METRICS = {
    "classification": (("accuracy", "accuracy"),),
    "detection": (("map", "mAP 0.50:0.95"), ("map50", "mAP 0.50")),
    "regression": (),  # the loss is the mean squared error: the loss panel is the metric
}


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1, *, margins: dict[str, float],
               **subplots: Any):  # fmt: skip
    """A Figure on the Agg canvas and its axes array (rows × columns, always 2-D), placed by fixed `margins`
    (fractions of the figure, as `Figure.subplots_adjust` takes them): a layout engine would double the drawing time,
    and these figures' contents are known."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(nrows, ncols, squeeze=False, **subplots)
    figure.subplots_adjust(**margins)
    return figure, axes


def save_figure(figure, path: str | Path) -> Path:
    """Write `figure` to `path` (format from the suffix: .png, .pdf, .svg …) atomically; returns the path."""
    path = Path(path)
    buffer = io.BytesIO()
    fmt = path.suffix.lstrip(".").lower() or "png"
    fast = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}  # zlib's fastest level: 3× the speed of 6
    figure.savefig(buffer, format=fmt, dpi=DPI, **fast)
    atomic_write(path, lambda f: f.write(buffer.getvalue()), durable=False)
    return path


def _column(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(epochs, values) of the rows that hold a finite `key`."""
    points = [(int(r["epoch"]), float(r[key])) for r in history if _finite(r.get(key))]
    return [e for e, _ in points], [v for _, v in points]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def curves_figure(history: Sequence[Mapping[str, Any]], *, task: str, title: str, best_epoch: int | None = None,
                  into=None):  # fmt: skip
    """Training and validation loss, the task's metric (accuracy, or mAP) and the learning rate per epoch, side by
    side on shared epoch axes; a dotted line marks `best_epoch` (the epoch whose weights the run keeps as best).

    Args:
        history: the run's rows (history.jsonl): 'epoch', 'train_loss', 'val_loss', 'train_accuracy', 'lr' …
        task: 'classification', 'detection' or 'regression' (which metric panel to draw).
        title: the figure's title.
        best_epoch: the best epoch, or None.
        into: a figure an earlier call returned, or several, drawn again with these numbers when its panels are
            the same (otherwise a new figure is made), preferably one whose loss axis has this run's scale: its
            axes and ticks exist already, which saves a third to half of the drawing time; the pixels are those of
            a new figure.
    """
    metrics = METRICS[task]
    panels = ["loss", *(["metric"] if metrics else []), "lr"]
    layout = ("curves", tuple(panels))
    loss_label = "mean squared error" if task == "regression" else "loss"
    epochs, losses = _column(history, "train_loss")
    decades = bool(losses) and min(losses) > 0 and max(losses) / min(losses) > 50  # such a loss reads on a log axis
    scale = "log" if decades else "linear"
    into = _reusable(into, layout, lambda figure: figure.axes[0].get_yscale() == scale)
    if into is not None:
        figure, axes = into, dict(zip(panels, into.axes, strict=True))
        for ax in axes.values():
            _clear_numbers(ax)
    else:
        width = 5.0 * len(panels)
        margins = {"left": 0.75 / width, "right": 1 - 0.15 / width, "bottom": 0.14, "top": 0.88, "wspace": 0.25}
        figure, grid = new_figure(width, 3.8, 1, len(panels), margins=margins, sharex=True)
        figure.cnnlab_layout = layout
        axes = dict(zip(panels, grid[0], strict=True))
        axes["loss"].set_ylabel(loss_label)
        if metrics:
            axes["metric"].set_ylabel(" / ".join(label for _, label in metrics))
        axes["lr"].set_ylabel("learning rate")
        for ax in axes.values():
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        _whole_epochs(axes["loss"])
    for split, style in (("train", "-"), ("val", "--"), ("test", ":")):  # test: the scratch engine's per epoch
        _line(axes["loss"], history, f"{split}_loss", f"{split} {loss_label}", style)
        for suffix, label in metrics:
            _line(axes["metric"], history, f"{split}_{suffix}", f"{split} {label}", style)
    _line(axes["lr"], history, "lr", "learning rate (end of epoch)", "-")
    if axes["loss"].get_yscale() != scale:
        axes["loss"].set_yscale(scale)
    for name, ax in axes.items():
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle=":", linewidth=1.2, label=f"best epoch {best_epoch}")
        if ax.get_lines():
            ax.legend(loc="best", fontsize=8)
        elif name != "lr":
            ax.text(0.5, 0.5, "no finite values recorded", ha="center", va="center", transform=ax.transAxes)
        ax.relim()
        ax.autoscale_view()
    if epochs:
        axes["loss"].set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    figure.suptitle(title, fontsize=11)
    return figure


def _reusable(into, layout: tuple, better=lambda figure: True):
    """Of `into` (None, a figure or a sequence of figures earlier calls returned), the first made for `layout` (a
    kind of figure and its panels) for which `better(figure)` holds, else the first made for `layout`, else None."""
    figures = [] if into is None else [into] if hasattr(into, "savefig") else list(into)
    fitting = [figure for figure in figures if getattr(figure, "cnnlab_layout", None) == layout]
    return next((figure for figure in fitting if better(figure)), fitting[0] if fitting else None)


def _clear_numbers(ax) -> None:
    """Remove what a figure's numbers drew into `ax` (lines, cell and note texts, the legend), keeping its frame."""
    for artist in [*ax.lines, *ax.texts]:
        artist.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.set_prop_cycle(None)  # the lines take the same colours as in a new figure


def _whole_epochs(ax) -> None:
    """Ticks at whole epochs only (the axes sharing this x axis follow)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _line(ax, history: Sequence[Mapping[str, Any]], key: str, label: str, style: str) -> None:
    epochs, values = _column(history, key)
    if epochs:
        ax.plot(epochs, values, style, marker="o" if len(epochs) <= 30 else None, markersize=3, label=label)


def confusion_figure(counts: np.ndarray, classes: Sequence[str], *, title: str, into=None):
    """Confusion matrix: rows are true classes, columns predicted ones; each cell shows its count and is shaded by
    its share of the row (the recall of the class on the diagonal), so rare classes read as clearly as common ones.

    Args:
        counts: (K, K) integer counts, counts[true, predicted].
        classes: the K class names.
        title: the figure's title.
        into: a figure an earlier call returned, or several, drawn again with these counts when its classes are
            the same (otherwise a new figure is made).
    """
    counts = np.asarray(counts)
    k = len(classes)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    layout = ("confusion", tuple(str(c) for c in classes))
    if (into := _reusable(into, layout)) is not None:
        figure, ax = into, into.axes[0]
        _clear_numbers(ax)
        ax.images[0].set_data(shares)
    else:
        side = min(14.0, max(6.4, 0.55 * k + 2.5))
        width = side + 1.2  # the colour bar's share
        margins = {"left": 0.9 / width, "right": 1 - 0.1 / width, "bottom": 0.75 / side, "top": 1 - 0.4 / side}
        figure, ((ax,),) = new_figure(width, side, margins=margins)
        figure.cnnlab_layout = layout
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        figure.colorbar(image, ax=ax, shrink=0.8, label="share of the true class's images")
        ticks = range(k) if k <= 40 else range(0, k, math.ceil(k / 40))
        names = [str(classes[i]) for i in ticks]
        ax.set_xticks(list(ticks), names, rotation=90 if max(map(len, names), default=0) > 3 else 0, fontsize=8)
        ax.set_yticks(list(ticks), names, fontsize=8)
        ax.set(xlabel="predicted class", ylabel="true class")
    if k <= 30:  # a number per cell while the cells are large enough to read it
        size = 9 if k <= 12 else 6
        for (i, j), n in np.ndenumerate(counts):
            if n:
                ink = "white" if shares[i, j] > 0.5 else "black"
                ax.text(j, i, str(int(n)), ha="center", va="center", color=ink, fontsize=size)
    ax.set_title(title)
    return figure


def pr_figure(panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray, np.ndarray, float]]]], *, title: str):
    """Precision-recall curves, one line per class with its AP in the legend, in side-by-side panels (e.g. one per
    IoU threshold). A curve named 'all classes' is drawn thick and black.

    Args:
        panels: (panel title, curves) per panel; a curve is (class name, recall, precision, AP).
        title: the figure's title.
    """
    width = max(6.4, 5.6 * len(panels))
    margins = {"left": 0.65 / width, "right": 1 - 0.2 / width, "bottom": 0.1, "top": 0.87, "wspace": 0.2}
    figure, axes = new_figure(width, 5.0, 1, len(panels), margins=margins)
    for ax, (name, curves) in zip(axes[0], panels, strict=True):
        for label, recall, precision, ap in curves:
            mean = label == "all classes"
            ax.plot(recall, precision, color="black" if mean else None, linewidth=2.4 if mean else 1.2,
                    drawstyle="steps-post" if not mean else "default", label=f"{label} (AP {ap:.3f})")  # fmt: skip
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=name)
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(loc="best", fontsize=7 if len(curves) > 8 else 8)
        else:
            ax.text(0.5, 0.5, "no class with ground truth", ha="center", va="center", transform=ax.transAxes)
    figure.suptitle(title, fontsize=11)
    return figure


def picture_figure(picture):
    """A picture (a PIL image, e.g. a grid drawn by `cnnlab.data.render_grid`) shown at its own pixel size."""
    pixels = np.asarray(picture)
    height, width = pixels.shape[:2]
    figure, ((ax,),) = new_figure(width / DPI, height / DPI, margins={"left": 0, "right": 1, "bottom": 0, "top": 1})
    ax.imshow(pixels, interpolation="nearest")
    ax.set_axis_off()
    return figure


def compare_figure(runs: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], keys: Sequence[str], *, title: str):
    """Curves of several runs overlaid, one panel per history column in `keys`, one colour per run.

    Args:
        runs: (label, history rows) per run.
        keys: history columns to draw ('val_loss', 'val_accuracy', 'lr' …), one panel each.
        title: the figure's title.
    """
    width = max(6.4, 5.0 * len(keys))
    margins = {"left": 0.75 / width, "right": 1 - 0.15 / width, "bottom": 0.13, "top": 0.88, "wspace": 0.25}
    figure, axes = new_figure(width, 4.0, 1, len(keys), margins=margins, sharex=True)
    for ax, key in zip(axes[0], keys, strict=True):
        for i, (label, history) in enumerate(runs):
            epochs, values = _column(history, key)
            if epochs:
                ax.plot(epochs, values, color=f"C{i % 10}", marker="o" if len(epochs) <= 30 else None, markersize=3,
                        label=label)  # fmt: skip
        ax.set(xlabel="epoch", ylabel=key.replace("_", " "))
        _whole_epochs(ax)
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(loc="best", fontsize=8)
    figure.suptitle(title, fontsize=11)
    return figure


# The figures a painter process draws from JSON arguments (see cnnlab._painter), by name.
FIGURES = {"curves": curves_figure, "confusion": confusion_figure, "pr": pr_figure}
REUSABLE = ("curves", "confusion")  # those that take `into=`: figures of the same kind drawn earlier
