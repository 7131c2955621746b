"""A finished run, loaded: its config (checked against the digest the run recorded), its trained model and its
training split, and the split it is evaluated on, normalized with the training statistics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from ..data import DetectionDataset, TensorDataset
from ..errors import CnnlabError, ConfigError
from .config import TrainConfig, from_mapping
from .export import load_safetensors
from .run import load_split, read_run_config
from .setup import build_model


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
