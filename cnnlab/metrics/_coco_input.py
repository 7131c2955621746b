"""Reading ground truth and detections into flat arrays, with errors that name the offending entry.

Accepted forms (see `coco_evaluate`): COCO dicts and JSON paths (pycocotools' formats, boxes [x, y, w, h]);
detections as pycocotools' (N, 7) array [image_id, x, y, w, h, score, category_id]; or, for both, one mapping per
image with xyxy "boxes", "labels" (and "scores" for detections; optional "iscrowd" and "area" for ground truth).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .._coco import check_box_values, check_ground_truth, column, index, ints, numbers_of, read_json, xywh
from ..errors import AnnotationError
from ._arrays import check_boxes, to_numpy


@dataclass(frozen=True)
class CocoData:
    """Ground truth and detections as arrays; images and categories are indices into the sorted id arrays."""

    image_ids: np.ndarray  # (I,) sorted unique, as pycocotools' params.imgIds
    category_ids: np.ndarray  # (K,) sorted unique, as params.catIds
    category_names: tuple[str, ...]
    gt_image: np.ndarray  # (G,) in the ground truth's annotation order
    gt_category: np.ndarray  # (G,)
    gt_boxes: np.ndarray  # (G, 4) x, y, w, h
    gt_area: np.ndarray  # (G,) the annotation's own 'area' field
    gt_crowd: np.ndarray  # (G,) bool
    gt_id: np.ndarray  # (G,) annotation ids
    dt_image: np.ndarray  # (D,) in the detections' order
    dt_category: np.ndarray  # (D,)
    dt_boxes: np.ndarray  # (D, 4) x, y, w, h
    dt_score: np.ndarray  # (D,)


def load(ground_truth, detections) -> CocoData:
    """Read both inputs in any accepted form."""
    ground_truth = _read_json(ground_truth, "ground truth")
    detections = _read_json(detections, "detections")
    if isinstance(ground_truth, Mapping):
        return _from_coco(ground_truth, detections)
    if isinstance(ground_truth, Sequence) and not isinstance(ground_truth, str):
        return _from_per_image(ground_truth, detections)
    raise AnnotationError(
        f"ground truth must be a COCO dict, a path to a COCO JSON file or a list of per-image dicts, "
        f"got {type(ground_truth).__name__}"
    )


def _read_json(source, what: str):
    return read_json(source, what) if isinstance(source, str | os.PathLike) else source


def _from_coco(gt: Mapping, detections) -> CocoData:
    truth = check_ground_truth(gt)  # the checks the coco data set makes too (cnnlab._coco)
    image_ids = np.unique(truth.image_ids)
    names = dict(zip(truth.category_ids.tolist(), truth.category_names, strict=True))
    category_ids = np.unique(truth.category_ids)
    if isinstance(detections, Mapping):
        detections = detections.get("annotations", detections)
    if isinstance(detections, np.ndarray):
        dt = _from_numpy_results(detections)
    elif isinstance(detections, Sequence) and not isinstance(detections, str):
        dt = _from_coco_results(detections)
    else:
        raise AnnotationError(f"detections must be a list of COCO results, got {type(detections).__name__}")
    where = "ground truth annotations"
    return CocoData(
        image_ids=image_ids,
        category_ids=category_ids,
        category_names=tuple(names[int(c)] for c in category_ids),
        gt_image=index(truth.ann_image, image_ids, where, "image_id", "'images'"),
        gt_category=index(truth.ann_category, category_ids, where, "category_id", "'categories'"),
        gt_boxes=truth.ann_boxes,
        gt_area=truth.ann_area,
        gt_crowd=truth.ann_crowd,
        gt_id=truth.ann_id,
        dt_image=index(dt[0], image_ids, "detections", "image_id", "the ground truth's images"),
        dt_category=index(dt[1], category_ids, "detections", "category_id", "the ground truth's categories"),
        dt_boxes=dt[2],
        dt_score=dt[3],
    )


def _from_coco_results(dets: Sequence):
    where = "detections"
    return (
        ints(dets, "image_id", where),
        ints(dets, "category_id", where),
        xywh(column(dets, "bbox", where), where),
        numbers_of(column(dets, "score", where), where, "score"),
    )


def _from_numpy_results(data: np.ndarray):
    """pycocotools' loadNumpyAnnotations layout: [image_id, x, y, w, h, score, category_id] per row."""
    if data.ndim != 2 or data.shape[1] != 7:
        raise AnnotationError(
            f"a detections array must be (N, 7) [image_id, x, y, w, h, score, category_id], got shape {data.shape}"
        )
    data = data.astype(np.float64)
    ids = data[:, [0, 6]]
    if not (np.isfinite(ids) & (ids == np.round(ids))).all():
        row = int(np.flatnonzero(~(np.isfinite(ids) & (ids == np.round(ids))).all(1))[0])
        raise AnnotationError(f"detections[{row}] has a non-integer image_id or category_id: {data[row].tolist()}")
    return (
        ids[:, 0].astype(np.int64),
        ids[:, 1].astype(np.int64),
        xywh(data[:, 1:5], "detections"),
        numbers_of(data[:, 5], "detections", "score"),
    )


