"""pycocotools' `COCOeval.accumulate`: precision at 101 recall points and the final recall, for every (IoU
threshold, category, area range, max_dets) at once, bit for bit.

pycocotools loops over categories, area ranges and max_dets in Python; here one cumulative sum per max_dets covers
all categories, area ranges and thresholds, and the interpolated precision is read off at the true positives only
(precision only rises at a true positive, so the envelope's maxima sit there).
"""

from __future__ import annotations

import numpy as np

from ._coco_match import IGNORED, TP, Matches

# Quirk: AP is the mean of the precision envelope at 101 recall points (not the area under the curve), pycocotools'
# np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True).
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


def accumulate(matches: Matches, num_thresholds: int, max_dets: tuple[int, ...]):
    """precision (T, R, K, A, M) and recall (T, K, A, M) as pycocotools computes them; −1 where a category has
    no ground truth that counts in that area range (Quirk: such cells are excluded from every mean later)."""
    num_categories, num_areas = matches.num_gt.shape
    shape = (num_thresholds, len(RECALL_THRESHOLDS), num_categories, num_areas, len(max_dets))
    precision = -np.ones(shape)
    recall = -np.ones((num_thresholds, num_categories, num_areas, len(max_dets)))
    present = matches.num_gt > 0  # (K, A)
    needed = _true_positives_needed(matches.num_gt)  # (K, A, R)
    # Quirk: detections of a category are pooled over images by a stable sort on -score, so ties keep image order
    # (params.imgIds is sorted) and then the per-image score order.
    order = np.lexsort((matches.rank, matches.image, -matches.score, matches.category))
    for m, max_det in enumerate(max_dets):
        dets = order[matches.rank[order] < max_det]
        status = np.take(matches.status, dets, axis=-1)  # C-contiguous, unlike status[:, :, dets]
        prec, rec = _curves(matches.category[dets], status, matches.num_gt, needed)
        precision[..., m] = np.where(present, prec, -1.0)
        recall[..., m] = np.where(present, rec, -1.0)
    return precision, recall


def _true_positives_needed(num_gt: np.ndarray) -> np.ndarray:
    """For each recall threshold, the fewest true positives n with n / num_gt >= threshold in float64, i.e.
    pycocotools' np.searchsorted(rc, recThrs, side='left') expressed in counts.  (K, A, R)"""
    needed = np.zeros((*num_gt.shape, len(RECALL_THRESHOLDS)), dtype=np.int64)
    for count in np.unique(num_gt[num_gt > 0]):
        recalls = np.arange(count + 1) / count  # every value rc = tp / npig can take
        needed[num_gt == count] = np.searchsorted(recalls, RECALL_THRESHOLDS, side="left")
    return needed


def _curves(category: np.ndarray, status: np.ndarray, num_gt: np.ndarray, needed: np.ndarray):
    """Interpolated precision (T, R, K, A) and recall (T, K, A) from detections pooled by category, in order.

    Args:
        category: (n,) sorted category of each detection.
        status: (A, T, n) FP / TP / IGNORED of each detection.
        num_gt: (K, A) ground truths that count.
        needed: (K, A, R) true positives needed to reach each recall threshold.
    """
    num_categories = num_gt.shape[0]
    num_areas, num_thresholds, _ = status.shape
    num_rows = num_areas * num_thresholds * num_categories
    # One entry per true positive, already in row order (a, t, k) and, within a row, in detection order: the
    # entry's place in its row is its true-positive count.
    a, t, pos = np.nonzero(status == TP)
    k = category[pos]
    row = (a * num_thresholds + t) * num_categories + k
    row_start = np.searchsorted(row, np.arange(num_rows + 1))
    n_tp = np.arange(1, len(row) + 1) - row_start[row]
    # False positives before each true positive: detections that count (not ignored), minus true positives.
    counted = np.cumsum(status != IGNORED, axis=-1, dtype=np.int64)  # (A, T, n)
    first = np.searchsorted(category, np.arange(num_categories))  # each category's first detection
    before = np.zeros((num_areas, num_thresholds, num_categories), dtype=np.int64)  # counted in earlier categories
    before[:, :, first > 0] = counted[:, :, first[first > 0] - 1]
    n_fp = counted[a, t, pos] - before[a, t, k] - n_tp
    # Quirk: pycocotools' pr = tp / (fp + tp + np.spacing(1)), an eps in the denominator, on float64 counts
    value = n_tp.astype(np.float64) / (n_fp.astype(np.float64) + n_tp.astype(np.float64) + np.spacing(1))
    with np.errstate(divide="ignore", invalid="ignore"):  # categories without ground truth are masked later
        # pycocotools: rc[-1] = tp / npig with tp the category's true positives; (A·T·K,) -> (A, T, K)
        recall = np.diff(row_start).reshape(num_areas, num_thresholds, num_categories) / num_gt.T[:, None, :]
    # (K, A, R) -> the query counts of each row (a, t, k)
    shape = (num_areas, num_thresholds, num_categories, needed.shape[2])
    counts = np.broadcast_to(needed.transpose(1, 0, 2)[:, None], shape)
    precision = _suffix_max_at(value, row_start, counts.reshape(num_rows, needed.shape[2]))
    precision = precision.reshape(shape).transpose(1, 3, 2, 0)  # (A, T, K, R) -> (T, R, K, A)
    return precision, recall.transpose(1, 2, 0)


def _suffix_max_at(value: np.ndarray, row_start: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """max(value[row_start[r] + n − 1 : row_start[r + 1]]) for each n in counts[r] (0 when empty).

    Quirk: this is pycocotools' monotone precision envelope (pr[i] = max(pr[i:])) sampled at the first detection
    whose recall reaches each threshold (np.searchsorted(rc, recThrs, side='left')), and 0 past the last one.
    Exact: maxima of the chunks between consecutive query points (np.maximum.reduceat), then a running maximum
    from the right over the chunks.
    """
    starts, ends = row_start[:-1, None], row_start[1:, None]
    queries = np.minimum(starts + np.maximum(counts - 1, 0), ends)  # (rows, R), non-decreasing along R
    bounds = np.concatenate([queries, ends], axis=1)  # (rows, R + 1): the last chunk of a row ends at its end
    padded = np.append(value, 0.0)  # reduceat needs every index < len
    chunk = np.maximum.reduceat(padded, bounds.reshape(-1))[: bounds.size].reshape(bounds.shape)[:, :-1]
    chunk = np.where(bounds[:, 1:] > bounds[:, :-1], chunk, 0.0)  # an empty chunk has no maximum: 0
    return np.maximum.accumulate(chunk[:, ::-1], axis=1)[:, ::-1]
