"""Classification metrics: accuracy, top-k, confusion matrix, precision / recall / F1, PR curves and AP.

Precision is the share of the predictions of a class that are right (of the melons picked, how many are
good); recall is the share of a class's examples that were found (of the good melons, how many were picked).
With tp, fp, fn the true positives, false positives and false negatives of a class:

    precision = tp / (tp + fp)      recall = tp / (tp + fn)      F1 = 2·tp / (2·tp + fp + fn)

Averages follow scikit-learn: macro = unweighted mean over classes, weighted = mean weighted by support (true
count), micro = the formula on tp, fp, fn summed over classes. A 0/0 gives `zero_division` (0 by default).
Inputs are NumPy arrays, lists or torch tensors; outputs are NumPy. The tests compare everything with sklearn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ShapeError
from ._arrays import to_numpy


@dataclass(frozen=True)
class PrecisionRecallF1:
    """Per-class precision, recall, F1 and support (true count), with macro, micro and weighted averages."""

    precision: np.ndarray  # (C,)
    recall: np.ndarray  # (C,)
    f1: np.ndarray  # (C,)
    support: np.ndarray  # (C,) int
    macro_precision: float
    macro_recall: float
    macro_f1: float
    micro_precision: float
    micro_recall: float
    micro_f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float


@dataclass(frozen=True)
class PRCurve:
    """A precision-recall curve in scikit-learn's convention: one point per distinct score threshold, by increasing
    threshold, then the point (recall 0, precision 1); so recall decreases along the arrays."""

    precision: np.ndarray  # (n + 1,)
    recall: np.ndarray  # (n + 1,)
    thresholds: np.ndarray  # (n,) increasing


@dataclass(frozen=True)
class MultilabelAP:
    """Average precision per label and its macro, micro and weighted averages."""

    per_class: np.ndarray  # (K,)
    macro: float
    micro: float
    weighted: float


def _labels(values, name: str) -> np.ndarray:
    out = to_numpy(values)
    if out.ndim != 1 or (out.dtype.kind not in "iub" and out.size):  # [] reads as float64
        raise ShapeError(f"{name} must be a 1-D array of integer class labels, got shape {out.shape} {out.dtype}")
    return out.astype(np.int64)


def _predicted_labels(predictions) -> np.ndarray:
    """(N,) labels, or the argmax of (N, C) scores (the first class on ties)."""
    out = to_numpy(predictions)
    return out.argmax(axis=1) if out.ndim == 2 else _labels(out, "predictions")


def _same_length(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if len(a) != len(b):
        raise ShapeError(f"{names} must have one entry per example, got {len(a)} and {len(b)}")


def accuracy(targets, predictions) -> float:
    """The share of examples whose predicted class is the target.

    Args:
        targets: (N,) class labels.
        predictions: (N,) predicted labels or (N, C) scores (argmax).
    """
    targets, predictions = _labels(targets, "targets"), _predicted_labels(predictions)
    _same_length(targets, predictions, "targets and predictions")
    return float(np.mean(targets == predictions)) if len(targets) else 0.0


def top_k_accuracy(targets, scores, *, k: int = 5) -> float:
    """The share of examples whose target is among the k highest scores (sklearn's top_k_accuracy_score: on ties,
    the higher class index ranks first).

    Args:
        targets: (N,) class labels.
        scores: (N, C) scores or logits.
        k: how many guesses count.
    """
    targets, scores = _labels(targets, "targets"), to_numpy(scores)
    if scores.ndim != 2:
        raise ShapeError(f"scores must be (N, C), got shape {scores.shape}")
    _same_length(targets, scores, "targets and scores")
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    top = np.argsort(scores, axis=1, kind="stable")[:, ::-1][:, :k]  # (N, C) -> (N, k)
    return float(np.mean((top == targets[:, None]).any(axis=1))) if len(targets) else 0.0


def confusion_matrix(targets, predictions, *, num_classes: int | None = None) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class (sklearn's layout).

    Args:
        targets: (N,) class labels in [0, C).
        predictions: (N,) predicted labels or (N, C) scores.
        num_classes: C; default 1 + the largest label seen.
    """
    targets, predictions = _labels(targets, "targets"), _predicted_labels(predictions)
    _same_length(targets, predictions, "targets and predictions")
    seen = int(max(targets.max(initial=-1), predictions.max(initial=-1))) + 1
    num_classes = seen if num_classes is None else num_classes
    if min(targets.min(initial=0), predictions.min(initial=0)) < 0 or seen > num_classes:
        raise ConfigError(f"labels must lie in [0, {num_classes}), got labels up to {seen - 1}")
    flat = np.bincount(targets * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)  # (C·C,) -> (C, C)


def _divide(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), zero_division)