def _from_per_image(gt: Sequence, dets) -> CocoData:
    if not isinstance(dets, Sequence) or isinstance(dets, str) or len(dets) != len(gt):
        got = f"{len(dets)} entries" if isinstance(dets, Sequence) else type(dets).__name__
        raise AnnotationError(
            f"per-image ground truth needs per-image detections, one per image: {len(gt)} images, detections has {got}"
        )
    g = [per_image(e, f"ground_truth[{i}]", ("boxes", "labels"), ("iscrowd", "area")) for i, e in enumerate(gt)]
    d = [per_image(e, f"detections[{i}]", ("boxes", "labels", "scores")) for i, e in enumerate(dets)]
    for e in g + d:  # (x1, y1, x2, y2) -> (x, y, w, h), the COCO arithmetic from here on
        e["boxes"] = np.concatenate([e["boxes"][:, :2], e["boxes"][:, 2:] - e["boxes"][:, :2]], axis=1)
    gt_labels = _cat([e["labels"] for e in g], np.int64)
    dt_labels = _cat([e["labels"] for e in d], np.int64)
    category_ids = np.unique(np.concatenate([gt_labels, dt_labels]))
    gt_boxes = _cat([e["boxes"] for e in g]).reshape(-1, 4)
    return CocoData(
        image_ids=np.arange(len(gt)),
        category_ids=category_ids,
        category_names=tuple(str(c) for c in category_ids),
        gt_image=np.repeat(np.arange(len(g)), [len(e["labels"]) for e in g]),
        gt_category=np.searchsorted(category_ids, gt_labels),
        gt_boxes=gt_boxes,
        # Without an 'area', the box's w·h decides small/medium/large.
        gt_area=_cat([e.get("area", e["boxes"][:, 2] * e["boxes"][:, 3]) for e in g]),
        gt_crowd=_cat([e.get("iscrowd", np.zeros(len(e["labels"]))) for e in g]) != 0,
        gt_id=np.arange(1, len(gt_labels) + 1),
        dt_image=np.repeat(np.arange(len(d)), [len(e["labels"]) for e in d]),
        dt_category=np.searchsorted(category_ids, dt_labels),
        dt_boxes=_cat([e["boxes"] for e in d]).reshape(-1, 4),
        dt_score=_cat([e["scores"] for e in d]),
    )


def _cat(parts: list, dtype=np.float64) -> np.ndarray:
    """Concatenate per-image arrays; no images give an empty array."""
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def per_image(entry, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """One image's arrays: (n, 4) float64 xyxy "boxes", int64 "labels", the other fields float64, all of length n."""
    if not isinstance(entry, Mapping):
        raise AnnotationError(f"{where} must be a dict with {', '.join(required)}, got {type(entry).__name__}")
    out = {}
    for key in (*required, *optional):
        if key not in entry:
            if key in required:
                raise AnnotationError(f"{where} has no {key!r}")
            continue
        value = to_numpy(entry[key])
        if key == "boxes":
            value = check_boxes(value.reshape(-1, 4) if value.size == 0 else value, name=f"{where}.boxes")
            value = to_numpy(value).astype(np.float64)
            check_box_values(value, f"{where}.boxes", "boxes are (x1, y1, x2, y2) in pixels")
        elif key == "labels":
            if value.dtype.kind not in "iu" and value.size:  # an empty list reads as float64
                raise AnnotationError(f"{where}.labels must be integers, got dtype {value.dtype}")
            value = value.reshape(-1).astype(np.int64)
        else:
            value = numbers_of(value.reshape(-1), f"{where}.{key}", key, flags=key in ("iscrowd", "difficult"))
        out[key] = value
    n = len(out["boxes"])
    for key, value in out.items():
        if len(value) != n:
            raise AnnotationError(f"{where} has {n} boxes but {len(value)} {key}")
    return out
