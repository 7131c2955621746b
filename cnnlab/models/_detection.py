"""The detection math of an anchor-free, CenterNet-style detector: targets, losses and decoding.

Conventions. A map of stride s has cell (i, j) centred on pixel (s·(j + ½), s·(i + ½)); boxes are (x0, y0, x1, y1)
in pixels (`cnnlab.data.DetectionDataset`). A batch of ground truth is `boxes` (B, M, 4) float, padded, and
`labels` (B, M) int64 with −1 marking padding.

Targets (CenterNet, Zhou et al. 2019, with TTFNet's Gaussian-weighted box regression, Liu et al. 2020):

    peak cell      p = ⌊centre / s⌋ of each box, where the class's heatmap target is exactly 1
    heatmap        Y[k, i, j] = max over boxes of class k of exp(−(j − p_x)² / 2σ_x² − (i − p_y)² / 2σ_y²),
                   σ_x = w / (6s), σ_y = h / (6s): the box spans ±3σ around its peak
    box target     at every cell whose centre lies inside a box (and always at the peak): the distances
                   (l, t, r, b) from the cell centre to the box's sides, in pixels; a cell inside several boxes
                   regresses the one whose Gaussian is largest there
    box weight     that Gaussian's value, normalized so the cells of each object sum to 1

Losses, each summed and divided by the number of objects in the batch (at least 1):

    focal   CenterNet's penalty-reduced focal loss (α = 2, β = 4) against the Gaussian heatmap:
            −(1 − p)^α log p at peaks, −(1 − Y)^β p^α log(1 − p) elsewhere
    bce     binary cross-entropy of every (class, cell) logit against Y
    box     Σ weight · L(predicted box, target box) with L one of BOX_LOSSES: 'l1' (mean absolute error of the four
            sides, in pixels), 'iou' (1 − IoU), 'giou', 'diou', 'ciou' (cnnlab.metrics.boxes' losses)

Decoding keeps the cells whose score is the maximum of its 3×3 neighbourhood (CenterNet's max-pool "NMS"), the top
`max_detections` (class, cell) scores per image above a threshold, turns their (l, t, r, b) into boxes clipped to
the image, then runs class-wise NMS (`cnnlab.metrics.boxes.batched_nms`). With box voting (the default) a peak's box
is the mean of the boxes of its 3×3 neighbourhood weighted by their scores for the peak's class: the cells beside a
peak regress the same object (TTFNet's Gaussian-weighted training makes them), and their average is steadier than
any one of them, which shows in the strict IoU thresholds (AP75 and above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError, ShapeError, shape_str, unknown_name
from ..metrics.boxes import batched_nms, box_iou, complete_box_iou_loss, distance_box_iou_loss, generalized_box_iou_loss

BOX_LOSSES = ("l1", "iou", "giou", "diou", "ciou")
CLS_LOSSES = ("focal", "bce")
# Weight of the box loss in the total. The IoU losses lie in [0, 2] per object; L1 is in pixels (TTFNet weights
# GIoU 5 against its focal loss, CenterNet its size L1 0.1).
BOX_WEIGHTS = {"l1": 0.2, "iou": 2.0, "giou": 2.0, "diou": 2.0, "ciou": 2.0}
FOCAL_ALPHA, FOCAL_BETA = 2.0, 4.0  # CenterNet's exponents
PRIOR_PROB = 0.01  # the initial score of every class at every cell (Lin et al. 2017, focal loss)


@dataclass(frozen=True)
class DetectionTargets:
    """What the maps of a stride-s head should be for one batch.

    Attributes:
        heatmap: (B, K, h, w) Gaussian class targets in [0, 1], exactly 1 at each box's peak cell.
        ltrb: (B, 4, h, w) distances (l, t, r, b) in pixels from each cell centre to its box; 0 where weight is 0.
        weight: (B, h, w) box-loss weight of each cell; the cells of one object sum to 1.
        num_objects: the number of boxes in the batch (labels ≥ 0).
    """

    heatmap: torch.Tensor
    ltrb: torch.Tensor
    weight: torch.Tensor
    num_objects: int


def cell_centres(h: int, w: int, stride: int, *, device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, w) maps of the x and y pixel coordinates of each cell's centre."""
    xs = (torch.arange(w, device=device, dtype=dtype) + 0.5) * stride
    ys = (torch.arange(h, device=device, dtype=dtype) + 0.5) * stride
    cy, cx = torch.meshgrid(ys, xs, indexing="ij")
    return cx, cy


