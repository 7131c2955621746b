"""Datasets: embedded ones that work offline, loaders for the real formats, and device-resident batching."""

from ._registry import DatasetInfo, dataset_info, describe, export_dataset, format_datasets, list_datasets, load_dataset
from .adding import make_adding
from .augment import build_augment
from .box_augment import BoxAugment, build_box_augment
from .dataset import TensorDataset, channel_stats
from .detection import DetectionDataset
from .detection_loader import DetectionBatch, DetectionLoader
from .digits import load_digits
from .folder import TENSOR_LIMIT_BYTES, ImageFolder
from .grid import render_grid, save_grid
from .loader import Augment, Batch, TensorLoader, derive_seed, generator
from .shapes import generate_shapes
from .spirals import make_spirals
from .stream import StreamLoader, make_loader

__all__ = [
    "TENSOR_LIMIT_BYTES",
    "Augment",
    "Batch",
    "BoxAugment",
    "DatasetInfo",
    "DetectionBatch",
    "DetectionDataset",
    "DetectionLoader",
    "ImageFolder",
    "StreamLoader",
    "TensorDataset",
    "TensorLoader",
    "build_augment",
    "build_box_augment",
    "channel_stats",
    "dataset_info",
    "derive_seed",
    "describe",
    "export_dataset",
    "format_datasets",
    "generate_shapes",
    "generator",
    "list_datasets",
    "load_dataset",
    "load_digits",
    "make_adding",
    "make_loader",
    "make_spirals",
    "render_grid",
    "save_grid",
]
