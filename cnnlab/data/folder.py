"""Image folders: one sub-folder per class (torchvision's ImageFolder layout), read with Pillow.

    root/cat/001.png          root/train/cat/001.png
    root/dog/002.jpg    or    root/test/cat/104.png     (a sub-folder per split)

Without split sub-folders the split is fixed and documented: per class, the files (in name order) are shuffled by a
generator seeded with 0 and the last `test_fraction` of them form the test split. Small folders are decoded into a
`TensorDataset`; folders whose decoded float32 images would exceed `TENSOR_LIMIT_BYTES` stay on disk as a lazy
`ImageFolder` and stream through a `StreamLoader` (see `make_loader`).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from .._io import atomic_dir
from ..errors import ConfigError, DataError
from ._images import EXTENSIONS, read_image, write_png
from .dataset import TensorDataset, channel_stats, file_stats
from .loader import generator

TENSOR_LIMIT_BYTES = 2 << 30  # 2 GiB of float32 pixels: CIFAR-10's 50,000 images take 0.6 GiB
STATS_SAMPLE = 2000  # a lazy folder's statistics are estimated from this many training images


class ImageFolder(torch.utils.data.Dataset):
    """A folder of images read on demand: item i is ((C, H, W) uint8 tensor, class id).

    Attributes match `TensorDataset` where they can: classes, name, mean, std, input_size, targets.
    """

    def __init__(self, files, labels, classes, *, name, grayscale=False, size=None, mean=None, std=None):
        self.files = list(files)
        self.targets = torch.tensor(labels, dtype=torch.int64)
        self.classes = tuple(classes)
        self.name = name
        self.grayscale = grayscale
        self.resize = size  # (H, W) every image is resized to, or None to require one size
        self.size = size or tuple(read_image(self.files[0], grayscale=grayscale).shape[1:])
        self.mean, self.std = mean, std
        self.multilabel = False

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = read_image(self.files[i], grayscale=self.grayscale, size=self.resize)
        if tuple(image.shape[1:]) != self.size:
            raise DataError(f"{self.files[i]} is {image.shape[1]}×{image.shape[2]}, the folder's first image is "
                            f"{self.size[0]}×{self.size[1]}; pass size=(H, W) to resize every image")  # fmt: skip
        return image, int(self.targets[i])

    @property
    def input_size(self) -> tuple[int, int, int]:
        return (1 if self.grayscale else 3, *self.size)

    def subset(self, indices: torch.Tensor | slice, name: str | None = None) -> ImageFolder:
        """The images at `indices`, still read on demand (statistics are kept, not recomputed)."""
        picked = list(range(len(self)))[indices] if isinstance(indices, slice) else [int(i) for i in indices]
        return ImageFolder(
            [self.files[i] for i in picked],
            [int(self.targets[i]) for i in picked],
            self.classes,
            name=name or self.name,
            grayscale=self.grayscale,
            size=self.size,
            mean=self.mean,
            std=self.std,
        )

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def scan(root: Path) -> tuple[tuple[str, ...], list[list[Path]]]:
    """Class names (sorted sub-folder names) and each class's image files (sorted)."""
    if not root.is_dir():
        raise DataError(
            f"folder: {root} is not a folder; point root (--data-dir) at a folder with one sub-folder per class"
        )
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"folder: {root} has no class sub-folders (expected root/CLASS/IMAGE, e.g. root/cat/1.png)")
    files = []
    for c in classes:
        found = sorted(p for p in (root / c).iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
        if not found:
            raise DataError(f"folder: class folder {root / c} holds no images ({', '.join(EXTENSIONS)})")
        files.append(found)
    return tuple(classes), files


def _split_files(root: Path, split: str, test_fraction: float) -> tuple[tuple[str, ...], list[Path], list[int]]:
    if (root / "train").is_dir():  # split sub-folders
        splits = sorted(p.name for p in root.iterdir() if p.is_dir())
        if split not in splits:
            raise ConfigError(f"folder: {root} has split folders {', '.join(splits)}; no {split!r}")
        classes, picked = scan(root / "train")
        if split != "train":  # class ids follow the training folder, whichever classes this split holds
            names, files = scan(root / split)
            extra = sorted(set(names) - set(classes))
            if extra:
                raise DataError(f"folder: {root / split} has classes {', '.join(extra)} that {root / 'train'} lacks")
            picked = [files[names.index(c)] if c in names else [] for c in classes]
    else:
        if split not in ("train", "test", "all"):
            raise ConfigError(f"folder: {root} has no split folders, so the splits are 'train', 'test', 'all'")
        if not 0 < test_fraction < 1:
            raise ConfigError(f"folder: test_fraction must lie strictly between 0 and 1, got {test_fraction}")
        classes, files = scan(root)
        picked = []
        for k, class_files in enumerate(files):
            order = torch.randperm(len(class_files), generator=generator(0, k)).tolist()
            n_test = math.floor(len(class_files) * test_fraction)
            keep = {"train": order[: len(order) - n_test], "test": order[len(order) - n_test :], "all": order}[split]
            picked.append([class_files[i] for i in sorted(keep)])
    paths = [p for class_files in picked for p in class_files]
    labels = [k for k, class_files in enumerate(picked) for _ in class_files]
    return classes, paths, labels


def load_folder(
    split: str = "train",
    *,
    root: Path,
    size: int | tuple[int, int] | None = None,
    grayscale: bool = False,
    test_fraction: float = 0.2,
    lazy: bool | None = None,
) -> TensorDataset | ImageFolder:
    """The images under `root` as a classification data set.

    Args:
        split: a split sub-folder's name, or 'train' / 'test' / 'all' of the fixed split.
        root: the image folder.
        size: resize every image to size×size or (H, W); without it all images must share one size.
        grayscale: read one channel instead of RGB.
        test_fraction: share of each class held out as 'test' when the folder has no split sub-folders.
        lazy: True keeps images on disk (`ImageFolder`), False decodes them all into a `TensorDataset`; None
            decides by size: lazy beyond TENSOR_LIMIT_BYTES of float32 pixels.
    """
    root = Path(root)
    hw = (size, size) if isinstance(size, int) else (tuple(size) if size is not None else None)
    classes, paths, labels = _split_files(root, split, test_fraction)
    if not paths:
        raise DataError(f"folder: the {split!r} split of {root} is empty; add images or lower test_fraction")
    name = f"{root.name}/{split}"
    first = read_image(paths[0], grayscale=grayscale, size=hw)
    if lazy is None:
        lazy = len(paths) * first.numel() * 4 > TENSOR_LIMIT_BYTES
    train = paths if split == "train" else _split_files(root, "train", test_fraction)[1]
    if lazy:
        sample = torch.randperm(len(train), generator=generator(0))[:STATS_SAMPLE].tolist()
        images = torch.stack([read_image(train[i], grayscale=grayscale, size=first.shape[1:]) for i in sample])
        mean, std = channel_stats(images.float() / 255)
        return ImageFolder(paths, labels, classes, name=name, grayscale=grayscale, size=hw, mean=mean, std=std)
    images = _decode(paths, grayscale, hw)
    how = ("folder", grayscale, hw)  # the training images are decoded again only if their files changed
    mean, std = file_stats(train, how, images if split == "train" else lambda: _decode(train, grayscale, hw))
    return TensorDataset(images, torch.tensor(labels, dtype=torch.int64), classes, name=name, mean=mean, std=std)


def _decode(paths: list[Path], grayscale: bool, size: tuple[int, int] | None) -> torch.Tensor:
    images = [read_image(p, grayscale=grayscale, size=size) for p in paths]
    first = images[0].shape
    for p, image in zip(paths, images, strict=True):
        if image.shape != first:
            raise DataError(f"{p} is {image.shape[1]}×{image.shape[2]}, {paths[0]} is {first[1]}×{first[2]}; "
                            "pass size=(H, W) to resize every image to one size")  # fmt: skip
    return torch.stack(images).float() / 255


def write_folder(dataset: TensorDataset, out: str | Path) -> Path:
    """Export a single-label `dataset` as out/CLASS/NNNNNN.png, written atomically. Class names become folder
    names ('/' turns into '_'); reading the folder back orders classes by name, as every image-folder loader does."""
    names = [c.replace("/", "_").replace("\\", "_").strip(".") or f"class_{k}" for k, c in enumerate(dataset.classes)]

    def fill(tmp: Path) -> None:
        for folder in set(names):
            (tmp / folder).mkdir()
        for i, label in enumerate(dataset.targets.tolist()):
            write_png(tmp / names[label] / f"{i:06d}.png", dataset.images[i])

    return atomic_dir(Path(out), fill, exists_error=DataError)
