"""The data set registry: `list_datasets`, `dataset_info`, `load_dataset`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .._signature import check_kwargs, keyword_names
from ..errors import ConfigError, DataError, unknown_name
from . import shapes
from .adding import CLASSES as CLASSES_ADDING
from .adding import load_adding
from .cifar import CIFAR10_CLASSES, load_cifar
from .coco import ANNOTATIONS, load_coco, write_coco
from .dataset import TensorDataset
from .detection import DetectionDataset
from .digits import CLASSES as DIGIT_CLASSES
from .digits import load_digits
from .download import default_root
from .download import download as fetch_files
from .folder import ImageFolder, load_folder, write_folder
from .idx import FASHION_CLASSES, load_idx_dataset

Dataset = TensorDataset | DetectionDataset | ImageFolder


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set is, before loading it.

    Attributes:
        name: the registry name.
        task: the default task: 'classification', 'multilabel', 'detection' or 'regression'.
        description: one line.
        input_size: (C, H, W) of one image, None where it depends on the files.
        classes: class names, None where they depend on the files.
        tasks: every task the data set serves.
        splits: the split names.
        embedded: True when it ships with cnnlab (no files, no network).
        downloadable: True when `download=True` can fetch it.
    """

    name: str
    task: str
    description: str
    input_size: tuple[int, int, int] | None
    classes: tuple[str, ...] | None
    tasks: tuple[str, ...] = ("classification",)
    splits: tuple[str, ...] = ("train", "test")
    embedded: bool = False
    downloadable: bool = False


def _digits(split: str) -> TensorDataset:
    return load_digits(split)


def _mnist(split: str, *, root: Path) -> TensorDataset:
    return load_idx_dataset("mnist", split, root)


def _fashion_mnist(split: str, *, root: Path) -> TensorDataset:
    return load_idx_dataset("fashion_mnist", split, root)


def _cifar10(split: str, *, root: Path) -> TensorDataset:
    return load_cifar("cifar10", split, root)


def _cifar100(split: str, *, root: Path, label: str = "fine") -> TensorDataset:
    return load_cifar("cifar100", split, root, label=label)


def _coco(split: str, *, root: Path, annotations: str | None = None, image_dir: str | None = None):
    """root/SPLIT.json when present, else root/annotations.json (a one-split set, such as an export)."""
    root = Path(root)

    def file_for(s: str) -> Path:
        if annotations is not None:
            return Path(annotations)
        return root / f"{s}.json" if (root / f"{s}.json").is_file() else root / ANNOTATIONS

    own = file_for(split)
    train = None
    if file_for("train") != own:
        train = load_coco(file_for("train"), image_dir, name=f"{root.name}/train")
    return load_coco(own, image_dir, name=f"{root.name}/{split}", stats_from=train)


_TABLE: dict[str, tuple[DatasetInfo, Callable[..., Dataset]]] = {
    "digits": (
        DatasetInfo("digits", "classification", "8×8 handwritten digits (UCI), 1,442 train / 355 test, embedded",
                    (1, 8, 8), DIGIT_CLASSES, splits=("train", "test", "all"), embedded=True),
        _digits,
    ),
    "shapes": (
        DatasetInfo("shapes", "classification", "procedural 32×32 shapes with a difficulty knob; 10,000 / 2,000",
                    (3, 32, 32), shapes.CLASSES, tasks=shapes.TASKS, embedded=True),
        shapes.load_shapes,
    ),
    "adding": (
        DatasetInfo("adding", "regression", "the adding problem: sum the 2 marked values of a T-step sequence "
                    "(T=100 by default); 10,000 / 2,000, generated", (2, 1, 100), CLASSES_ADDING,
                    tasks=("regression",), embedded=True),
        load_adding,
    ),
    "mnist": (
        DatasetInfo("mnist", "classification", "28×28 handwritten digits, 60,000 / 10,000 (IDX files)", (1, 28, 28),
                    DIGIT_CLASSES, downloadable=True),
        _mnist,
    ),
    "fashion_mnist": (
        DatasetInfo("fashion_mnist", "classification", "28×28 Zalando clothing, 60,000 / 10,000 (IDX files)",
                    (1, 28, 28), FASHION_CLASSES, downloadable=True),
        _fashion_mnist,
    ),
    "cifar10": (
        DatasetInfo("cifar10", "classification", "32×32 colour photos, 10 classes, 50,000 / 10,000 (python batches)",
                    (3, 32, 32), CIFAR10_CLASSES, downloadable=True),
        _cifar10,
    ),
    "cifar100": (
        DatasetInfo("cifar100", "classification", "32×32 colour photos, 100 classes (or 20 coarse), 50,000 / 10,000",
                    (3, 32, 32), None, downloadable=True),
        _cifar100,
    ),
    "folder": (
        DatasetInfo("folder", "classification", "your images, one sub-folder per class (root=PATH)", None, None,
                    splits=("train", "test", "all")),
        load_folder,
    ),
    "coco": (
        DatasetInfo("coco", "detection", "COCO-format detection JSON plus its images (root=PATH)", None, None,
                    tasks=("detection",)),
        _coco,
    ),
}  # fmt: skip