def ltrb_to_boxes(ltrb: torch.Tensor, stride: int) -> torch.Tensor:
    """Decode (B, 4, h, w) distances (l, t, r, b) into (B, h, w, 4) boxes (x0, y0, x1, y1) around the cell centres."""
    cx, cy = cell_centres(*ltrb.shape[-2:], stride, device=ltrb.device, dtype=ltrb.dtype)
    left, top, right, bottom = ltrb.unbind(1)  # each (B, h, w)
    return torch.stack([cx - left, cy - top, cx + right, cy + bottom], dim=-1)


def boxes_to_ltrb(boxes: torch.Tensor, stride: int) -> torch.Tensor:
    """Encode (B, h, w, 4) boxes, one per cell, as (B, 4, h, w) distances from the cell centres (ltrb_to_boxes⁻¹)."""
    cx, cy = cell_centres(*boxes.shape[1:3], stride, device=boxes.device, dtype=boxes.dtype)
    x0, y0, x1, y1 = boxes.unbind(-1)
    return torch.stack([cx - x0, cy - y0, x1 - cx, y1 - cy], dim=1)


def check_targets(boxes: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    """Raise ShapeError unless boxes is (B, M, 4) and labels (B, M) with values in −1..num_classes − 1."""
    if boxes.dim() != 3 or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:2]:
        raise ShapeError(
            f"detection targets are boxes (B, M, 4) and labels (B, M) (−1 marks padding), got boxes "
            f"{shape_str(boxes.shape)} and labels {shape_str(labels.shape)}"
        )
    if labels.numel() and not -1 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise ShapeError(f"labels must lie in 0..{num_classes - 1} (or −1 for padding), got {labels.unique().tolist()}")


