"""Boxes: format conversion, area, IoU / GIoU / DIoU / CIoU, the IoU losses and non-maximum suppression.

Definitions, for boxes A and B and C the smallest box enclosing both:

    IoU  = |A ∩ B| / |A ∪ B|
    GIoU = IoU − |C \\ (A ∪ B)| / |C|                                   (Rezatofighi et al. 2019)
    DIoU = IoU − ρ²(centre_A, centre_B) / (diag²(C) + eps)              (Zheng et al. 2020)
    CIoU = DIoU − α·v,  v = 4/π² · (atan(w_A/h_A) − atan(w_B/h_B))²,  α = v / (1 − IoU + v + eps)

Conventions are torchvision.ops' (boxes.py, giou_loss.py, diou_loss.py, ciou_loss.py), formula for formula and
eps for eps: boxes are (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2; the IoU and GIoU matrices use no eps, so two
boxes of zero area give 0/0 = NaN exactly as torchvision does; DIoU and CIoU add eps = 1e-7 to the squared diagonal
and to α's denominator, and the losses add eps to the union and to |C|. Unlike torchvision, every function first
rejects NaN, infinite and inverted boxes with an `AnnotationError` naming the first bad box.

Every function takes NumPy arrays or torch tensors and returns the same kind (tensors keep device and autograd).
Functions with `pairwise=True` take (N, 4) and (M, 4) and return the (N, M) matrix; `pairwise=False` pairs box i
with box i for any (..., 4) shapes that broadcast.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np

from ..errors import ConfigError, unknown_name
from ._arrays import FORMATS, check_boxes, is_tensor, ops_for, to_numpy

REDUCTIONS = ("none", "mean", "sum")


def _quiet(fn):
    """NumPy computes 0/0 = NaN for empty boxes, as torch does, without a RuntimeWarning."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def box_convert(boxes, in_fmt: str, out_fmt: str):
    """Convert boxes between 'xyxy' (corners), 'xywh' (COCO: corner, width, height) and 'cxcywh' (centre, size).

    Args:
        boxes: (..., 4) array or tensor.
        in_fmt: the format of `boxes`.
        out_fmt: the format to return.
    """
    for fmt in (in_fmt, out_fmt):
        if fmt not in FORMATS:
            raise unknown_name("box format", fmt, FORMATS)
    boxes = check_boxes(boxes, fmt=in_fmt)
    ops = ops_for(boxes)
    a, b, c, d = (boxes[..., i] for i in range(4))
    if in_fmt == "xywh":  # (x, y, w, h) -> (x1, y1, x2, y2)
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":  # (cx, cy, w, h) -> (x1, y1, x2, y2)
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    if out_fmt == "xywh":  # (x1, y1, x2, y2) -> (x, y, w, h)
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":  # (x1, y1, x2, y2) -> (cx, cy, w, h)
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return ops.stack([a, b, c, d])


def box_area(boxes):
    """Area (x2 − x1)·(y2 − y1) of (..., 4) xyxy boxes."""
    boxes = check_boxes(boxes)
    return _area(boxes)


def _area(boxes):
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _prepare(boxes1, boxes2, pairwise: bool):
    """Validated float boxes, broadcast to (N, 1, 4) and (1, M, 4) when pairwise."""
    boxes1 = check_boxes(boxes1, name="boxes1", matrix=pairwise)
    boxes2 = check_boxes(boxes2, name="boxes2", matrix=pairwise)
    if pairwise:
        return boxes1[:, None, :], boxes2[None, :, :]
    return boxes1, boxes2


def _inter_union(b1, b2, ops):
    """|A ∩ B| = max(0, min(x2) − max(x1)) · max(0, min(y2) − max(y1)) and |A ∪ B| = |A| + |B| − |A ∩ B|."""
    wh = ops.clamp_min0(ops.minimum(b1[..., 2:], b2[..., 2:]) - ops.maximum(b1[..., :2], b2[..., :2]))
    inter = wh[..., 0] * wh[..., 1]
    return inter, _area(b1) + _area(b2) - inter


def _enclosing_wh(b1, b2, ops):
    """Width and height of C, the smallest box enclosing A and B."""
    wh = ops.clamp_min0(ops.maximum(b1[..., 2:], b2[..., 2:]) - ops.minimum(b1[..., :2], b2[..., :2]))
    return wh[..., 0], wh[..., 1]


def _centre_distance2(b1, b2):
    """ρ², the squared distance between the boxes' centres."""
    dx = (b1[..., 0] + b1[..., 2]) / 2 - (b2[..., 0] + b2[..., 2]) / 2
    dy = (b1[..., 1] + b1[..., 3]) / 2 - (b2[..., 1] + b2[..., 3]) / 2
    return dx**2 + dy**2


def _aspect_penalty(b1, b2, ops):
    """v = 4/π² · (atan(w1/h1) − atan(w2/h2))², CIoU's aspect-ratio consistency term."""
    atan1 = ops.atan((b1[..., 2] - b1[..., 0]) / (b1[..., 3] - b1[..., 1]))
    atan2 = ops.atan((b2[..., 2] - b2[..., 0]) / (b2[..., 3] - b2[..., 1]))
    return (4 / math.pi**2) * (atan1 - atan2) ** 2


