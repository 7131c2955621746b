"""pycocotools' `COCOeval.evaluateImg`, vectorized over every (image, category, area range, IoU threshold) at once.

pycocotools matches one (image, category, area range, threshold) at a time in Python loops. The greedy matching is
sequential only inside one (image, category): the detection of rank r can take a ground truth only if the
detections of rank < r did not. So we walk the ranks, and at each rank match every group's detection of that rank
at once, for all area ranges and thresholds, with NumPy. Only (detection, ground truth) pairs whose IoU reaches
the lowest threshold can ever match; the walk visits those pairs only, and skips detections that have none.

Each pycocotools quirk reproduced here (cocoeval.py, maskApi.c) is marked "Quirk".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ._coco_input import CocoData

FP, TP, IGNORED = 0, 1, 2


@dataclass(frozen=True)
class Matches:
    """The evaluated detections in (image, category, score) order, and the verdict on each."""

    category: np.ndarray  # (D,) category index
    image: np.ndarray  # (D,) image index
    rank: np.ndarray  # (D,) rank by score within its (image, category), from 0
    score: np.ndarray  # (D,)
    status: np.ndarray  # (A, T, D) int8: FP, TP or IGNORED per area range and IoU threshold
    num_gt: np.ndarray  # (K, A) ground truths that count (not crowd, area inside the range) per category


def _rank_in_groups(sorted_groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of a sorted array."""
    n = len(sorted_groups)
    new = np.ones(n, dtype=bool)
    new[1:] = sorted_groups[1:] != sorted_groups[:-1]
    starts = np.flatnonzero(new)
    return np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))


def group_pairs(dt_group: np.ndarray, gt_group: np.ndarray):
    """Every (detection, ground truth) pair of the same group, detections in their order and, for each, the
    ground truths in theirs. Returns pair_dt, pair_gt (indices) and each ground truth's position in its group."""
    gt_order = np.argsort(gt_group, kind="stable")
    gt_sorted = gt_group[gt_order]
    gt_pos = np.empty(len(gt_order), dtype=np.int64)
    gt_pos[gt_order] = _rank_in_groups(gt_sorted)
    first = np.searchsorted(gt_sorted, dt_group, side="left")
    count = np.searchsorted(gt_sorted, dt_group, side="right") - first
    pair_dt = np.repeat(np.arange(len(dt_group)), count)
    offsets = np.arange(len(pair_dt)) - np.repeat(np.cumsum(count) - count, count)
    return pair_dt, gt_order[np.repeat(first, count) + offsets], gt_pos


def bbox_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """pycocotools' bbIou (maskApi.c) for matched rows of [x, y, w, h] boxes, operation for operation.

    Quirk: for a crowd ground truth the "IoU" is |dt ∩ gt| / |dt|, the share of the detection inside the crowd.
    """
    w = np.minimum(dt[:, 2] + dt[:, 0], gt[:, 2] + gt[:, 0]) - np.maximum(dt[:, 0], gt[:, 0])
    h = np.minimum(dt[:, 3] + dt[:, 1], gt[:, 3] + gt[:, 1]) - np.maximum(dt[:, 1], gt[:, 1])
    inter = w * h
    dt_area = dt[:, 2] * dt[:, 3]
    union = np.where(crowd, dt_area, dt_area + gt[:, 2] * gt[:, 3] - inter)
    overlap = (w > 0) & (h > 0)
    with np.errstate(divide="ignore", invalid="ignore"):  # masked out below: no overlap means IoU 0
        return np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)


