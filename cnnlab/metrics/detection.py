"""Detection metrics: COCO mAP exactly as pycocotools computes it (bbox), and PASCAL VOC AP (`voc.py`).

A detection is correct when its IoU with a ground truth reaches a threshold (usually 0.5); AP is the
area under a category's precision-recall curve; mAP averages AP over categories; mAP-50 uses IoU 0.5, and COCO's
mAP averages over the 10 IoU thresholds 0.50, 0.55, ..., 0.95.

`coco_evaluate` reproduces pycocotools' COCOeval(iouType='bbox') evaluate/accumulate/summarize, quirks included
(each is marked "Quirk" where it is implemented: `_coco_match.py`, `_coco_accumulate.py` and `_summary` below);
the tests compare every stat and every cell of the precision and recall arrays with pycocotools. Two known bugs
can be fixed on request without touching the default numbers: `fix_summary_max_dets` and `fix_zero_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from . import _coco_input
from ._coco_accumulate import RECALL_THRESHOLDS, accumulate
from ._coco_match import match
from .voc import VocResult, voc_ap, voc_evaluate

# pycocotools' Params.setDetParams; np.linspace because "np.arange causes trouble" (its comment).
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
COCO_AREA_RANGES = ((0**2, 1e5**2), (0**2, 32**2), (32**2, 96**2), (96**2, 1e5**2))
AREA_LABELS = ("all", "small", "medium", "large")

# The 12 summary numbers in pycocotools' order: (name, AP or AR, IoU threshold, area label, max_dets index).
# Index None is pycocotools' literal maxDets=100 in its first line, whatever max_dets says (Quirk).
_STATS = (
    ("AP", True, None, "all", None),
    ("AP50", True, 0.5, "all", 2),
    ("AP75", True, 0.75, "all", 2),
    ("APs", True, None, "small", 2),
    ("APm", True, None, "medium", 2),
    ("APl", True, None, "large", 2),
    ("AR1", False, None, "all", 0),
    ("AR10", False, None, "all", 1),
    ("AR100", False, None, "all", 2),
    ("ARs", False, None, "small", 2),
    ("ARm", False, None, "medium", 2),
    ("ARl", False, None, "large", 2),
)

__all__ = [
    "COCO_AREA_RANGES",
    "COCO_IOU_THRESHOLDS",
    "ClassAP",
    "CocoResult",
    "VocResult",
    "coco_evaluate",
    "format_coco",
    "voc_ap",
    "voc_evaluate",
]


@dataclass(frozen=True)
class ClassAP:
    """One category's numbers (area 'all', the largest max_dets); −1 when it has no ground truth that counts."""

    category_id: int
    name: str
    AP: float  # mean over the IoU thresholds
    AP50: float  # -1 when 0.5 is not among the thresholds
    AP75: float
    num_gt: int  # ground truths that count (not crowd)
    num_detections: int  # detections evaluated (at most max_dets per image)


@dataclass(frozen=True)
class CocoResult:
    """pycocotools' COCOeval results. Arrays are read-only; −1 marks 'no ground truth' and is left out of means."""

    AP: float  # AP @ IoU 0.50:0.95, area all
    AP50: float
    AP75: float
    APs: float  # small: area < 32² (annotation area)
    APm: float
    APl: float
    AR1: float  # AR given max_dets[0] detections per image and category
    AR10: float
    AR100: float
    ARs: float
    ARm: float
    ARl: float
    precision: np.ndarray = field(repr=False)  # (T, R, K, A, M) IoU thr, recall thr, category, area, max_dets
    recall: np.ndarray = field(repr=False)  # (T, K, A, M)
    iou_thresholds: tuple[float, ...]
    recall_thresholds: tuple[float, ...] = field(repr=False)
    category_ids: tuple[int, ...]
    category_names: tuple[str, ...] = field(repr=False)
    area_ranges: tuple[tuple[float, float], ...]
    max_dets: tuple[int, ...]
    per_class: tuple[ClassAP, ...] | None = field(repr=False)
    fix_summary_max_dets: bool = False
    fix_zero_id: bool = False

    @property
    def stats(self) -> np.ndarray:
        """The 12 numbers in pycocotools' `COCOeval.stats` order."""
        return np.array([getattr(self, name) for name, *_ in _STATS])

    def to_dict(self) -> dict:
        """JSON-ready summary: the 12 stats, the parameters and the per-class numbers (not the big arrays)."""
        out = {name: getattr(self, name) for name, *_ in _STATS}
        out.update(
            iou_thresholds=list(self.iou_thresholds),
            area_ranges=[list(r) for r in self.area_ranges],
            max_dets=list(self.max_dets),
            fix_summary_max_dets=self.fix_summary_max_dets,
            fix_zero_id=self.fix_zero_id,
        )
        if self.per_class is not None:
            out["per_class"] = [vars(c).copy() for c in self.per_class]
        return out