@_quiet
def box_iou(boxes1, boxes2, *, pairwise: bool = True):
    """IoU = |A ∩ B| / |A ∪ B| (the Jaccard index), in [0, 1]; NaN for two boxes of zero area (torchvision).

    Args:
        boxes1: (N, 4) xyxy boxes ((..., 4) when not pairwise).
        boxes2: (M, 4) xyxy boxes.
        pairwise: return the (N, M) matrix; False pairs boxes1[i] with boxes2[i].
    """
    b1, b2 = _prepare(boxes1, boxes2, pairwise)
    inter, union = _inter_union(b1, b2, ops_for(b1))
    return inter / union


@_quiet
def generalized_box_iou(boxes1, boxes2, *, pairwise: bool = True):
    """GIoU = IoU − |C \\ (A ∪ B)| / |C|, C the smallest enclosing box; in [−1, 1] (Rezatofighi et al. 2019).

    Args:
        boxes1: (N, 4) xyxy boxes ((..., 4) when not pairwise).
        boxes2: (M, 4) xyxy boxes.
        pairwise: return the (N, M) matrix; False pairs boxes1[i] with boxes2[i].
    """
    b1, b2 = _prepare(boxes1, boxes2, pairwise)
    ops = ops_for(b1)
    inter, union = _inter_union(b1, b2, ops)
    cw, ch = _enclosing_wh(b1, b2, ops)
    area_c = cw * ch
    return inter / union - (area_c - union) / area_c


@_quiet
def distance_box_iou(boxes1, boxes2, *, pairwise: bool = True, eps: float = 1e-7):
    """DIoU = IoU − ρ²(centres) / (diag²(C) + eps), in [−1, 1] (Zheng et al. 2020).

    Args:
        boxes1: (N, 4) xyxy boxes ((..., 4) when not pairwise).
        boxes2: (M, 4) xyxy boxes.
        pairwise: return the (N, M) matrix; False pairs boxes1[i] with boxes2[i].
        eps: added to the squared diagonal of C, as torchvision does.
    """
    b1, b2 = _prepare(boxes1, boxes2, pairwise)
    return _diou(b1, b2, ops_for(b1), eps)[0]


def _diou(b1, b2, ops, eps):
    inter, union = _inter_union(b1, b2, ops)
    iou = inter / union
    cw, ch = _enclosing_wh(b1, b2, ops)
    return iou - _centre_distance2(b1, b2) / (cw**2 + ch**2 + eps), iou


@_quiet
def complete_box_iou(boxes1, boxes2, *, pairwise: bool = True, eps: float = 1e-7):
    """CIoU = DIoU − α·v with v = 4/π²·(atan(w1/h1) − atan(w2/h2))² and α = v / (1 − IoU + v + eps).

    α is treated as a constant under autograd, as in Zheng et al. 2020 and torchvision.

    Args:
        boxes1: (N, 4) xyxy boxes ((..., 4) when not pairwise).
        boxes2: (M, 4) xyxy boxes.
        pairwise: return the (N, M) matrix; False pairs boxes1[i] with boxes2[i].
        eps: added to the squared diagonal and to α's denominator.
    """
    b1, b2 = _prepare(boxes1, boxes2, pairwise)
    ops = ops_for(b1)
    diou, iou = _diou(b1, b2, ops, eps)
    v = _aspect_penalty(b1, b2, ops)
    alpha = ops.detach(v / (1 - iou + v + eps))
    return diou - alpha * v


def _reduce(loss, reduction: str):
    if reduction not in REDUCTIONS:
        raise unknown_name("reduction", reduction, REDUCTIONS)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":  # torchvision: the mean of no boxes is 0, not NaN
        return loss.mean() if math.prod(loss.shape) > 0 else loss.sum() * 0.0
    return loss


def _loss_terms(boxes1, boxes2, eps):
    """The shared parts of torchvision's IoU losses: IoU with eps in the union, and the enclosing box C."""
    b1 = check_boxes(boxes1, name="boxes1")
    b2 = check_boxes(boxes2, name="boxes2")
    ops = ops_for(b1)
    inter, union = _inter_union(b1, b2, ops)
    cw, ch = _enclosing_wh(b1, b2, ops)
    return b1, b2, ops, inter / (union + eps), union, cw, ch


@_quiet
def generalized_box_iou_loss(boxes1, boxes2, *, reduction: str = "none", eps: float = 1e-7):
    """1 − GIoU for matched pairs of xyxy boxes, with IoU = |A∩B| / (|A∪B| + eps) and |C| + eps (torchvision).

    Args:
        boxes1: (..., 4) predicted boxes.
        boxes2: (..., 4) target boxes (broadcastable to boxes1).
        reduction: 'none', 'mean' or 'sum'.
        eps: keeps the divisions finite for degenerate boxes.
    """
    _, _, _, iou, union, cw, ch = _loss_terms(boxes1, boxes2, eps)
    area_c = cw * ch
    return _reduce(1 - (iou - (area_c - union) / (area_c + eps)), reduction)


