"""Using a finished run: load its model, evaluate it on a split, predict classes for images.

Detection runs are evaluated and drawn by `detection_inference.py`; `evaluate_run` hands them over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..data import DetectionDataset, TensorDataset, make_loader
from ..errors import CnnlabError, ConfigError
from .config import TrainConfig, from_mapping
from .distributed import World
from .evaluate import evaluate
from .export import load_safetensors
from .losses import resolve_loss
from .run import load_split, read_json, read_run_config
from .setup import build_model

if TYPE_CHECKING:
    from .detection_inference import DetectionEvaluation, ImageDetections


def load_run(run_dir: str | Path) -> tuple[TrainConfig, nn.Module, TensorDataset]:
    """The run's config, its trained model (eval mode, CPU) and its training split (for classes and statistics)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise CnnlabError(f"{run_dir} is not a run directory (no config.json); pass the --out of a 'cnnlab train'")
    config = from_mapping(read_run_config(run_dir), source=str(config_path))  # an edited config.json is refused
    train = load_split(config, config.train_split)
    model = build_model(config, train.num_classes, train.input_size)
    state = load_safetensors(run_dir / "model.safetensors")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CnnlabError(
            f"{run_dir}/model.safetensors does not fit {config.model}: {str(exc).splitlines()[0]}"
        ) from None
    return config, model.eval(), train


def target_split(
    config: TrainConfig,
    train: TensorDataset | DetectionDataset,
    *,
    data: str | None = None,
    split: str | None = None,
    data_dir: str | None = None,
    data_kwargs: dict[str, Any] | None = None,
) -> TensorDataset | DetectionDataset:
    """`split` (default: the run's test split) of `data` (default: the run's data), normalized with the training
    statistics. `data_kwargs` add to the run's own data keywords when the data is the run's, else replace them."""
    changes: dict[str, Any] = {}
    if data is not None:
        changes.update(data=data, data_dir=data_dir)
    elif data_dir is not None:
        changes.update(data_dir=data_dir)
    same = data is None or data == config.data
    if data_kwargs or not same:
        changes.update(data_kwargs={**(config.data_kwargs if same else {}), **(data_kwargs or {})})
    target = replace(config, **changes)
    dataset = load_split(target, split or config.test_split)
    detection = isinstance(train, DetectionDataset)
    if isinstance(dataset, DetectionDataset) != detection:
        why = "has no boxes, but the model is a detector (for shapes: --data-kw task=detection)" if detection else (
            "holds boxes, but the model is a classifier")  # fmt: skip
        raise ConfigError(f"{dataset.name} {why}")
    if detection and dataset.classes != train.classes:
        raise ConfigError(f"{dataset.name} holds boxes of {dataset.classes}; the model found {train.classes}")
    if dataset.input_size != train.input_size or dataset.num_classes != train.num_classes:
        raise ConfigError(
            f"{dataset.name} has {dataset.num_classes} classes of {dataset.input_size} images; the model was "
            f"trained on {train.num_classes} classes of {train.input_size}"
        )
    # Normalize with the statistics the model was trained with.
    return replace(dataset, mean=train.mean, std=train.std)


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
        from .detection_inference import evaluate_detector

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
        from .detection_inference import detect_image_files

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
