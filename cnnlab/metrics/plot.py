"""Precision-recall plots of a COCO evaluation (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np

from .._io import atomic_write
from ..errors import ConfigError
from .detection import CocoResult


def mean_pr_curve(result: CocoResult, iou_threshold: float | None = None, *, area: int = 0) -> np.ndarray:
    """Interpolated precision at the 101 recall points, averaged over categories with ground truth (−1 cells
    left out, as in the AP): at one IoU threshold, or over all of them when `iou_threshold` is None.

    Args:
        result: a `coco_evaluate` result.
        iou_threshold: one of `result.iou_thresholds`, or None for their mean.
        area: area range index (0 'all', 1 small, 2 medium, 3 large); the largest max_dets is used.
    """
    thresholds = np.asarray(result.iou_thresholds)
    if iou_threshold is None:
        rows = np.arange(len(thresholds))
    else:
        rows = np.flatnonzero(thresholds == iou_threshold)
        if len(rows) == 0:
            raise ConfigError(f"IoU threshold {iou_threshold} was not evaluated; choose one of {list(thresholds)}")
    s = result.precision[rows, :, :, area, -1]  # (t, R, K)
    valid = s > -1
    counts = valid.sum(axis=(0, 2))
    return np.where(counts > 0, np.where(valid, s, 0).sum(axis=(0, 2)) / np.maximum(counts, 1), np.nan)


def plot_pr_curves(
    result: CocoResult, path: str | os.PathLike, *, iou_thresholds: Sequence[float | None] = (0.5, 0.75, None)
) -> None:
    """Save a figure of the category-averaged precision-recall curves, one line per IoU threshold (None: the mean
    over all thresholds, whose area is the COCO AP). Written to a temporary file and renamed, so a failed call
    leaves nothing half-written.

    Args:
        result: a `coco_evaluate` result.
        path: output file; its suffix picks the format (.png, .pdf, .svg, ...).
        iou_thresholds: the curves to draw.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    canvas = FigureCanvasAgg(fig)
    if fmt not in canvas.get_supported_filetypes():
        raise ConfigError(f"cannot write {path!r}: choose a suffix among {sorted(canvas.get_supported_filetypes())}")
    ax = fig.add_subplot()
    recall = np.asarray(result.recall_thresholds)
    for threshold in iou_thresholds:
        curve = mean_pr_curve(result, threshold)
        if np.isnan(curve).all():
            continue
        if threshold is None:
            label = f"IoU {result.iou_thresholds[0]:.2f}:{result.iou_thresholds[-1]:.2f} (AP {np.nanmean(curve):.3f})"
        else:
            label = f"IoU {threshold:.2f} (AP {np.nanmean(curve):.3f})"
        ax.plot(recall, curve, label=label)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="COCO precision-recall, all areas")
    ax.grid(alpha=0.3)
    if ax.get_lines():
        ax.legend(loc="best")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    _write_atomic(path, buffer.getvalue())


def _write_atomic(path: str, data: bytes) -> None:
    """Write `data` to `path` whole or not at all (readers never see half a picture)."""
    try:
        atomic_write(path, lambda f: f.write(data), durable=False)
    except OSError as exc:
        raise ConfigError(f"cannot write {path!r}: {exc.strerror}") from None
