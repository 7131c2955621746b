"""Using a finished detection run: COCO evaluation of a split, boxes drawn on image files, COCO results JSON.

Detections come from the model's own `decode` (score threshold, top-k, class-wise NMS) on images normalized with
the training split's statistics. COCO results use the data set's image ids and category ids, the ids of
`DetectionDataset.to_coco()`, so `cnnlab map GT.json dets.json` and pycocotools score them against that ground truth.
Boxes are (x0, y0, x1, y1) in the pixels of the image the model sees; COCO's are [x, y, width, height].
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._io import refuse_existing
from ..data import DetectionDataset, make_loader, render_grid
from ..errors import CnnlabError, ConfigError
from .config import TrainConfig
from .finished import load_run, target_split

DRAW_CELL = 256  # pixels of the longer side of a drawn image: 32×32 shapes are upscaled 8×, so labels stay legible


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1) in pixels of the image the model sees
    label: str  # class name
    score: float  # the class's sigmoid score at the box's peak cell


@dataclass(frozen=True)
class ImageDetections:
    path: str
    detections: tuple[Detection, ...]  # by decreasing score
    drawn: str | None  # the PNG with the boxes drawn, when an output folder was given


@dataclass(frozen=True)
class DetectionEvaluation:
    data: str  # data set and split
    samples: int  # images evaluated
    coco: Any  # cnnlab.metrics.CocoResult (imported with the metrics package, only when a detector evaluates)

    def to_dict(self) -> dict[str, Any]:
        """The data, the image count and pycocotools' 12 stats by name (AP, AP50, ..., ARl)."""
        stats = {k: v for k, v in self.coco.to_dict().items() if k not in NOT_STATS}
        return {"data": self.data, "samples": self.samples, **stats}


NOT_STATS = ("iou_thresholds", "area_ranges", "max_dets", "fix_summary_max_dets", "fix_zero_id", "per_class")


@torch.no_grad()
def detect(
    model: nn.Module, dataset: DetectionDataset, *, batch_size: int = 256, flip_test: bool = False
) -> list[dict[str, torch.Tensor]]:
    """Per image {'boxes' (n, 4) xyxy pixels, 'scores' (n,), 'labels' (n,)} of `model` (eval mode) on `dataset`,
    normalized with the dataset's mean and std, on the model's device; `flip_test` averages each image's maps with
    its mirror image's."""
    device = next(model.parameters()).device
    loader = make_loader(dataset, batch_size, shuffle=False, seed=0, augment=None, device=device)
    found = []
    for batch in loader:
        found.extend({k: v.cpu() for k, v in d.items()} for d in model.decode(_maps(model, batch.inputs, flip_test)))
    return found


def _maps(model: nn.Module, x: torch.Tensor, flip_test: bool) -> Any:
    if not flip_test:
        return model(x)
    if not callable(getattr(model, "flip_test", None)):
        raise ConfigError(f"{type(model).__name__} has no flip test; drop --flip-test")
    return model.flip_test(x)


def coco_results(dataset: DetectionDataset, detections: Sequence[dict[str, torch.Tensor]]) -> list[dict[str, Any]]:
    """COCO results, a list of {image_id, category_id, bbox [x, y, w, h], score}, in the ids of `dataset.to_coco()`."""
    if len(detections) != len(dataset):
        raise ConfigError(f"{len(detections)} images of detections for the {len(dataset)} images of {dataset.name}")
    cat_ids = dataset.category_ids or tuple(range(1, dataset.num_classes + 1))
    img_ids = dataset.image_ids or tuple(range(1, len(dataset) + 1))
    results = []
    for image_id, found in zip(img_ids, detections, strict=True):
        boxes, scores, labels = found["boxes"].tolist(), found["scores"].tolist(), found["labels"].tolist()
        for (x0, y0, x1, y1), score, label in zip(boxes, scores, labels, strict=True):
            results.append({"image_id": image_id, "category_id": cat_ids[label], "bbox": [x0, y0, x1 - x0, y1 - y0],
                            "score": score})  # fmt: skip
    return results


def evaluate_detector(
    config: TrainConfig,
    model: nn.Module,
    train: DetectionDataset,
    *,
    data: str | None = None,
    split: str | None = None,
    data_dir: str | None = None,
    data_kwargs: dict[str, Any] | None = None,
    per_class: bool = False,
    flip_test: bool = False,
) -> DetectionEvaluation:
    """COCO evaluation (pycocotools' 12 numbers) of a loaded detection run (`load_run`) on `split` (default: its
    test split) of `data` (see `target_split`); `flip_test` averages each image's maps with its mirror image's."""
    from ..metrics import coco_evaluate  # the metrics package is imported only when a detector evaluates

    dataset = target_split(config, train, data=data, split=split, data_dir=data_dir, data_kwargs=data_kwargs)
    found = detect(model, dataset, flip_test=flip_test)
    result = coco_evaluate(dataset.to_coco(), coco_results(dataset, found), per_class=per_class)
    return DetectionEvaluation(dataset.name, len(dataset), result)


def format_detection_evaluation(evaluation: DetectionEvaluation, *, per_class: bool = False) -> str:
    from ..metrics import format_coco

    head = f"{evaluation.data}: COCO bbox evaluation of {evaluation.samples} images"
    return head + "\n" + format_coco(evaluation.coco, per_class=per_class)