@_quiet
def distance_box_iou_loss(boxes1, boxes2, *, reduction: str = "none", eps: float = 1e-7):
    """1 − IoU + ρ²(centres) / (diag²(C) + eps) for matched pairs of xyxy boxes (torchvision's DIoU loss).

    Args:
        boxes1: (..., 4) predicted boxes.
        boxes2: (..., 4) target boxes (broadcastable to boxes1).
        reduction: 'none', 'mean' or 'sum'.
        eps: added to the union and to the squared diagonal.
    """
    b1, b2, _, iou, _, cw, ch = _loss_terms(boxes1, boxes2, eps)
    return _reduce(1 - iou + _centre_distance2(b1, b2) / (cw**2 + ch**2 + eps), reduction)


@_quiet
def complete_box_iou_loss(boxes1, boxes2, *, reduction: str = "none", eps: float = 1e-7):
    """DIoU loss + α·v for matched pairs of xyxy boxes (torchvision's CIoU loss; α carries no gradient).

    torchvision ignores `eps` in the DIoU part of this loss (always 1e-7); here `eps` is used throughout, which
    gives identical numbers at the default.

    Args:
        boxes1: (..., 4) predicted boxes.
        boxes2: (..., 4) target boxes (broadcastable to boxes1).
        reduction: 'none', 'mean' or 'sum'.
        eps: added to the union, the squared diagonal and α's denominator.
    """
    b1, b2, ops, iou, _, cw, ch = _loss_terms(boxes1, boxes2, eps)
    diou_loss = 1 - iou + _centre_distance2(b1, b2) / (cw**2 + ch**2 + eps)
    v = _aspect_penalty(b2, b1, ops)
    alpha = ops.detach(v / (1 - iou + v + eps))
    return _reduce(diou_loss + alpha * v, reduction)


def nms(boxes, scores, iou_threshold: float):
    """Greedy non-maximum suppression: visit boxes by decreasing score; keep one, drop every later box whose
    IoU with it is > iou_threshold (torchvision's CPU kernel; ties in score keep the lower index first).

    Args:
        boxes: (N, 4) xyxy boxes.
        scores: (N,) scores.
        iou_threshold: boxes overlapping a kept box by more than this are suppressed.

    Returns:
        int64 indices of the kept boxes, by decreasing score (a tensor on `boxes`' device for tensor input).
    """
    np_boxes, np_scores = _nms_inputs(boxes, scores)
    return _indices_like(boxes, _nms_numpy(np_boxes, np_scores, iou_threshold))


def batched_nms(boxes, scores, idxs, iou_threshold: float):
    """Class-wise NMS: boxes with different `idxs` (class labels) never suppress each other.

    Args:
        boxes: (N, 4) xyxy boxes.
        scores: (N,) scores.
        idxs: (N,) integer class of each box.
        iou_threshold: boxes overlapping a kept box of their class by more than this are suppressed.

    Returns:
        int64 indices of the kept boxes, by decreasing score (ties: lower index first).
    """
    np_boxes, np_scores = _nms_inputs(boxes, scores)
    classes = to_numpy(idxs).reshape(-1)
    if classes.shape != np_scores.shape:
        raise ConfigError(f"batched_nms needs one class per box: {len(np_scores)} boxes, {classes.size} idxs")
    keep = [np.zeros(0, dtype=np.int64)]
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        keep.append(members[_nms_numpy(np_boxes[members], np_scores[members], iou_threshold)])
    keep = np.concatenate(keep)
    keep = keep[np.lexsort((keep, -np_scores[keep]))]  # by decreasing score, then index
    return _indices_like(boxes, keep)


def _nms_inputs(boxes, scores):
    np_boxes = to_numpy(check_boxes(boxes, matrix=True))
    np_scores = to_numpy(scores).reshape(-1)
    if np_scores.shape != (np_boxes.shape[0],):
        raise ConfigError(f"nms needs one score per box: {np_boxes.shape[0]} boxes, {np_scores.size} scores")
    if not np.isfinite(np_scores).all():
        raise ConfigError(f"scores[{int(np.argmin(np.isfinite(np_scores)))}] is NaN or infinite")
    return np_boxes, np_scores


def _nms_numpy(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for i in np.argsort(-scores, kind="stable"):
        if suppressed[i]:
            continue
        keep.append(i)
        w = np.maximum(np.minimum(x2[i], x2) - np.maximum(x1[i], x1), 0)
        h = np.maximum(np.minimum(y2[i], y2) - np.maximum(y1[i], y1), 0)
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):  # two empty boxes: 0/0 = NaN, never suppressed
            iou = inter / (areas[i] + areas - inter)
        suppressed |= iou.astype(np.float64) > iou_threshold  # the kernel compares in double precision
    return np.asarray(keep, dtype=np.int64)


def _indices_like(boxes, keep: np.ndarray):
    if is_tensor(boxes):
        return sys.modules["torch"].as_tensor(keep, dtype=sys.modules["torch"].int64, device=boxes.device)
    return keep
