"""Datasets: embedded ones that work offline, loaders for the real formats, and device-resident batching."""

from ._registry import list_datasets, load_dataset
from .dataset import TensorDataset, channel_stats
from .digits import load_digits
from .loader import Augment, Batch, TensorLoader, derive_seed, generator

__all__ = [
    "Augment",
    "Batch",
    "TensorDataset",
    "TensorLoader",
    "channel_stats",
    "derive_seed",
    "generator",
    "list_datasets",
    "load_dataset",
    "load_digits",
]