def match(data: CocoData, iou_thresholds: np.ndarray, area_ranges: np.ndarray, max_det: int, fix_zero_id: bool):
    """Match detections to ground truth as pycocotools' evaluate() does; returns `Matches`.

    Args:
        data: the parsed inputs.
        iou_thresholds: (T,) thresholds.
        area_ranges: (A, 2) [low, high] area ranges, both ends inclusive.
        max_det: the largest max_dets; detections beyond it in an (image, category) are not evaluated.
        fix_zero_id: count a match with a ground truth of id 0 as a true positive (pycocotools cannot).
    """
    num_categories = len(data.category_ids)
    lo, hi = area_ranges[:, 0], area_ranges[:, 1]

    # Quirk: detections are sorted by a stable sort on -score within each (image, category), and only the first
    # max_det are evaluated: the limit is per image *and category*, not per image.
    dt_group = data.dt_image * num_categories + data.dt_category
    order = np.lexsort((-data.dt_score, dt_group))
    rank = _rank_in_groups(dt_group[order])
    kept = order[rank < max_det]
    rank = rank[rank < max_det]
    dt_group = dt_group[kept]
    dt_boxes = data.dt_boxes[kept]

    # Quirk: a ground truth is ignored when crowd or when its annotation 'area' (not its box area) lies outside
    # the range, both ends inclusive.  (G, A)
    gt_ignored = data.gt_crowd[:, None] | (data.gt_area[:, None] < lo) | (data.gt_area[:, None] > hi)
    gt_group = data.gt_image * num_categories + data.gt_category
    pair_dt, pair_gt, gt_pos = group_pairs(dt_group, gt_group)
    pair_iou = bbox_iou(dt_boxes[pair_dt], data.gt_boxes[pair_gt], data.gt_crowd[pair_gt])

    # Quirk: a pair matches at threshold t when IoU >= min(t, 1 - 1e-10).  (P, T)
    thresholds = np.minimum(iou_thresholds, 1 - 1e-10)
    possible = pair_iou >= thresholds.min(initial=np.inf)
    pair_dt, pair_gt, pair_iou = pair_dt[possible], pair_gt[possible], pair_iou[possible]
    dt_index, area_index, threshold_index, gt_index = _greedy(
        pair_dt, pair_gt, pair_iou, dt_group, thresholds, gt_ignored, gt_pos, data.gt_crowd
    )

    # Verdicts, (A, T, D). Unmatched: a false positive, or ignored when the detection's own box area (w·h, as
    # loadRes sets it) lies outside the range.
    dt_area = dt_boxes[:, 2] * dt_boxes[:, 3]
    outside = (dt_area < lo[:, None]) | (dt_area > hi[:, None])  # (A, D)
    status = np.repeat(np.where(outside, IGNORED, FP).astype(np.int8)[:, None, :], len(thresholds), axis=1)
    # Matched: ignored when the ground truth is, else a true positive. Quirk: pycocotools records a match as the
    # ground truth's id with 0 meaning "no match", so a detection matched to an annotation of id 0 is judged as
    # unmatched while the annotation stays taken.
    counted = np.ones(len(gt_index), bool) if fix_zero_id else data.gt_id[gt_index] != 0
    unmatched = status[area_index, threshold_index, dt_index]
    verdict = np.where(counted, TP, unmatched)
    status[area_index, threshold_index, dt_index] = np.where(gt_ignored[gt_index, area_index], IGNORED, verdict)

    num_gt = np.zeros((num_categories, len(lo)), dtype=np.int64)
    np.add.at(num_gt, data.gt_category, ~gt_ignored)
    return Matches(
        category=data.dt_category[kept],
        image=data.dt_image[kept],
        rank=rank,
        score=data.dt_score[kept],
        status=status,
        num_gt=num_gt,
    )


def _greedy(pair_dt, pair_gt, pair_iou, dt_group, thresholds, gt_ignored, gt_pos, gt_crowd):
    """Every match as parallel arrays (detection, area range, threshold, ground truth).

    pycocotools, for each detection by decreasing score, scans the group's ground truths (non-ignored first, then
    in annotation order) and keeps the last one with the highest IoU >= threshold among those still free, where a
    crowd is always free (Quirk: a crowd can absorb any number of detections) and an ignored ground truth is taken
    only when no non-ignored one qualifies (Quirk: the scan stops at the first ignored one once a match exists).
    That choice is the maximum of the key (not ignored, IoU, position) over free qualifying pairs.
    """
    num_areas = gt_ignored.shape[1]
    # Key rank of each pair among its detection's pairs, per area range.  (P, A)
    key_rank = np.empty((len(pair_dt), num_areas), dtype=np.int64)
    for a in range(num_areas):
        by_key = np.lexsort((gt_pos[pair_gt], pair_iou, ~gt_ignored[pair_gt, a], pair_dt))
        key_rank[by_key, a] = np.arange(len(pair_dt))
    # Detections with a pair, ranked within their group; pairs sorted by that rank (then detection).
    with_pairs = np.unique(pair_dt)
    step_of_dt = np.zeros(len(dt_group), dtype=np.int64)
    step_of_dt[with_pairs] = _rank_in_groups(dt_group[with_pairs])
    order = np.lexsort((pair_dt, step_of_dt[pair_dt]))
    pair_dt, pair_gt, key_rank = pair_dt[order], pair_gt[order], key_rank[order]
    qualifies = pair_iou[order, None] >= thresholds  # (P, T)
    steps = np.searchsorted(step_of_dt[pair_dt], np.arange(step_of_dt.max(initial=0) + 2))
    free = np.ones((len(gt_pos), num_areas, len(thresholds)), dtype=bool)
    crowd = gt_crowd[pair_gt]
    found = [np.zeros((4, 0), dtype=np.int64)]
    for lo, hi in itertools.pairwise(steps.tolist()):
        if lo == hi:
            continue
        dts, gts = pair_dt[lo:hi], pair_gt[lo:hi]
        valid = free[gts] & qualifies[lo:hi, None, :]  # (n, A, T)
        key = np.where(valid, key_rank[lo:hi, :, None], -1)
        starts = np.flatnonzero(np.r_[True, dts[1:] != dts[:-1]])
        best = np.maximum.reduceat(key, starts, axis=0)  # (detections in this step, A, T)
        win = valid & (key == np.repeat(best, np.diff(np.r_[starts, len(dts)]), axis=0))
        p, a, t = np.nonzero(win)
        found.append(np.stack([dts[p], a, t, gts[p]]))
        taken = ~crowd[lo:hi][p]
        free[gts[p][taken], a[taken], t[taken]] = False
    return tuple(np.concatenate(found, axis=1))