def coco_evaluate(
    ground_truth,
    detections,
    *,
    iou_thresholds: Sequence[float] | None = None,
    max_dets: Sequence[int] = (1, 10, 100),
    area_ranges: Sequence[tuple[float, float]] | None = None,
    per_class: bool = True,
    fix_summary_max_dets: bool = False,
    fix_zero_id: bool = False,
) -> CocoResult:
    """COCO bbox evaluation, identical to pycocotools (COCO, loadRes, COCOeval: evaluate, accumulate, summarize).

    A pure function: prints nothing and leaves its inputs unchanged.

    Args:
        ground_truth: a COCO dict ('images', 'categories', 'annotations' with 'bbox' [x, y, w, h], 'area',
            'iscrowd'), a path to such a JSON file, or one dict per image {'boxes': (N, 4) xyxy, 'labels': (N,),
            optional 'iscrowd' and 'area' (default w·h)} (image ids are then positions, categories the labels).
        detections: COCO results (a list of {'image_id', 'category_id', 'bbox', 'score'} or a path to one),
            pycocotools' (N, 7) array [image_id, x, y, w, h, score, category_id], or one dict per image
            {'boxes' xyxy, 'scores', 'labels'} when the ground truth is per image. NumPy arrays or tensors.
        iou_thresholds: default 0.50:0.05:0.95 (pycocotools' float64 linspace).
        max_dets: three detection limits per image and category (sorted, as pycocotools does).
        area_ranges: four inclusive (low, high) ranges for 'all', 'small', 'medium', 'large';
            default (0, 1e10), (0, 32²), (32², 96²), (96², 1e10).
        per_class: also compute `ClassAP`s.
        fix_summary_max_dets: pycocotools' first stat (AP) reads max_dets=100 literally and gives −1 when 100 is
            not among max_dets; True uses the largest max_dets, as the other stats do.
        fix_zero_id: pycocotools counts a detection matched to an annotation with id 0 as a false positive
            (it stores matches as ids, 0 meaning none); True counts it as a true positive.
    """
    thresholds = _iou_thresholds(iou_thresholds)
    limits = _max_dets(max_dets)
    ranges = _area_ranges(area_ranges)
    data = _coco_input.load(ground_truth, detections)
    matches = match(data, thresholds, np.array(ranges, dtype=np.float64), limits[-1], fix_zero_id)
    precision, recall = accumulate(matches, len(thresholds), limits)
    precision.flags.writeable = False
    recall.flags.writeable = False
    stats = {
        name: _summary(precision, recall, thresholds, limits, ap, iou, area, index, fix_summary_max_dets)
        for name, ap, iou, area, index in _STATS
    }
    classes = None
    if per_class:
        evaluated = np.bincount(matches.category, minlength=len(data.category_ids))
        classes = tuple(
            ClassAP(
                category_id=int(cat),
                name=name,
                AP=_mean_valid(precision[:, :, k, 0, -1]),
                AP50=_mean_valid(precision[thresholds == 0.5, :, k, 0, -1]),
                AP75=_mean_valid(precision[thresholds == 0.75, :, k, 0, -1]),
                num_gt=int(matches.num_gt[k, 0]),
                num_detections=int(evaluated[k]),
            )
            for k, (cat, name) in enumerate(zip(data.category_ids, data.category_names, strict=True))
        )
    return CocoResult(
        **stats,
        precision=precision,
        recall=recall,
        iou_thresholds=tuple(float(t) for t in thresholds),
        recall_thresholds=tuple(float(r) for r in RECALL_THRESHOLDS),
        category_ids=tuple(int(c) for c in data.category_ids),
        category_names=data.category_names,
        area_ranges=ranges,
        max_dets=limits,
        per_class=classes,
        fix_summary_max_dets=fix_summary_max_dets,
        fix_zero_id=fix_zero_id,
    )