def assign_targets(
    boxes: torch.Tensor, labels: torch.Tensor, num_classes: int, map_size: tuple[int, int], stride: int
) -> DetectionTargets:
    """CenterNet targets of a whole batch at once (see the module docstring).

    Args:
        boxes: (B, M, 4) boxes in pixels, padded.
        labels: (B, M) int64 class ids, −1 for padding.
        num_classes: K, the heatmap's channels.
        map_size: (h, w) of the head's maps.
        stride: pixels per cell.
    """
    check_targets(boxes, labels, num_classes)
    h, w = map_size
    if labels.shape[1] == 0:  # a batch without a single box slot
        zeros = boxes.new_zeros(boxes.shape[0], 1, h, w, dtype=torch.float32)
        return DetectionTargets(zeros.expand(-1, num_classes, -1, -1), zeros.expand(-1, 4, -1, -1), zeros[:, 0], 0)
    boxes = boxes.float()
    present = labels >= 0  # (B, M)
    cx, cy = cell_centres(h, w, stride, device=boxes.device)  # (h, w) each
    # Peak cell and Gaussian spread of each box, in cells: (B, M) each.
    peak_x = ((boxes[..., 0] + boxes[..., 2]) / (2 * stride)).floor().clamp(0, w - 1)
    peak_y = ((boxes[..., 1] + boxes[..., 3]) / (2 * stride)).floor().clamp(0, h - 1)
    sigma_x = ((boxes[..., 2] - boxes[..., 0]) / (6 * stride)).clamp_min(1e-3)
    sigma_y = ((boxes[..., 3] - boxes[..., 1]) / (6 * stride)).clamp_min(1e-3)
    col = torch.arange(w, device=boxes.device, dtype=torch.float32)
    row = torch.arange(h, device=boxes.device, dtype=torch.float32)
    # (B, M, 1, w) + (B, M, h, 1) -> (B, M, h, w); padding rows are 0.
    gx = (col - peak_x[..., None]) ** 2 / (2 * sigma_x[..., None] ** 2)
    gy = (row - peak_y[..., None]) ** 2 / (2 * sigma_y[..., None] ** 2)
    gauss = torch.exp(-(gx[..., None, :] + gy[..., :, None])) * present[..., None, None]

    # Heatmap: (B, M, 1, h, w) × (B, M, K, 1, 1) one-hot -> (B, M, K, h, w) -> max over M -> (B, K, h, w).
    one_hot = F.one_hot(labels.clamp_min(0), num_classes).to(gauss.dtype) * present[..., None]
    heatmap = (gauss[:, :, None] * one_hot[..., None, None]).amax(dim=1)

    # Box regression cells: centre inside the box, or the box's peak; each cell takes its strongest box.
    inside = (
        (cx > boxes[..., 0, None, None]) & (cx < boxes[..., 2, None, None])
        & (cy > boxes[..., 1, None, None]) & (cy < boxes[..., 3, None, None])
    )  # fmt: skip
    is_peak = (col == peak_x[..., None])[..., None, :] & (row == peak_y[..., None])[..., :, None]
    region = gauss * (inside | is_peak)  # (B, M, h, w)
    value, owner = region.max(dim=1)  # (B, h, w) each
    # Normalize: each object's cells sum to 1. (B, M) sums, gathered back per cell.
    total = region.new_zeros(labels.shape).scatter_add_(1, owner.flatten(1), value.flatten(1))
    weight = value / total.gather(1, owner.flatten(1)).view_as(value).clamp_min(1e-12)
    # (B, M, 4) boxes gathered per cell: (B, h·w, 4) -> (B, h, w, 4) -> (B, 4, h, w) distances.
    cell_boxes = boxes.gather(1, owner.flatten(1)[..., None].expand(-1, -1, 4)).view(-1, h, w, 4)
    ltrb = boxes_to_ltrb(cell_boxes, stride) * (weight > 0)[:, None]
    return DetectionTargets(heatmap, ltrb, weight, int(present.sum()))


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, summed: positives are the cells where target == 1."""
    positive = target == 1
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)  # log p, log(1 − p), stable for any logit
    p = log_p.exp()
    pos = (1 - p) ** FOCAL_ALPHA * log_p
    neg = (1 - target) ** FOCAL_BETA * p**FOCAL_ALPHA * log_not_p
    return -torch.where(positive, pos, neg).sum()


def box_pair_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "giou") -> torch.Tensor:
    """Per-pair loss of matched (N, 4) boxes: 'l1' (mean |Δ| of the sides, pixels), 'iou', 'giou', 'diou', 'ciou'."""
    if kind == "l1":
        return (pred - target).abs().mean(dim=-1)
    if kind == "iou":  # IoU is 0 for disjoint boxes whatever their distance, so its gradient is 0 there
        return 1 - box_iou(pred, target, pairwise=False)
    if kind == "giou":
        return generalized_box_iou_loss(pred, target)
    if kind == "diou":
        return distance_box_iou_loss(pred, target)
    if kind == "ciou":
        return complete_box_iou_loss(pred, target)
    raise unknown_name("box loss", kind, BOX_LOSSES)


def detection_loss(
    heatmap: torch.Tensor,
    ltrb: torch.Tensor,
    targets: DetectionTargets,
    stride: int,
    *,
    box_loss: str = "giou",
    cls_loss: str = "focal",
    box_weight: float | None = None,
) -> dict[str, torch.Tensor]:
    """{'loss': cls + box_weight · box, 'cls', 'box'}, each divided by the number of objects (see module docstring).

    Args:
        heatmap: (B, K, h, w) logits.
        ltrb: (B, 4, h, w) predicted distances in pixels.
        targets: from `assign_targets`.
        stride: pixels per cell.
        box_loss: one of BOX_LOSSES; cls_loss: one of CLS_LOSSES.
        box_weight: weight of the box term; None takes BOX_WEIGHTS[box_loss].
    """
    if box_loss not in BOX_LOSSES:
        raise unknown_name("box loss", box_loss, BOX_LOSSES)
    if cls_loss not in CLS_LOSSES:
        raise unknown_name("class loss", cls_loss, CLS_LOSSES)
    if heatmap.shape != targets.heatmap.shape:
        raise ShapeError(f"heatmap {shape_str(heatmap.shape)} but targets {shape_str(targets.heatmap.shape)}")
    norm = max(targets.num_objects, 1)
    heatmap = heatmap.float()
    if cls_loss == "focal":
        cls = focal_loss(heatmap, targets.heatmap) / norm
    else:
        cls = F.binary_cross_entropy_with_logits(heatmap, targets.heatmap, reduction="sum") / norm
    cells = targets.weight > 0  # (B, h, w)
    pred = ltrb_to_boxes(ltrb.float(), stride)[cells]  # (P, 4)
    true = ltrb_to_boxes(targets.ltrb, stride)[cells]
    box = (box_pair_loss(pred, true, box_loss) * targets.weight[cells]).sum() / norm
    weight = BOX_WEIGHTS[box_loss] if box_weight is None else box_weight
    return {"loss": cls + weight * box, "cls": cls, "box": box}


def vote_boxes(
    scores: torch.Tensor,
    boxes: torch.Tensor,
    image: torch.Tensor,
    label: torch.Tensor,
    cell: torch.Tensor,
    radius: int = 1,
) -> torch.Tensor:
    """The voted boxes of D candidates: for each, the mean of the boxes of its cell's (2r + 1)² neighbourhood (cut at
    the border), weighted by their scores for the candidate's class.

    Args:
        scores: (B, K, h, w) class scores in [0, 1].
        boxes: (B, h, w, 4) the box of each cell.
        image, label, cell: (D,) each candidate's image, class and flat cell index (row · w + column).

    Returns:
        (D, 4) boxes; a candidate whose neighbourhood scores are all 0 keeps its cell's own box.
    """
    h, w = scores.shape[-2:]
    row, col = cell // w, cell % w
    offsets = torch.arange(-radius, radius + 1, device=cell.device)
    rows = row[:, None, None] + offsets[:, None]  # (D, s, 1)
    cols = col[:, None, None] + offsets[None, :]  # (D, 1, s)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (D, s, s)
    rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
    at = image[:, None, None]
    weight = scores[at, label[:, None, None], rows, cols] * inside  # (D, s, s)
    total = weight.sum(dim=(1, 2))  # (D,)
    voted = (weight[..., None] * boxes[at, rows, cols]).sum(dim=(1, 2)) / total.clamp_min(1e-30)[:, None]  # (D, 4)
    return torch.where(total[:, None] > 0, voted, boxes[image, row, col])


def decode(
    heatmap: torch.Tensor,
    ltrb: torch.Tensor,
    stride: int,
    *,
    score_threshold: float = 0.05,
    max_detections: int = 100,
    iou_threshold: float = 0.5,
    vote: bool = True,
) -> list[dict[str, torch.Tensor]]:
    """Detections of each image: {'boxes' (n, 4) xyxy pixels, 'scores' (n,), 'labels' (n,) int64}, by score.

    Args:
        heatmap: (B, K, h, w) logits; ltrb: (B, 4, h, w) distances in pixels; stride: pixels per cell.
        score_threshold: keep scores above it.
        max_detections: per image, at most this many: the top-k (class, cell) scores that go into NMS.
        iou_threshold: class-wise NMS suppresses a box overlapping a kept box of its class by more than this.
        vote: each peak's box is the score-weighted mean of its 3×3 neighbourhood's boxes (`vote_boxes`);
            False takes the peak cell's own box.
    """
    if max_detections < 1:
        raise ConfigError(f"max_detections must be at least 1, got {max_detections}")
    b, k, h, w = heatmap.shape
    scores = heatmap.detach().float().sigmoid()
    # A cell survives if it is the maximum of its 3×3 neighbourhood, in its class channel.
    peaks = scores == F.max_pool2d(scores, 3, stride=1, padding=1)
    # (B, K, h, w) -> (B, K·h·w) -> the best n: (B, n) scores and flat indices, by score.
    top, index = (scores * peaks).flatten(1).topk(min(max_detections, k * h * w), dim=1)
    labels, cell = index // (h * w), index % (h * w)
    keep = top > score_threshold  # (B, n)
    image = torch.arange(b, device=top.device)[:, None].expand_as(top)[keep]  # (D,) the image of each candidate
    cell, labels, top = cell[keep], labels[keep], top[keep]  # (D,) each
    cell_boxes = ltrb_to_boxes(ltrb.detach().float(), stride)  # (B, h, w, 4)
    if vote:
        boxes = vote_boxes(scores, cell_boxes, image, labels, cell)  # (D, 4)
    else:
        boxes = cell_boxes.flatten(1, 2)[image, cell]  # (D, 4)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w * stride)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h * stride)
    scores = top
    # One NMS call for the batch: a group per (image, class), so boxes of different images never meet.
    kept = batched_nms(boxes, scores, image * k + labels, iou_threshold)  # by decreasing score
    kept = kept[torch.argsort(image[kept], stable=True)]  # grouped by image, by score within each
    counts = torch.bincount(image[kept], minlength=b).tolist()
    per_image = zip(boxes[kept].split(counts), scores[kept].split(counts), labels[kept].split(counts), strict=True)
    return [{"boxes": bx, "scores": sc, "labels": lb} for bx, sc, lb in per_image]


def prior_bias(prior: float = PRIOR_PROB) -> float:
    """The logit b with sigmoid(b) = prior: −log((1 − π) / π) (Lin et al. 2017)."""
    return -math.log((1 - prior) / prior)