def list_datasets() -> list[str]:
    """Sorted names of the data sets `load_dataset` knows."""
    return sorted(_TABLE)


def dataset_info(name: str) -> DatasetInfo:
    """What data set `name` is: task, description, input size, classes, splits."""
    if name not in _TABLE:
        raise unknown_name("dataset", name, _TABLE)
    return _TABLE[name][0]


def load_dataset(name: str, split: str = "train", *, root: str | Path | None = None, download: bool = False,
                 **options) -> Dataset:  # fmt: skip
    """Load split `split` of data set `name`.

    Args:
        name: one of `list_datasets()`.
        split: 'train' or 'test' ('all' for digits and folders; a folder's split sub-folder name).
        root: where the files are (required for 'folder' and 'coco'; default $CNNLAB_DATA/NAME or
            ~/.cache/cnnlab/NAME for the downloadable sets); embedded sets take none.
        download: fetch missing files of a downloadable set (verified by MD5).
        options: data-set specific, e.g. shapes: task, difficulty, seed, n_train, n_test, image_size,
            max_objects; folder: size, grayscale, test_fraction, lazy; cifar100: label; coco: annotations,
            image_dir.

    Returns:
        A `TensorDataset` for classification (int64 targets) and multi-label ((N, K) float 0/1 targets), a
        `DetectionDataset` for detection, an `ImageFolder` for a folder too large to hold as tensors. Every
        split's mean/std are those of the training split.
    """
    info, loader = dataset_info(name), _TABLE[name][1]
    accepts = keyword_names(loader) - {"split", "root"}
    check_kwargs(f"dataset {name!r}", options, accepts)
    if name not in ("folder", "coco") and split not in info.splits:  # those two take their files' split names
        raise unknown_name(f"{name} split", split, info.splits)
    if info.embedded:
        if root is not None or download:
            raise ConfigError(f"{name} is embedded in cnnlab; it takes no root= and no download=")
        return loader(split, **options)
    if root is None:
        if not info.downloadable:
            raise ConfigError(f"{name} needs root= the folder holding its files")
        root = default_root(name)
    root = Path(root).expanduser()
    if download:
        if not info.downloadable:
            raise ConfigError(f"{name} cannot be downloaded; its files are yours (root=PATH)")
        try:
            return loader(split, root=root, **options)
        except DataError:  # missing or damaged files: fetch what is not there intact, then read again
            fetch_files(name, root)
    return loader(split, root=root, **options)


def export_dataset(dataset: Dataset, out: str | Path) -> Path:
    """Write `dataset` to the new folder `out`: a detection set as images/ plus COCO annotations.json, a
    single-label set as one sub-folder per class (readable by load_dataset('folder', root=out))."""
    if isinstance(dataset, DetectionDataset):
        return write_coco(dataset, out)
    if isinstance(dataset, TensorDataset) and not dataset.multilabel and not dataset.regression:
        return write_folder(dataset, out)
    raise ConfigError(f"{dataset.name}: only detection and single-label sets can be exported (as COCO or a folder)")


def format_datasets(infos: list[DatasetInfo]) -> str:
    """A table of data sets: name, tasks, input size, classes, where the data comes from, description."""
    rows = []
    for info in infos:
        source = "embedded" if info.embedded else ("files/download" if info.downloadable else "your files")
        size = "×".join(map(str, info.input_size)) if info.input_size else "any"
        classes = str(len(info.classes)) if info.classes else "-"
        rows.append((info.name, ",".join(info.tasks), size, classes, source, info.description))
    header = ("name", "tasks", "input", "classes", "source", "description")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[5] for r in [header, *rows]
    )


def describe(dataset: Dataset) -> str:
    """A few lines about a loaded data set: name, size, input, classes, normalization statistics."""
    lines = [f"{dataset.name}: {len(dataset):,} images"]
    if isinstance(dataset, DetectionDataset):
        objects = sum(len(b) for b in dataset.boxes)
        lines[0] += f", {objects:,} boxes"
        sizes = {dataset.image_size(i) for i in range(len(dataset))}
        lines.append("input: " + (f"{dataset.images.shape[1]}×" + "×".join(map(str, sizes.pop())) if len(sizes) == 1
                                  else f"{len(sizes)} different sizes"))  # fmt: skip
    else:
        lines.append("input: " + "×".join(map(str, dataset.input_size)))
        if dataset.regression:
            t = dataset.targets
            lines.append(f"targets: mean {t.mean():.4f}, std {t.std():.4f}, range {t.min():.4f} to {t.max():.4f}")
        elif not dataset.multilabel:
            counts = torch.bincount(dataset.targets, minlength=len(dataset.classes)).tolist()
            lines.append("per class: " + ", ".join(f"{c} {n}" for c, n in zip(dataset.classes, counts, strict=True)))
    shown = ", ".join(dataset.classes[:12]) + (
        f", … ({len(dataset.classes)} in all)" if len(dataset.classes) > 12 else ""
    )
    lines.append(f"classes: {shown}")
    if dataset.mean is not None:
        fmt = ", ".join
        lines.append(
            f"training mean ({fmt(f'{m:.4f}' for m in dataset.mean)}), std ({fmt(f'{s:.4f}' for s in dataset.std)})"
        )
    return "\n".join(lines)
