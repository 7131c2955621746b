"""The in-memory dataset: images and targets as two tensors, small enough to live on the training device."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..errors import ShapeError


@dataclass(frozen=True, eq=False)
class TensorDataset:
    """Images and targets held as tensors.

    Attributes:
        images: (N, C, H, W) float32 in [0, 1].
        targets: (N,) int64 class ids for single-label data; (N, K) float32 0/1 for multi-label data; (N,)
            float32 values for regression (`classes` then names the one output).
        classes: class names, index = class id.
        name: dataset name and split, e.g. 'digits/train'.
        mean, std: per-channel statistics of the training split, used to normalize every split alike.
    """

    images: torch.Tensor
    targets: torch.Tensor
    classes: tuple[str, ...]
    name: str = ""
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.images.dim() != 4:
            raise ShapeError(f"{self.name or 'dataset'}: images must be (N, C, H, W), got {tuple(self.images.shape)}")
        if self.targets.shape[0] != self.images.shape[0]:
            raise ShapeError(
                f"{self.name or 'dataset'}: {self.images.shape[0]} images but {self.targets.shape[0]} targets"
            )
        if self.multilabel and self.targets.shape[1] != len(self.classes):
            raise ShapeError(
                f"{self.name}: multi-label targets have {self.targets.shape[1]} columns, not {len(self.classes)}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def multilabel(self) -> bool:
        """True when each image has a 0/1 target per class (per-class logistic outputs)."""
        return self.targets.dim() == 2

    @property
    def regression(self) -> bool:
        """True when each sample's target is a real number (float (N,) targets), learned with the squared error."""
        return self.targets.dim() == 1 and self.targets.is_floating_point()

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device: torch.device | str) -> TensorDataset:
        """The same dataset with its tensors on `device`."""
        return replace(self, images=self.images.to(device), targets=self.targets.to(device))

    def subset(self, indices: torch.Tensor | slice, name: str | None = None) -> TensorDataset:
        """The samples at `indices` (statistics are kept, not recomputed)."""
        return replace(self, images=self.images[indices], targets=self.targets[indices], name=name or self.name)


MIN_STD = 1e-12  # below this a channel is constant up to rounding (8-bit pixels vary by at least ~1e-9 in std)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of (N, C, H, W) images, computed in float64.

    A constant channel (std below `MIN_STD`, e.g. a folder of one-colour images) gets std 1, so normalizing only
    centres it instead of dividing by zero (scikit-learn's StandardScaler does the same).
    """
    if images.numel() == 0:
        raise ShapeError(f"images of shape {tuple(images.shape)} hold no pixels to compute channel statistics of")
    x = images.double().transpose(0, 1).reshape(images.shape[1], -1)  # (N, C, H, W) -> (C, N·H·W)
    std = [s if s >= MIN_STD else 1.0 for s in x.std(dim=1, unbiased=False).tolist()]
    return tuple(x.mean(dim=1).tolist()), tuple(std)


# Channel statistics of training splits, the last few computed (a few floats each), by what decides their pixels:
# loading a test split normalizes it with its training split's statistics, and a run loads the training split first,
# so the test split's load finds them here instead of reading or generating the training images again.
_TRAIN_STATS: dict[Hashable, tuple[tuple[float, ...], tuple[float, ...]]] = {}
_TRAIN_STATS_KEPT = 8


def training_stats(key: Hashable, images: torch.Tensor | Callable[[], torch.Tensor]):
    """`channel_stats` of a training split's images, remembered under `key` (whatever decides the pixels).

    Args:
        images: the images, or a function that reads or makes them (called only when not remembered).
    """
    if key not in _TRAIN_STATS:
        _TRAIN_STATS[key] = channel_stats(images if isinstance(images, torch.Tensor) else images())
        while len(_TRAIN_STATS) > _TRAIN_STATS_KEPT:
            del _TRAIN_STATS[next(iter(_TRAIN_STATS))]  # the oldest
    return _TRAIN_STATS[key]


def file_stats(files: Sequence[str | Path], how: Hashable, images: torch.Tensor | Callable[[], torch.Tensor]):
    """`training_stats` of the images read from `files`, remembered by each file's path, inode, size and modification
    time (and `how`: whatever else decides the pixels, such as the size they are resized to): a file changed since
    the training split was loaded changes the key, and the statistics are computed anew."""
    key = (
        "files",
        how,
        tuple((str(f), s.st_ino, s.st_size, s.st_mtime_ns) for f, s in ((f, os.stat(f)) for f in files)),
    )
    return training_stats(key, images)
