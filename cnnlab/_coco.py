"""COCO detection JSON (cocodataset.org/#format-data): reading a file safely and checking ground truth, shared by
`cnnlab.metrics` (`coco_evaluate`, `cnnlab map`) and `cnnlab.data` (the `coco` data set), so that a file one of
them refuses the other refuses too, with the same words.

Torch-free (NumPy only): the metrics never import torch. Every error is an `AnnotationError` naming the first
offending entry ("ground truth annotations[3] has bbox ..."). Checks beyond pycocotools, which accepts all of
these silently: boxes with a NaN, an infinite or a huge coordinate (beyond `MAX_COORDINATE` pixels; the area of a
1e300-pixel box overflows to infinity and its IoU becomes NaN), ids that are not integers, and JSON nested so
deeply that Python's reader gives up. When the images themselves are read (`images=True`), each `file_name` must
be a relative path inside the image folder.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

import numpy as np

from .errors import AnnotationError, short_repr

MAX_COORDINATE = float(2**24)  # pixels: beyond it float32, the data sets' box type, misses whole pixels


def read_json(source: str | os.PathLike, what: str) -> object:
    """The JSON value in the file `source`; `what` names it in errors ('ground truth', 'detections')."""
    try:
        with open(source, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise AnnotationError(f"cannot read {what} file {os.fspath(source)!r}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{what} file {os.fspath(source)!r} is not valid JSON: {exc}") from None
    except RecursionError:  # '[[[[...' a hundred thousand deep; a COCO file nests five levels
        raise AnnotationError(
            f"{what} file {os.fspath(source)!r} nests its JSON too deeply to read; a COCO file nests a few levels"
        ) from None


@dataclass(frozen=True)
class GroundTruth:
    """A checked COCO ground-truth dictionary as arrays, in the file's order.

    `file_names` and `image_sizes` (declared (height, width), or None) are filled when the images are read;
    `ann_id` when the annotations' ids were required (pycocotools indexes annotations by id).
    """

    image_ids: np.ndarray  # (I,) int64
    category_ids: np.ndarray  # (K,) int64
    category_names: tuple[str, ...]  # (K,)
    ann_image: np.ndarray  # (G,) int64 image ids, each among image_ids
    ann_category: np.ndarray  # (G,) int64 category ids, each among category_ids
    ann_boxes: np.ndarray  # (G, 4) float64 x, y, width, height
    ann_area: np.ndarray  # (G,) float64, NaN where the annotation has no 'area'
    ann_crowd: np.ndarray  # (G,) bool
    ann_id: np.ndarray | None = None  # (G,) int64
    file_names: tuple[str, ...] | None = None  # (I,)
    image_sizes: tuple[tuple[int, int] | None, ...] | None = None  # (I,)


def check_ground_truth(gt: object, *, images: bool = False) -> GroundTruth:
    """Check a COCO ground-truth dictionary; raise an AnnotationError naming the first bad entry.

    Args:
        gt: the parsed JSON.
        images: the images will be read from disk (the `coco` data set): each image needs a `file_name` that
            stays inside the image folder, and annotations need no 'id' or 'area'. Without it (evaluation),
            annotations need both, as pycocotools does. Image and category ids must be unique either way
            (pycocotools would silently merge duplicated entries).
    """
    if not isinstance(gt, Mapping):
        raise AnnotationError(f"the ground truth must be a JSON object with 'images', got a {type(gt).__name__}")
    for key in ("images", "categories", "annotations"):
        if not isinstance(gt.get(key, [] if key == "annotations" else None), list):  # no annotations: allowed
            raise AnnotationError(f"the ground truth has no {key!r} list; is it a COCO annotation file?")
    image_entries, categories = gt["images"], gt["categories"]
    image_ids = ints(image_entries, "id", "ground truth images")
    category_ids = ints(categories, "id", "ground truth categories")
    names = [_name(c, int(i), k) for k, (i, c) in enumerate(zip(category_ids, categories, strict=True))]
    _unique(image_ids, "ground truth images", "id")
    _unique(category_ids, "ground truth categories", "id")
    file_names = sizes = None
    if images:
        file_names = tuple(_file_name(e, k) for k, e in enumerate(image_entries))
        sizes = tuple(_size(e, k) for k, e in enumerate(image_entries))
    anns = gt.get("annotations", [])
    where = "ground truth annotations"
    ann_id = None
    if not images:
        ann_id = ints(anns, "id", where)
        _unique(ann_id, where, "id")  # pycocotools would silently evaluate one of them twice
    ann_image = ints(anns, "image_id", where)
    ann_category = ints(anns, "category_id", where)
    index(ann_image, np.unique(image_ids), where, "image_id", "'images'")
    index(ann_category, np.unique(category_ids), where, "category_id", "'categories'")
    if images:  # the area is not needed, but checked where given
        numbers_of([a.get("area", 0.0) for a in anns], where, "area")
        area = np.array([a.get("area", np.nan) for a in anns], dtype=np.float64)
    else:
        area = numbers_of(column(anns, "area", where), where, "area")
    return GroundTruth(
        image_ids=image_ids,
        category_ids=category_ids,
        category_names=tuple(names),
        ann_image=ann_image,
        ann_category=ann_category,
        ann_boxes=xywh(column(anns, "bbox", where), where),
        ann_area=area,
        ann_crowd=numbers_of([a.get("iscrowd", 0) for a in anns], where, "iscrowd", flags=True) != 0,
        ann_id=ann_id,
        file_names=file_names,
        image_sizes=sizes,
    )


def _unique(ids: np.ndarray, where: str, key: str) -> None:
    values, first = np.unique(ids, return_index=True)
    if len(values) < len(ids):
        dup = int(np.setdiff1d(np.arange(len(ids)), first)[0])
        other = int(np.flatnonzero(ids == ids[dup])[0])
        raise AnnotationError(f"{where}[{dup}] and [{other}] share {key} {int(ids[dup])}; {key}s must be unique")


def _name(category: Mapping, category_id: int, k: int) -> str:
    name = category.get("name", category_id)
    if isinstance(name, bool) or not isinstance(name, str | int):
        raise AnnotationError(f"ground truth categories[{k}] has name {short_repr(name)}; it must be a string")
    return str(name)


def _file_name(image: Mapping, k: int) -> str:
    """The image's file_name: a non-empty relative path that stays inside the image folder (no '..', no root)."""
    where = f"ground truth images[{k}]"
    if "file_name" not in image:
        raise AnnotationError(f"{where} has no 'file_name': {describe(image)}")
    name = image["file_name"]
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        raise AnnotationError(f"{where} has file_name {short_repr(name)}; it must be a path relative to the images")
    for path in (PurePosixPath(name), PureWindowsPath(name)):  # '..\\x' and 'C:/x' escape on Windows
        if path.anchor or ".." in path.parts:
            raise AnnotationError(
                f"{where} has file_name {short_repr(name)}, which leads outside the image folder; file names must "
                "be relative paths without '..'"
            )
    return name