def write_coco_results(
    run_dir: str | Path,
    out: str | Path,
    *,
    ground_truth: str | Path | None = None,
    data: str | None = None,
    split: str | None = None,
    data_dir: str | None = None,
    data_kwargs: dict[str, Any] | None = None,
    flip_test: bool = False,
) -> tuple[str, int, int]:
    """Write the COCO results of a detection run's model on `split` (default: its test split) to the new file `out`,
    and, when asked, the split's ground truth (`to_coco()`) to `ground_truth`. Returns (data, images, detections)."""
    targets = [Path(out)] + ([Path(ground_truth)] if ground_truth is not None else [])
    refuse_existing(targets, error=ConfigError)
    if len(set(targets)) != len(targets):
        raise ConfigError(f"the results and the ground truth would both be written to {out}; name two files")
    config, model, train = load_run(run_dir)
    _require_detector(run_dir, train)
    dataset = target_split(config, train, data=data, split=split, data_dir=data_dir, data_kwargs=data_kwargs)
    results = coco_results(dataset, detect(model, dataset, flip_test=flip_test))
    _write_json(Path(out), results)
    if ground_truth is not None:
        _write_json(Path(ground_truth), dataset.to_coco())
    return dataset.name, len(dataset), len(results)


def detect_image_files(
    model: nn.Module,
    train: DetectionDataset,
    paths: Sequence[str | Path],
    *,
    out: str | Path | None = None,
    min_score: float = 0.3,
    flip_test: bool = False,
) -> list[ImageDetections]:
    """Detect objects in image files with a loaded detection run (`load_run`) and, given `out`, draw each image's
    boxes with class and score into out/<name>.png (new files: existing ones are never overwritten).

    Each image is read with Pillow, converted to the model's channels and normalized with the training statistics;
    it must have the training images' size, since the boxes are in those pixels (it is not resized).

    Args:
        min_score: keep the detections scoring at least this (the model's decode keeps all above 0.05).
        flip_test: average each image's maps with its mirror image's (two forward passes).
    """
    from ..data._images import read_image

    if not 0 <= min_score <= 1:
        raise ConfigError(f"--min-score is a score in [0, 1], got {min_score}")
    drawn = _output_paths(paths, out) if out is not None else [None] * len(paths)
    channels, height, width = train.input_size
    images = []
    for path in paths:
        if not Path(path).is_file():
            raise CnnlabError(f"{path}: no such image file")
        image = read_image(Path(path), grayscale=channels == 1)
        if tuple(image.shape[1:]) != (height, width):
            raise CnnlabError(
                f"{path} is {image.shape[2]}×{image.shape[1]} pixels, but the model was trained on {width}×{height} "
                f"images and gives boxes in their pixels; resize or crop it to {width}×{height} first"
            )
        images.append(image.float() / 255)
    x = torch.stack(images)  # (N, C, H, W)
    mean = torch.tensor(train.mean).view(1, -1, 1, 1)
    std = torch.tensor(train.std).view(1, -1, 1, 1)
    with torch.no_grad():
        found = model.decode(_maps(model, (x - mean) / std, flip_test))
    predictions = []
    for path, image, target, dets in zip(paths, images, drawn, found, strict=True):
        keep = dets["scores"] >= min_score
        detections = tuple(
            Detection(tuple(box), train.classes[label], score)
            for box, score, label in zip(dets["boxes"][keep].tolist(), dets["scores"][keep].tolist(),
                                         dets["labels"][keep].tolist(), strict=True)
        )  # fmt: skip
        if target is not None:
            boxes = [(d.box, train.classes.index(d.label), f"{d.label} {d.score:.2f}") for d in detections]
            picture = render_grid([image], [Path(path).name], [boxes], columns=1, cell=DRAW_CELL)
            with open(target, "xb") as f:  # "x": fails rather than overwrite a file made since the check
                picture.save(f, format="PNG")
        predictions.append(ImageDetections(str(path), detections, None if target is None else str(target)))
    return predictions


def format_image_detections(predictions: Sequence[ImageDetections]) -> str:
    lines = []
    for p in predictions:
        where = f"  -> {p.drawn}" if p.drawn else ""
        lines.append(f"{p.path}: {len(p.detections)} detection{'s' * (len(p.detections) != 1)}{where}")
        for d in p.detections:
            lines.append(f"  {d.label:<10} {d.score:.3f}  " + " ".join(f"{v:6.1f}" for v in d.box))
    return "\n".join(lines)


def _require_detector(run_dir: str | Path, train: Any) -> None:
    if not isinstance(train, DetectionDataset):
        raise ConfigError(f"{run_dir} holds a classifier; --coco-json writes the detections of a detection run, "
                          "e.g. of 'cnnlab train tinydet --data shapes --data-kw task=detection'")  # fmt: skip


def _output_paths(paths: Sequence[str | Path], out: str | Path) -> list[Path]:
    """out/<stem>.png for each input, checked before anything is written: no two alike, none existing."""
    targets = [Path(out) / (Path(p).stem + ".png") for p in paths]
    seen: dict[Path, str | Path] = {}
    for path, target in zip(paths, targets, strict=True):
        if target in seen:
            raise ConfigError(f"{seen[target]} and {path} would both be drawn to {target}; rename one of them")
        seen[target] = path
    if Path(out).exists() and not Path(out).is_dir():
        raise ConfigError(f"--out {out} is a file; name a folder for the drawn images")
    refuse_existing(targets, error=ConfigError)
    Path(out).mkdir(parents=True, exist_ok=True)
    return targets


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as f:  # "x": never overwrite
        json.dump(value, f)