def _mean_valid(values: np.ndarray) -> float:
    """pycocotools' mean of the cells > −1, or −1 when there are none."""
    valid = values[values > -1]
    return float(np.mean(valid)) if len(valid) else -1.0


def _stat_max_det(index: int | None, max_dets: tuple[int, ...], fix: bool) -> int:
    """The max_dets a summary line reads: pycocotools' literal 100 for the first line unless fixed."""
    if index is None:
        return max_dets[-1] if fix else 100
    return max_dets[index]


def _summary(precision, recall, thresholds, max_dets, ap, iou, area, index, fix) -> float:
    """One line of pycocotools' COCOeval.summarize()._summarize, with the same indexing and the same mean."""
    max_det = _stat_max_det(index, max_dets, fix)
    aind = [i for i, label in enumerate(AREA_LABELS) if label == area]
    mind = [i for i, m in enumerate(max_dets) if m == max_det]
    s = precision if ap else recall
    if iou is not None:
        s = s[np.where(iou == thresholds)[0]]  # Quirk: exact float equality; a missing threshold gives −1
    s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
    return _mean_valid(s)


def _iou_thresholds(values) -> np.ndarray:
    if values is None:
        return COCO_IOU_THRESHOLDS.copy()
    out = np.asarray(values, dtype=np.float64).reshape(-1)
    if out.size == 0 or not (np.isfinite(out) & (out >= 0) & (out <= 1)).all():
        raise ConfigError(f"iou_thresholds must be numbers in [0, 1], got {list(values)}")
    return out


def _max_dets(values) -> tuple[int, ...]:
    values = tuple(values)
    if len(values) != 3 or not all(isinstance(v, int | np.integer) and v > 0 for v in values):
        raise ConfigError(
            f"max_dets must be three positive integers such as (1, 10, 100), got {values}; pycocotools' "
            "summary reads exactly three"
        )
    return tuple(sorted(int(v) for v in values))


def _area_ranges(values) -> tuple[tuple[float, float], ...]:
    if values is None:
        return tuple((float(lo), float(hi)) for lo, hi in COCO_AREA_RANGES)
    ranges = tuple(tuple(float(v) for v in r) for r in values)
    if len(ranges) != 4 or any(len(r) != 2 or not r[0] <= r[1] for r in ranges):
        raise ConfigError(
            f"area_ranges must be four (low, high) pairs for {', '.join(AREA_LABELS)}, got {list(values)}"
        )
    return ranges


def format_coco(result: CocoResult, *, per_class: bool = False) -> str:
    """pycocotools' 12-line summary table, character for character; with `per_class`, a per-category table."""
    lines = []
    thresholds = result.iou_thresholds
    for name, ap, iou, area, index in _STATS:
        max_det = _stat_max_det(index, result.max_dets, result.fix_summary_max_dets)
        title, kind = ("Average Precision", "(AP)") if ap else ("Average Recall", "(AR)")
        iou_text = f"{thresholds[0]:0.2f}:{thresholds[-1]:0.2f}" if iou is None else f"{iou:0.2f}"
        where = f"IoU={iou_text:<9} | area={area:>6s} | maxDets={max_det:>3d}"
        lines.append(f" {title:<18} {kind} @[ {where} ] = {getattr(result, name):0.3f}")
    if per_class and result.per_class is not None:
        width = max([8, *(len(c.name) for c in result.per_class)])
        lines.append("")
        lines.append(f"{'category':<{width}}  {'AP':>6}  {'AP50':>6}  {'AP75':>6}  {'gt':>7}  {'dets':>7}")
        for c in result.per_class:
            cells = "  ".join("     —" if v < 0 else f"{v:6.3f}" for v in (c.AP, c.AP50, c.AP75))
            lines.append(f"{c.name:<{width}}  {cells}  {c.num_gt:>7}  {c.num_detections:>7}")
    return "\n".join(lines)