def _size(image: Mapping, k: int) -> tuple[int, int] | None:
    """The declared (height, width), checked to be positive integers; None when the entry declares none."""
    if "height" not in image and "width" not in image:
        return None
    size = []
    for key in ("height", "width"):
        value = image.get(key)
        if type(value) is not int or value < 1:
            raise AnnotationError(
                f"ground truth images[{k}] has {key} {short_repr(value)}; it must be a positive whole number of pixels"
            )
        size.append(value)
    return size[0], size[1]


def describe(entry: object) -> str:
    """A short text of an entry for an error message."""
    if isinstance(entry, Mapping):
        try:
            text = json.dumps(entry, default=str)
        except (RecursionError, ValueError):  # deeply nested or circular: fall back to a bounded repr
            return short_repr(entry)
        return text if len(text) <= 120 else text[:117] + "..."
    return short_repr(entry)


def column(entries: Sequence, key: str, where: str) -> list:
    """[e[key] for e in entries], or an error naming the first entry that lacks `key`."""
    try:
        return [e[key] for e in entries]
    except (KeyError, TypeError, IndexError):
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise AnnotationError(f"{where}[{i}] is a {type(entry).__name__}, not an object") from None
            if key not in entry:
                raise AnnotationError(f"{where}[{i}] has no {key!r}: {describe(entry)}") from None
        raise


