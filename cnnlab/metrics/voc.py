"""PASCAL VOC average precision, as the VOC devkit computes it (VOCevaldet.m and VOCap.m, Everingham et al.).

The devkit, per class: sort all detections by decreasing confidence (a stable sort); give each its best-overlap
ground truth in the same image (the first one on ties, difficult ones included, taken or not); if that overlap is
>= the threshold, the detection is a true positive when the ground truth is not difficult and not yet taken, a
false positive when it was taken, and neither when it is difficult; below the threshold it is a false positive.
Difficult objects are not counted in the recall's denominator. Overlaps use the devkit's pixel convention
(a box from x1 to x2 is x2 − x1 + 1 pixels wide) unless `plus_one=False`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import AnnotationError
from ._coco_input import per_image
from ._coco_match import group_pairs


@dataclass(frozen=True)
class VocResult:
    """mAP over the classes with ground truth; per class AP (−1 without non-difficult ground truth)."""

    mAP: float
    labels: tuple[int, ...]
    ap: tuple[float, ...]
    num_gt: tuple[int, ...]  # non-difficult ground truths per class
    iou_threshold: float
    use_07_metric: bool


def voc_ap(recall, precision, *, use_07_metric: bool = False) -> float:
    """AP from a precision-recall curve (detections by decreasing score).

    Args:
        recall: (n,) cumulative recall.
        precision: (n,) cumulative precision.
        use_07_metric: VOC2007's 11-point interpolation, the mean over t = 0, 0.1, ..., 1 of the highest precision
            at recall >= t (thresholds as np.arange(0, 1.1, 0.1), like py-faster-rcnn and detectron2); otherwise
            VOC2010+'s area under the monotone precision envelope, summed where recall changes (VOCap.m).
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            reached = recall >= t
            ap += (precision[reached].max() if reached.any() else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # the envelope: precision[i] = max(precision[i:])
    changes = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def voc_evaluate(
    ground_truth: Sequence,
    detections: Sequence,
    *,
    iou_threshold: float = 0.5,
    use_07_metric: bool = False,
    plus_one: bool = True,
) -> VocResult:
    """PASCAL VOC detection AP per class and their mean, as the devkit computes them.

    Args:
        ground_truth: one dict per image {'boxes': (N, 4) xyxy, 'labels': (N,), optional 'difficult': (N,)}.
        detections: one dict per image {'boxes': (M, 4) xyxy, 'scores': (M,), 'labels': (M,)}.
        iou_threshold: minimum overlap of a true positive (the devkit's minoverlap, compared with >=).
        use_07_metric: 11-point AP (VOC2007) instead of the all-point AP of VOC2010+.
        plus_one: the devkit's inclusive pixel coordinates (width x2 − x1 + 1); False for continuous boxes.
    """
    if len(detections) != len(ground_truth):
        raise AnnotationError(
            f"voc_evaluate needs one detections entry per image: {len(ground_truth)} images, "
            f"{len(detections)} detection entries"
        )
    g = [per_image(e, f"ground_truth[{i}]", ("boxes", "labels"), ("difficult",)) for i, e in enumerate(ground_truth)]
    d = [per_image(e, f"detections[{i}]", ("boxes", "labels", "scores")) for i, e in enumerate(detections)]
    gt_boxes, gt_labels, gt_image = _flatten(g, "labels")
    dt_boxes, dt_labels, dt_image = _flatten(d, "labels")
    difficult = np.concatenate([e.get("difficult", np.zeros(len(e["labels"]))) for e in g] + [np.zeros(0)]) != 0
    scores = np.concatenate([e["scores"] for e in d] + [np.zeros(0)])
    labels = np.unique(np.concatenate([gt_labels, dt_labels]))

    # Each detection's best overlap (first ground truth on ties) among its image's ground truths of its class.
    num_labels = len(labels)
    dt_group = dt_image * num_labels + np.searchsorted(labels, dt_labels)
    gt_group = gt_image * num_labels + np.searchsorted(labels, gt_labels)
    pair_dt, pair_gt, gt_pos = group_pairs(dt_group, gt_group)
    overlap, positive = _devkit_overlap(dt_boxes[pair_dt], gt_boxes[pair_gt], 1.0 if plus_one else 0.0)
    pair_dt, pair_gt, overlap = pair_dt[positive], pair_gt[positive], overlap[positive]
    best = np.lexsort((gt_pos[pair_gt], -overlap, pair_dt))
    first = best[np.r_[True, pair_dt[best][1:] != pair_dt[best][:-1]]] if len(best) else best
    ovmax = np.full(len(dt_labels), -np.inf)
    jmax = np.full(len(dt_labels), -1)
    ovmax[pair_dt[first]] = overlap[first]
    jmax[pair_dt[first]] = pair_gt[first]

    # Detections by class, then decreasing score (stable); the first claim on a ground truth is the true one.
    order = np.lexsort((-scores, dt_labels))
    hit = ovmax[order] >= iou_threshold
    on_difficult = hit & difficult[np.maximum(jmax[order], 0)]
    claims = np.flatnonzero(hit & ~on_difficult)
    _, first_claim = np.unique(jmax[order][claims], return_index=True)
    tp = np.zeros(len(order), dtype=bool)
    tp[claims[first_claim]] = True
    fp = ~tp & ~on_difficult

    aps, counts = [], []
    for label in labels:
        members = dt_labels[order] == label
        npos = int(np.sum((gt_labels == label) & ~difficult))
        counts.append(npos)
        if npos == 0:
            aps.append(-1.0)
            continue
        tp_sum, fp_sum = np.cumsum(tp[members]), np.cumsum(fp[members])
        # py-faster-rcnn's guard against 0/0 when the first detections hit difficult objects (the devkit's
        # MATLAB max() skips those NaNs, which gives the same AP).
        precision = tp_sum / np.maximum(tp_sum + fp_sum, np.finfo(np.float64).eps)
        aps.append(voc_ap(tp_sum / npos, precision, use_07_metric=use_07_metric))
    valid = [ap for ap in aps if ap >= 0]
    return VocResult(
        mAP=float(np.mean(valid)) if valid else -1.0,
        labels=tuple(int(v) for v in labels),
        ap=tuple(aps),
        num_gt=tuple(counts),
        iou_threshold=float(iou_threshold),
        use_07_metric=use_07_metric,
    )


def _flatten(entries: list[dict], key: str):
    boxes = np.concatenate([e["boxes"] for e in entries] + [np.zeros((0, 4))])
    values = np.concatenate([e[key] for e in entries] + [np.zeros(0, np.int64)])
    image = np.repeat(np.arange(len(entries)), [len(e[key]) for e in entries])
    return boxes, values, image


def _devkit_overlap(dt: np.ndarray, gt: np.ndarray, one: float):
    """VOCevaldet.m's overlap of matched rows of xyxy boxes, and whether the boxes intersect at all (iw, ih > 0)."""
    iw = np.minimum(dt[:, 2], gt[:, 2]) - np.maximum(dt[:, 0], gt[:, 0]) + one
    ih = np.minimum(dt[:, 3], gt[:, 3]) - np.maximum(dt[:, 1], gt[:, 1]) + one
    union = (dt[:, 2] - dt[:, 0] + one) * (dt[:, 3] - dt[:, 1] + one)
    union = union + (gt[:, 2] - gt[:, 0] + one) * (gt[:, 3] - gt[:, 1] + one) - iw * ih
    positive = (iw > 0) & (ih > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positive, iw * ih / np.where(positive, union, 1.0), 0.0), positive
