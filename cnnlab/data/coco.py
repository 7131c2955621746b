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

from .._io import atomic_dir
from ..errors import DataError
from ._images import read_image, write_png
from .dataset import channel_stats
from .detection import DetectionDataset, stack_if_equal

ANNOTATIONS = "annotations.json"
IMAGES = "images"


def _require(entry: object, keys: tuple[str, ...], where: str) -> dict:
    if not isinstance(entry, dict):
        raise DataError(f"{where} must be a JSON object, got {type(entry).__name__}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise DataError(f"{where} lacks the key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    return entry


def _ids(entries: list, kind: str, path: Path) -> dict[int, dict]:
    table: dict[int, dict] = {}
    for i, entry in enumerate(entries):
        keys = ("id", "file_name") if kind == "images" else ("id", "name")
        _require(entry, keys, f"{path}: {kind}[{i}]")
        if not isinstance(entry["id"], int) or entry["id"] in table:
            raise DataError(f"{path}: {kind}[{i}] has id {entry['id']!r}; ids must be unique integers")
        table[entry["id"]] = entry
    return table


def parse_coco(data: object, path: Path) -> tuple[dict[int, dict], dict[int, dict], dict[int, list[dict]]]:
    """Validate a COCO detection dictionary: images and categories by id, and each image's annotations."""
    _require(data, ("images", "annotations", "categories"), f"{path}: the top level")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data[key], list):
            raise DataError(f"{path}: '{key}' must be a list, got {type(data[key]).__name__}")
    images, categories = _ids(data["images"], "images", path), _ids(data["categories"], "categories", path)
    per_image: dict[int, list[dict]] = {i: [] for i in images}
    for i, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{i}]" + (f" (id {ann['id']})" if isinstance(ann, dict) and "id" in ann else "")
        _require(ann, ("image_id", "category_id", "bbox"), where)
        if ann["image_id"] not in images:
            raise DataError(f"{where} refers to image id {ann['image_id']!r}, which is not in 'images'")
        if ann["category_id"] not in categories:
            raise DataError(f"{where} refers to category id {ann['category_id']!r}, which is not in 'categories'")
        box = ann["bbox"]
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
            raise DataError(f"{where}: bbox must be [x, y, width, height], got {box!r}")
        if box[2] < 0 or box[3] < 0:
            raise DataError(f"{where}: bbox {box} has a negative width or height; COCO boxes are [x, y, w, h]")
        per_image[ann["image_id"]].append(ann)
    return images, categories, per_image


def load_coco(
    annotations: str | Path, image_dir: str | Path | None = None, *, name: str = "coco", stats_from=None
) -> DetectionDataset:
    """A COCO detection file and its images as a `DetectionDataset`.

    Args:
        annotations: the JSON file.
        image_dir: folder of the images' file_name paths (default: an 'images' folder beside the JSON file, else
            the JSON file's folder).
        name: the data set's name.
        stats_from: a `DetectionDataset` whose images give mean/std (the training split); default this one's.
    """
    path = Path(annotations)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"coco: annotation file {path} not found") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    images, categories, per_image = parse_coco(data, path)
    folder = Path(image_dir) if image_dir is not None else path.parent / IMAGES
    if image_dir is None and not folder.is_dir():
        folder = path.parent
    cat_ids = tuple(sorted(categories))
    label_of = {c: k for k, c in enumerate(cat_ids)}
    pixels, boxes, labels, crowd = [], [], [], []
    for image_id, entry in images.items():
        file = folder / entry["file_name"]
        if not file.is_file():
            raise DataError(f"{path}: image {image_id} is {file}, which does not exist; pass image_dir=")
        x = read_image(file)
        declared = (entry.get("height", x.shape[1]), entry.get("width", x.shape[2]))
        if declared != tuple(x.shape[1:]):
            raise DataError(f"{file} is {x.shape[1]}×{x.shape[2]} pixels; {path} declares {declared[0]}×{declared[1]}")
        pixels.append(x.float() / 255)
        anns = per_image[image_id]
        xywh = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        boxes.append(torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1))  # [x, y, w, h] -> [x0, y0, x1, y1]
        labels.append(torch.tensor([label_of[a["category_id"]] for a in anns], dtype=torch.int64))
        crowd.append(torch.tensor([bool(a.get("iscrowd", 0)) for a in anns], dtype=torch.bool))
    if stats_from is None:
        flat = torch.cat([x.flatten(1) for x in pixels], dim=1)  # N × (C, H_i, W_i) -> (C, ΣH_i·W_i)
        mean, std = channel_stats(flat[None, :, :, None])  # as one (1, C, ΣH_i·W_i, 1) image
    else:
        mean, std = stats_from.mean, stats_from.std
    return DetectionDataset(
        stack_if_equal(pixels),
        boxes,
        labels,
        tuple(str(categories[c]["name"]) for c in cat_ids),
        name=name,
        mean=mean,
        std=std,
        category_ids=cat_ids,
        image_ids=tuple(images),
        file_names=tuple(str(e["file_name"]) for e in images.values()),
        crowd=crowd,
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
