"""Datasets by name: `load_dataset(name, split)`, `list_datasets()`."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, unknown_name
from .dataset import TensorDataset
from .digits import load_digits

_DATASETS = ("digits",)


def list_datasets() -> list[str]:
    return sorted(_DATASETS)


def load_dataset(
    name: str, split: str = "train", *, root: str | Path | None = None, download: bool = False, **options
) -> TensorDataset:
    """Load split `split` of dataset `name`; `root` is where its files live (not needed for embedded data)."""
    if name not in _DATASETS:
        raise unknown_name("dataset", name, _DATASETS)
    if options:
        raise ConfigError(f"dataset {name!r} takes no options, got {', '.join(options)}")
    return load_digits(split)
