"""Using a finished run: evaluate its model on a split, predict classes for images.

Loading a run is `finished.py`'s; detection runs are evaluated and drawn by `detection_inference.py`, to which
`evaluate_run` and `predict_images` hand them over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data import DetectionDataset, make_loader
from ..errors import CnnlabError, ConfigError
from .detection_inference import DetectionEvaluation, ImageDetections, detect_image_files, evaluate_detector
from .distributed import World
from .evaluate import evaluate
from .finished import load_run, target_split
from .losses import resolve_loss
from .run import read_json


def evaluate_run(
    run_dir: str | Path,
    *,
    data: str | None = None,
    split: str | None = None,
    data_dir: str | None = None,
    data_kwargs: dict[str, Any] | None = None,
    per_class: bool = False,
    flip_test: bool = False,
) -> dict[str, Any] | DetectionEvaluation:
    """Loss and accuracy of a run's model on `split` (default: its test split) of `data` (default: its data); for a
    detection run, its COCO evaluation (`detection_inference.evaluate_detector`, with `per_class` and
    `flip_test`)."""
    config, model, train = load_run(run_dir)
    if isinstance(train, DetectionDataset):
        return evaluate_detector(config, model, train, data=data, split=split, data_dir=data_dir,
                                 data_kwargs=data_kwargs, per_class=per_class, flip_test=flip_test)  # fmt: skip
    if flip_test:
        raise ConfigError(f"{run_dir} holds a classifier; --flip-test averages a detector's maps with its mirror's")
    dataset = target_split(config, train, data=data, split=split, data_dir=data_dir, data_kwargs=data_kwargs)
    loader = make_loader(dataset, 256, shuffle=False, seed=0, augment=None, device="cpu")
    loss = resolve_loss(config.loss, train.multilabel)
    metrics = evaluate(model, loader, loss=loss, world=World(), autocast=torch.autocast("cpu", enabled=False))
    return {"data": dataset.name, "samples": len(dataset), **metrics}


@dataclass(frozen=True)
class Prediction:
    path: str
    top: tuple[tuple[str, float], ...]  # (class name, probability), most likely first


def predict_images(
    run_dir: str | Path,
    paths: Sequence[str | Path],
    *,
    top_k: int = 3,
    out: str | Path | None = None,
    min_score: float = 0.3,
    flip_test: bool = False,
) -> list[Prediction] | list[ImageDetections]:
    """Classify image files with a run's model: each is read with Pillow, converted to the model's channels,
    resized to its input size and normalized with the training statistics.

    Probabilities are softmax outputs, or per-class sigmoids for a multi-label run (then they need not sum to 1).
    A detection run finds boxes instead, scoring at least `min_score`, and draws them into the folder `out`
    (`detection_inference.detect_image_files`, where `flip_test` averages the maps with the mirror image's).
    """
    from ..data._images import read_image

    if top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {top_k}")
    _, model, train = load_run(run_dir)
    if isinstance(train, DetectionDataset):
        return detect_image_files(model, train, paths, out=out, min_score=min_score, flip_test=flip_test)
    if out is not None or flip_test:
        flag = "--out draws the boxes" if out is not None else "--flip-test averages the maps"
        raise ConfigError(f"{run_dir} holds a classifier; {flag} of a detection run")
    channels, height, width = train.input_size
    images = []
    for path in paths:
        if not Path(path).is_file():
            raise CnnlabError(f"{path}: no such image file")
        image = read_image(Path(path), grayscale=channels == 1, size=(height, width)).float() / 255
        images.append(image)
    x = torch.stack(images)  # (N, C, H, W)
    mean = torch.tensor(train.mean).view(1, -1, 1, 1)
    std = torch.tensor(train.std).view(1, -1, 1, 1)
    with torch.no_grad():
        logits = model((x - mean) / std)
    probs = torch.sigmoid(logits) if train.multilabel else torch.softmax(logits, dim=1)
    k = min(top_k, probs.shape[1])
    values, indices = probs.topk(k, dim=1)
    return [
        Prediction(str(path), tuple((train.classes[i], float(v)) for v, i in zip(vs, ids, strict=True)))
        for path, vs, ids in zip(paths, values.tolist(), indices.tolist(), strict=True)
    ]


def run_summaries(run_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """One row per run directory: model, data, engine, epochs, test accuracy and loss, training time."""
    rows = []
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        if not (run_dir / "metrics.json").is_file():
            raise CnnlabError(f"{run_dir} holds no metrics.json: not a finished run (resume it with --resume)")
        config, metrics = read_json(run_dir / "config.json"), read_json(run_dir / "metrics.json")
        rows.append(
            {
                "run": str(run_dir),
                "model": config["model"],
                "data": config["data"],
                "engine": config.get("engine", "torch"),
                "epochs": metrics["epochs"],
                "test_accuracy": metrics["test_accuracy"],
                "test_loss": metrics["test_loss"],
                "train_seconds": metrics["train_seconds"],
            }
        )
    return rows


def format_run_summaries(rows: list[dict[str, Any]]) -> str:
    header = ("model", "data", "engine", "epochs", "test acc", "test loss", "time", "run directory")
    body = [
        (r["model"], r["data"], r["engine"], str(r["epochs"]), f"{r['test_accuracy']:.4f}", f"{r['test_loss']:.4f}",
         f"{r['train_seconds']:.1f} s", r["run"])
        for r in rows
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *body]
    )
