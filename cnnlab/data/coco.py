"""COCO detection JSON: reading with validation, and writing a data set as images plus annotations.

The format (cocodataset.org/#format-data): {"images": [{id, file_name, width, height}], "annotations": [{id,
image_id, category_id, bbox: [x, y, width, height], area, iscrowd}], "categories": [{id, name}]}. Boxes are in
pixels from the image's top-left corner. Category ids need not be contiguous; they map to class ids 0..K-1 in
ascending id order and are kept in `DetectionDataset.category_ids`, so `to_coco` gives the original ids back.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .._coco import GroundTruth, check_ground_truth, read_json
from .._io import atomic_dir
from ..errors import AnnotationError, DataError, short_repr
from ._images import read_image, write_png
from .dataset import channel_stats
from .detection import DetectionDataset, stack_if_equal

ANNOTATIONS = "annotations.json"
IMAGES = "images"


def parse_coco(data: object, path: Path) -> GroundTruth:
    """Check a COCO detection dictionary read from `path` (`cnnlab._coco.check_ground_truth`, the checks
    `cnnlab map` makes too, plus safe file names); a bad entry is a DataError naming the file and the entry."""
    try:
        truth = check_ground_truth(data, images=True)
    except AnnotationError as exc:
        raise DataError(f"{path}: {exc}") from exc
    if len(truth.image_ids) == 0:
        raise DataError(f"{path}: 'images' is empty; a data set needs at least one image")
    if len(truth.ann_image) == 0:  # nothing to learn or score: the loss would be NaN and the mAP -1
        raise DataError(f"{path}: 'annotations' is empty; a detection data set needs at least one box")
    return truth


def _outside(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(G,) True where an (x0, y0, x1, y1) box has no part inside the image: a box with an area shares none of it,
    an empty one lies off the image's closed rectangle (the visibility rule of `box_augment.clip_boxes`)."""
    x0, y0, x1, y1 = boxes.unbind(1)
    overlap = (x1.clamp(0, width) - x0.clamp(0, width)) * (y1.clamp(0, height) - y0.clamp(0, height))
    inside = (x0 >= 0) & (y0 >= 0) & (x1 <= width) & (y1 <= height)
    return torch.where((x1 - x0) * (y1 - y0) > 0, overlap <= 0, ~inside)


def load_coco(
    annotations: str | Path, image_dir: str | Path | None = None, *, name: str = "coco", stats_from=None
) -> DetectionDataset:
    """A COCO detection file and its images as a `DetectionDataset`.

    Args:
        annotations: the JSON file.
        image_dir: folder of the images' file_name paths (default: an 'images' folder beside the JSON file, else
            the JSON file's folder). A file_name must be a relative path inside it.
        name: the data set's name.
        stats_from: a `DetectionDataset` whose images give mean/std (the training split); default this one's.
    """
    path = Path(annotations)
    if not path.is_file():
        raise DataError(f"coco: annotation file {path} not found")
    try:
        data = read_json(path, "annotation")
    except AnnotationError as exc:
        raise DataError(str(exc)) from exc
    truth = parse_coco(data, path)
    folder = Path(image_dir) if image_dir is not None else path.parent / IMAGES
    if image_dir is None and not folder.is_dir():
        folder = path.parent
    cat_ids = tuple(sorted(truth.category_ids.tolist()))
    label_of = {c: k for k, c in enumerate(cat_ids)}
    position = {image_id: k for k, image_id in enumerate(truth.image_ids.tolist())}
    per_image: list[list[int]] = [[] for _ in position]  # annotation indices of each image, in file order
    for a, image_id in enumerate(truth.ann_image.tolist()):
        per_image[position[image_id]].append(a)
    xywh = torch.from_numpy(truth.ann_boxes).float()  # (G, 4) x, y, w, h
    xyxy = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)  # (G, 4) [x, y, w, h] -> [x0, y0, x1, y1]
    labels = torch.tensor([label_of[c] for c in truth.ann_category.tolist()], dtype=torch.int64)
    crowd = torch.from_numpy(truth.ann_crowd)
    pixels, boxes, image_labels, image_crowd = [], [], [], []
    for k, (image_id, file_name) in enumerate(zip(truth.image_ids.tolist(), truth.file_names, strict=True)):
        file = folder / file_name
        if not file.is_file():
            raise DataError(f"{path}: image {image_id} is {file}, which does not exist; pass image_dir=")
        x = read_image(file)
        declared = truth.image_sizes[k]
        if declared is not None and declared != tuple(x.shape[1:]):
            raise DataError(f"{file} is {x.shape[1]}×{x.shape[2]} pixels; {path} declares {declared[0]}×{declared[1]}")
        pixels.append(x.float() / 255)
        rows = torch.tensor(per_image[k], dtype=torch.int64)
        outside = _outside(xyxy[rows], x.shape[1], x.shape[2])
        if outside.any():  # its target would be clamped to a corner of the image and trained on
            a = per_image[k][int(outside.nonzero()[0])]
            ann = data["annotations"][a]
            named = f"annotation {short_repr(ann['id'])} (annotations[{a}])" if "id" in ann else f"annotations[{a}]"
            raise DataError(
                f"{path}: {named} has bbox {truth.ann_boxes[a].tolist()}, wholly outside its image {image_id}, "
                f"which is {x.shape[2]} pixels wide and {x.shape[1]} high; fix the box or remove the annotation"
            )
        boxes.append(xyxy[rows])
        image_labels.append(labels[rows])
        image_crowd.append(crowd[rows])
    if stats_from is None:
        flat = torch.cat([x.flatten(1) for x in pixels], dim=1)  # N × (C, H_i, W_i) -> (C, ΣH_i·W_i)
        mean, std = channel_stats(flat[None, :, :, None])  # as one (1, C, ΣH_i·W_i, 1) image
    else:
        mean, std = stats_from.mean, stats_from.std
    names = dict(zip(truth.category_ids.tolist(), truth.category_names, strict=True))
    return DetectionDataset(
        stack_if_equal(pixels),
        boxes,
        image_labels,
        tuple(names[c] for c in cat_ids),
        name=name,
        mean=mean,
        std=std,
        category_ids=cat_ids,
        image_ids=tuple(truth.image_ids.tolist()),
        file_names=truth.file_names,
        crowd=image_crowd,
    )


def write_coco(dataset: DetectionDataset, out: str | Path) -> Path:
    """Export `dataset` to the folder `out`: images/<file_name> as PNG and annotations.json, written atomically
    (into a temporary folder that is renamed to `out` when complete)."""
    coco = dataset.to_coco()

    def fill(tmp: Path) -> None:
        (tmp / IMAGES).mkdir()
        for i, entry in enumerate(coco["images"]):
            file = Path(entry["file_name"])
            if file.is_absolute() or ".." in file.parts:
                raise DataError(f"image {entry['id']} has file_name {str(file)!r}; it must stay inside the folder")
            (tmp / IMAGES / file).parent.mkdir(parents=True, exist_ok=True)
            write_png(tmp / IMAGES / file, dataset.images[i])
        (tmp / ANNOTATIONS).write_text(json.dumps(coco, indent=1) + "\n", encoding="utf-8")

    return atomic_dir(Path(out), fill, exists_error=DataError)
