"""Reading ground truth and detections into flat arrays, with errors that name the offending entry.

Accepted forms (see `coco_evaluate`): COCO dicts and JSON paths (pycocotools' formats, boxes [x, y, w, h]);
detections as pycocotools' (N, 7) array [image_id, x, y, w, h, score, category_id]; or, for both, one mapping per
image with xyxy "boxes", "labels" (and "scores" for detections; optional "iscrowd" and "area" for ground truth).
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

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
    if not isinstance(source, str | os.PathLike):
        return source
    try:
        with open(source, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise AnnotationError(f"cannot read {what} file {os.fspath(source)!r}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{what} file {os.fspath(source)!r} is not valid JSON: {exc}") from None


def _from_coco(gt: Mapping, detections) -> CocoData:
    for key in ("images", "categories", "annotations"):
        if not isinstance(gt.get(key, [] if key == "annotations" else None), list):  # no annotations: allowed
            raise AnnotationError(f"the ground truth has no {key!r} list; is it a COCO annotation file?")
    image_ids = np.unique(_ints(gt["images"], "id", "ground truth images"))
    categories = gt["categories"]
    category_ids = _ints(categories, "id", "ground truth categories")
    names = {int(i): str(c.get("name", i)) for i, c in zip(category_ids, categories, strict=True)}
    category_ids = np.unique(category_ids)
    anns = gt.get("annotations", [])
    where = "ground truth annotations"
    ann_ids = _ints(anns, "id", where)
    values, first = np.unique(ann_ids, return_index=True)
    if len(values) < len(ann_ids):  # pycocotools would silently evaluate one of them twice
        dup = int(np.setdiff1d(np.arange(len(ann_ids)), first)[0])
        other = int(np.flatnonzero(ann_ids == ann_ids[dup])[0])
        raise AnnotationError(f"{where}[{dup}] and [{other}] share id {int(ann_ids[dup])}; ids must be unique")
    crowd = _numbers([a.get("iscrowd", 0) for a in anns], where, "iscrowd")
    if isinstance(detections, Mapping):
        detections = detections.get("annotations", detections)
    if isinstance(detections, np.ndarray):
        dt = _from_numpy_results(detections)
    elif isinstance(detections, Sequence) and not isinstance(detections, str):
        dt = _from_coco_results(detections)
    else:
        raise AnnotationError(f"detections must be a list of COCO results, got {type(detections).__name__}")
    return CocoData(
        image_ids=image_ids,
        category_ids=category_ids,
        category_names=tuple(names[int(c)] for c in category_ids),
        gt_image=_index(_ints(anns, "image_id", where), image_ids, where, "image_id", "'images'"),
        gt_category=_index(_ints(anns, "category_id", where), category_ids, where, "category_id", "'categories'"),
        gt_boxes=_xywh(_column(anns, "bbox", where), where),
        gt_area=_numbers(_column(anns, "area", where), where, "area"),
        gt_crowd=crowd != 0,
        gt_id=ann_ids,
        dt_image=_index(dt[0], image_ids, "detections", "image_id", "the ground truth's images"),
        dt_category=_index(dt[1], category_ids, "detections", "category_id", "the ground truth's categories"),
        dt_boxes=dt[2],
        dt_score=dt[3],
    )


def _from_coco_results(dets: Sequence):
    where = "detections"
    return (
        _ints(dets, "image_id", where),
        _ints(dets, "category_id", where),
        _xywh(_column(dets, "bbox", where), where),
        _numbers(_column(dets, "score", where), where, "score"),
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
        _xywh(data[:, 1:5], "detections"),
        _numbers(data[:, 5], "detections", "score"),
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
        elif key == "labels":
            if value.dtype.kind not in "iu" and value.size:  # an empty list reads as float64
                raise AnnotationError(f"{where}.labels must be integers, got dtype {value.dtype}")
            value = value.reshape(-1).astype(np.int64)
        else:
            value = _numbers(value.reshape(-1), f"{where}.{key}", key)
        out[key] = value
    n = len(out["boxes"])
    for key, value in out.items():
        if len(value) != n:
            raise AnnotationError(f"{where} has {n} boxes but {len(value)} {key}")
    return out


def _describe(entry) -> str:
    text = json.dumps(entry, default=str) if isinstance(entry, Mapping) else repr(entry)
    return text if len(text) <= 120 else text[:117] + "..."


def _column(entries: Sequence, key: str, where: str) -> list:
    """[e[key] for e in entries], or an error naming the first entry that lacks `key`."""
    try:
        return [e[key] for e in entries]
    except (KeyError, TypeError, IndexError):
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise AnnotationError(f"{where}[{i}] is a {type(entry).__name__}, not an object") from None
            if key not in entry:
                raise AnnotationError(f"{where}[{i}] has no {key!r}: {_describe(entry)}") from None
        raise


def _ints(entries: Sequence, key: str, where: str) -> np.ndarray:
    """Integer ids (pycocotools matches ids by equality: '1' and 1.0 are rejected rather than guessed at)."""
    values = _column(entries, key, where)
    if not all(type(v) is int for v in values):
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                kind = "a string" if isinstance(v, str) else f"a {type(v).__name__}"
                raise AnnotationError(f"{where}[{i}] has {key} {v!r}, {kind}; ids must be integers")
    try:
        return np.array(values, dtype=np.int64).reshape(-1)
    except OverflowError:
        raise AnnotationError(f"{where}: a {key} does not fit in 64 bits") from None


def _numbers(values, where: str, key: str) -> np.ndarray:
    """Finite float64 values, or an error naming the first bad one."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind not in "iufb":
            raise AnnotationError(f"{where}: {key} must be numbers, got an array of dtype {values.dtype}")
        out = values.astype(np.float64).reshape(-1)
    else:
        values = list(values)
        if not all(type(v) is float or type(v) is int for v in values):
            for i, v in enumerate(values):
                if not isinstance(v, numbers.Real):
                    raise AnnotationError(f"{where}[{i}] has {key} {v!r}; it must be a finite number")
        out = np.array(values, dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnnotationError(f"{where}[{i}] has {key} {out[i]}; it must be a finite number")
    return out


def _xywh(values, where: str) -> np.ndarray:
    """(N, 4) [x, y, w, h] boxes: four finite numbers each, w >= 0 and h >= 0."""
    if isinstance(values, np.ndarray):
        boxes = values.astype(np.float64).reshape(-1, 4)
    elif len(values) == 0:
        boxes = np.zeros((0, 4))
    else:
        try:
            boxes = np.array(values)  # no dtype: a string or None shows up as a non-numeric dtype
        except ValueError:  # ragged
            boxes = None
        if boxes is None or boxes.dtype.kind not in "iufb" or boxes.ndim != 2 or boxes.shape[1] != 4:
            i = next((i for i, v in enumerate(values) if not _is_box(v)), 0)
            raise AnnotationError(f"{where}[{i}] has bbox {values[i]!r}; it must be [x, y, width, height]")
        boxes = boxes.astype(np.float64)
    bad_value = ~np.isfinite(boxes).all(1)
    bad = bad_value | (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        problem = "a NaN or infinite coordinate" if bad_value[i] else "a negative width or height"
        raise AnnotationError(
            f"{where}[{i}] has bbox {boxes[i].tolist()} with {problem}; COCO boxes are [x, y, width, height] "
            "with width >= 0 and height >= 0"
        )
    return boxes


def _is_box(value) -> bool:
    return (
        isinstance(value, Sequence | np.ndarray)
        and not isinstance(value, str)
        and len(value) == 4
        and all(isinstance(v, numbers.Real) for v in value)
    )


def _index(ids: np.ndarray, known: np.ndarray, where: str, key: str, source: str) -> np.ndarray:
    """Positions of `ids` in the sorted `known`; an id not there is an error naming the first entry."""
    pos = np.searchsorted(known, ids)
    found = pos < len(known)
    found[found] = known[pos[found]] == ids[found]
    if not found.all():
        i = int(np.flatnonzero(~found)[0])
        raise AnnotationError(f"{where}[{i}] has {key} {int(ids[i])}, which is not among {source}")
    return pos
