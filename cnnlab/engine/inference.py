"""Using a finished run: load its model, evaluate it on a split, predict classes for images."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data import TensorDataset, make_loader
from ..errors import CnnlabError, ConfigError
from .config import TrainConfig, from_mapping
from .distributed import World
from .evaluate import evaluate
from .export import load_safetensors
from .losses import resolve_loss
from .run import load_split, read_json
from .trainer import build_model


def load_run(run_dir: str | Path) -> tuple[TrainConfig, nn.Module, TensorDataset]:
    """The run's config, its trained model (eval mode, CPU) and its training split (for classes and statistics)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise CnnlabError(f"{run_dir} is not a run directory (no config.json); pass the --out of a 'cnnlab train'")
    config = from_mapping(read_json(config_path), source=str(config_path))
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


def evaluate_run(
    run_dir: str | Path, *, data: str | None = None, split: str | None = None, data_dir: str | None = None
) -> dict[str, Any]:
    """Loss and accuracy of a run's model on `split` (default: its test split) of `data` (default: its data)."""
    config, model, train = load_run(run_dir)
    changes: dict[str, Any] = {}
    if data is not None:
        changes.update(data=data, data_dir=data_dir)
    elif data_dir is not None:
        changes.update(data_dir=data_dir)
    target = replace(config, **changes)
    dataset = load_split(target, split or config.test_split)
    if dataset.input_size != train.input_size or dataset.num_classes != train.num_classes:
        raise ConfigError(
            f"{dataset.name} has {dataset.num_classes} classes of {dataset.input_size} images; the model was "
            f"trained on {train.num_classes} classes of {train.input_size}"
        )
    # Normalize with the statistics the model was trained with.
    dataset = replace(dataset, mean=train.mean, std=train.std)
    loader = make_loader(dataset, 256, shuffle=False, seed=0, augment=None, device="cpu")
    loss = resolve_loss(config.loss, train.multilabel)
    metrics = evaluate(model, loader, loss=loss, world=World(), autocast=torch.autocast("cpu", enabled=False))
    return {"data": dataset.name, "samples": len(dataset), **metrics}