def _report(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, zero_division: float) -> PrecisionRecallF1:
    """Precision, recall and F1 from per-class counts, with sklearn's averages."""
    support = tp + fn
    precision = _divide(tp, tp + fp, zero_division)
    recall = _divide(tp, tp + fn, zero_division)
    f1 = _divide(2 * tp, 2 * tp + fp + fn, zero_division)
    total_tp, total_fp, total_fn = tp.sum(), fp.sum(), fn.sum()
    weights = support / support.sum() if support.sum() > 0 else None
    weighted = [float(np.sum(v * weights)) if weights is not None else zero_division for v in (precision, recall, f1)]
    return PrecisionRecallF1(
        precision=precision,
        recall=recall,
        f1=f1,
        support=support.astype(np.int64),
        macro_precision=float(np.mean(precision)),
        macro_recall=float(np.mean(recall)),
        macro_f1=float(np.mean(f1)),
        micro_precision=float(_divide(total_tp, total_tp + total_fp, zero_division)),
        micro_recall=float(_divide(total_tp, total_tp + total_fn, zero_division)),
        micro_f1=float(_divide(2 * total_tp, 2 * total_tp + total_fp + total_fn, zero_division)),
        weighted_precision=weighted[0],
        weighted_recall=weighted[1],
        weighted_f1=weighted[2],
    )


def precision_recall_f1(
    targets, predictions, *, num_classes: int | None = None, zero_division: float = 0.0
) -> PrecisionRecallF1:
    """Per-class precision, recall and F1 of single-label predictions, with macro, micro and weighted averages.

    Args:
        targets: (N,) class labels in [0, C).
        predictions: (N,) predicted labels or (N, C) scores.
        num_classes: C; default 1 + the largest label seen.
        zero_division: the value of a 0/0 (a class never predicted, or never present).
    """
    cm = confusion_matrix(targets, predictions, num_classes=num_classes)
    tp = np.diag(cm)
    return _report(tp, cm.sum(axis=0) - tp, cm.sum(axis=1) - tp, zero_division)


def _binary_targets(targets, name: str = "targets") -> np.ndarray:
    out = to_numpy(targets)
    if out.size and not np.isin(out, (0, 1)).all():
        raise ConfigError(f"{name} must be 0/1 (or bool), got values {np.unique(out)[:5].tolist()}")
    return out.astype(bool)


def multilabel_precision_recall_f1(targets, scores, *, thresholds=0.5, zero_division: float = 0.0):
    """Precision, recall and F1 per label for multi-label predictions: label k is predicted when
    scores[:, k] >= thresholds[k].

    Args:
        targets: (N, K) 0/1 indicators.
        scores: (N, K) scores (or 0/1 predictions).
        thresholds: one threshold for all labels, or (K,) per-label thresholds.
        zero_division: the value of a 0/0.
    """
    targets, scores = _binary_targets(targets), to_numpy(scores)
    if targets.ndim != 2 or scores.shape != targets.shape:
        raise ShapeError(f"targets and scores must both be (N, K), got {targets.shape} and {scores.shape}")
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (targets.shape[1],))
    predicted = scores >= thresholds  # (N, K)
    tp = np.sum(predicted & targets, axis=0)
    fp = np.sum(predicted & ~targets, axis=0)
    fn = np.sum(~predicted & targets, axis=0)
    return _report(tp, fp, fn, zero_division)


def pr_curve(targets, scores) -> PRCurve:
    """The precision-recall curve of binary targets ranked by score (sklearn's precision_recall_curve).

    Args:
        targets: (N,) 0/1.
        scores: (N,) scores, higher meaning more likely positive.
    """
    targets, scores = _binary_targets(targets).reshape(-1), to_numpy(scores).astype(np.float64).reshape(-1)
    _same_length(targets, scores, "targets and scores")
    order = np.argsort(scores, kind="mergesort")[::-1]  # decreasing score
    scores, targets = scores[order], targets[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(targets)[last_of_threshold].astype(np.float64)
    fps = 1 + last_of_threshold - tps
    precision = _divide(tps, tps + fps, 0.0)
    recall = tps / tps[-1] if len(tps) and tps[-1] > 0 else np.ones_like(tps)  # no positives: sklearn's 1
    return PRCurve(
        precision=np.r_[precision[::-1], 1.0],
        recall=np.r_[recall[::-1], 0.0],
        thresholds=scores[last_of_threshold][::-1],
    )


def average_precision(targets, scores) -> float:
    """AP = Σ (R_n − R_{n−1}) · P_n over the thresholds (sklearn's average_precision_score, no interpolation).

    Args:
        targets: (N,) 0/1.
        scores: (N,) scores.
    """
    curve = pr_curve(targets, scores)
    return float(max(0.0, -np.sum(np.diff(curve.recall) * curve.precision[:-1])))


def multilabel_average_precision(targets, scores) -> MultilabelAP:
    """AP per label and its averages: macro (mean), weighted (by positives), micro (all labels pooled).

    Args:
        targets: (N, K) 0/1 indicators (one-hot targets give one-vs-rest AP for a multi-class problem).
        scores: (N, K) scores.
    """
    targets, scores = _binary_targets(targets), to_numpy(scores)
    if targets.ndim != 2 or scores.shape != targets.shape:
        raise ShapeError(f"targets and scores must both be (N, K), got {targets.shape} and {scores.shape}")
    per_class = np.array([average_precision(targets[:, k], scores[:, k]) for k in range(targets.shape[1])])
    positives = targets.sum(axis=0)
    weighted = float(np.sum(per_class * positives) / positives.sum()) if positives.sum() else 0.0
    return MultilabelAP(
        per_class=per_class,
        macro=float(np.mean(per_class)),
        micro=average_precision(targets.reshape(-1), scores.reshape(-1)),  # (N, K) -> (N·K,)
        weighted=weighted,
    )