def ints(entries: Sequence, key: str, where: str) -> np.ndarray:
    """Integer ids (pycocotools matches ids by equality: '1' and 1.0 are rejected rather than guessed at)."""
    values = column(entries, key, where)
    if not all(type(v) is int for v in values):
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                kind = "a string" if isinstance(v, str) else f"a {type(v).__name__}"
                raise AnnotationError(f"{where}[{i}] has {key} {short_repr(v)}, {kind}; ids must be integers")
    try:
        return np.array(values, dtype=np.int64).reshape(-1)
    except OverflowError:
        raise AnnotationError(f"{where}: a {key} does not fit in 64 bits") from None


def numbers_of(values, where: str, key: str, *, flags: bool = False) -> np.ndarray:
    """Finite float64 values, or an error naming the first bad one. A JSON true or false is not a number (a score
    of `true` is a mistake, not 1.0); with `flags` (iscrowd, VOC's difficult: yes/no fields) it is 1 or 0."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind not in ("iufb" if flags else "iuf"):
            raise AnnotationError(f"{where}: {key} must be numbers, got an array of dtype {values.dtype}")
        out = values.astype(np.float64).reshape(-1)
    else:
        values = list(values)
        if not all(type(v) is float or type(v) is int for v in values):
            for i, v in enumerate(values):
                if not isinstance(v, numbers.Real) or (isinstance(v, bool) and not flags):
                    raise AnnotationError(f"{where}[{i}] has {key} {short_repr(v)}; it must be a finite number")
        out = np.array(values, dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnnotationError(f"{where}[{i}] has {key} {out[i]}; it must be a finite number")
    return out


def xywh(values, where: str) -> np.ndarray:
    """(N, 4) [x, y, w, h] boxes: four finite numbers each within ±MAX_COORDINATE, w >= 0 and h >= 0."""
    if isinstance(values, np.ndarray):
        boxes = values.astype(np.float64).reshape(-1, 4)
    elif len(values) == 0:
        boxes = np.zeros((0, 4))
    else:
        try:
            boxes = np.array(values)  # no dtype: a string or None shows up as a non-numeric dtype
        except (ValueError, RecursionError):  # ragged, or nested beyond NumPy's reach
            boxes = None
        if boxes is None or boxes.dtype.kind not in "iufb" or boxes.ndim != 2 or boxes.shape[1] != 4:
            i = next((i for i, v in enumerate(values) if not _is_box(v)), 0)
            raise AnnotationError(f"{where}[{i}] has bbox {short_repr(values[i])}; it must be [x, y, width, height]")
        boxes = boxes.astype(np.float64)
    check_box_values(boxes, where, "COCO boxes are [x, y, width, height] with width >= 0 and height >= 0")
    bad = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnnotationError(
            f"{where}[{i}] has bbox {boxes[i].tolist()} with a negative width or height; COCO boxes are "
            "[x, y, width, height] with width >= 0 and height >= 0"
        )
    return boxes


def check_box_values(boxes: np.ndarray, where: str, convention: str) -> None:
    """Refuse (N, 4) boxes with a NaN, an infinite or a huge (beyond ±MAX_COORDINATE) coordinate."""
    finite = np.isfinite(boxes).all(1)
    huge = finite & (np.abs(np.where(np.isfinite(boxes), boxes, 0)) > MAX_COORDINATE).any(1)
    bad = ~finite | huge
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        problem = "a NaN or infinite coordinate" if not finite[i] else f"a coordinate beyond ±{MAX_COORDINATE:,.0f}"
        raise AnnotationError(f"{where}[{i}] has bbox {boxes[i].tolist()} with {problem}; {convention}")


def _is_box(value) -> bool:
    return (
        isinstance(value, Sequence | np.ndarray)
        and not isinstance(value, str)
        and len(value) == 4
        and all(isinstance(v, numbers.Real) for v in value)
    )


def index(ids: np.ndarray, known: np.ndarray, where: str, key: str, source: str) -> np.ndarray:
    """Positions of `ids` in the sorted `known`; an id not there is an error naming the first entry."""
    pos = np.searchsorted(known, ids)
    found = pos < len(known)
    found[found] = known[pos[found]] == ids[found]
    if not found.all():
        i = int(np.flatnonzero(~found)[0])
        raise AnnotationError(f"{where}[{i}] has {key} {int(ids[i])}, which is not among {source}")
    return pos
