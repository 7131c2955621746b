"""Images and labels as NumPy arrays, batched in a seeded order: the reference's data when torch is absent.

`fit` and `evaluate` take an `ArrayDataset` or a `cnnlab.data.TensorDataset`. A TensorDataset is batched by
`cnnlab.data.TensorLoader`, so a scratch run and a torch run with the same seed see the same batches in the same
order; an ArrayDataset is batched here by `ArrayLoader`, in NumPy alone (its order is NumPy's, not torch's).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ShapeError, shape_str


@dataclass(frozen=True, eq=False)
class ArrayDataset:
    """Images and single-label targets held as arrays.

    Attributes:
        images: (N, C, H, W) floats, e.g. in [0, 1].
        targets: (N,) integer class ids.
        classes: class names, index = class id.
        name: dataset name and split, e.g. 'digits/train'.
        mean, std: per-channel statistics of the training split, used to normalize every split alike (None: the
            images are used as they are).
    """

    images: np.ndarray
    targets: np.ndarray
    classes: tuple[str, ...]
    name: str = ""
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        what = self.name or "dataset"
        if self.images.ndim != 4:
            raise ShapeError(f"{what}: images must be (N, C, H, W), got {shape_str(self.images.shape)}")
        if self.targets.shape != (self.images.shape[0],) or not np.issubdtype(self.targets.dtype, np.integer):
            raise ShapeError(
                f"{what}: targets must be {self.images.shape[0]} integer class ids, one per image; got "
                f"{self.targets.dtype} of shape {shape_str(self.targets.shape)}"
            )
        if (self.mean is None) != (self.std is None):
            raise ConfigError(f"{what}: give mean and std together, or neither")

    def __len__(self) -> int:
        return self.images.shape[0]

    multilabel = False  # softmax cross-entropy: one class per image

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


MIN_STD = 1e-12  # a channel whose std is below it is constant: it gets std 1, as in cnnlab.data


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of (N, C, H, W) images, computed in float64; a constant channel gets
    std 1, so normalizing only centres it (as `cnnlab.data.channel_stats` does)."""
    x = images.astype(np.float64).transpose(1, 0, 2, 3).reshape(images.shape[1], -1)  # -> (C, N·H·W)
    std = [s if s >= MIN_STD else 1.0 for s in x.std(axis=1).tolist()]
    return tuple(x.mean(axis=1).tolist()), tuple(std)


class ArrayLoader:
    """Batches of (images normalized with the dataset's mean and std, targets), both NumPy arrays.

    The order of epoch e is a permutation drawn from (seed, e); each pass over the loader is the next epoch.

    Args:
        data: the dataset. batch_size: images per batch (the last batch may be smaller).
        shuffle: a new order every epoch (training); False keeps the data's order (evaluation).
        seed: seeds the order. dtype: of the image batches.
    """

    def __init__(self, data: ArrayDataset, batch_size: int, *, shuffle: bool = True, seed: int = 0, dtype=np.float32):
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        if len(data) == 0:
            raise ConfigError(f"dataset {data.name or ''} is empty".replace("  ", " "))
        self.data, self.batch_size, self.shuffle, self.seed = data, min(batch_size, len(data)), shuffle, seed
        self.epoch = 0
        images = data.images.astype(dtype)
        if data.mean is not None:
            shape = (1, -1, 1, 1)  # (C,) -> (1, C, 1, 1), broadcast over (N, C, H, W)
            mean, std = np.asarray(data.mean, dtype).reshape(shape), np.asarray(data.std, dtype).reshape(shape)
            images = (images - mean) / std
        self._images = images

    def __len__(self) -> int:
        """Batches per epoch."""
        return -(-len(self.data) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.data)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)
        self.epoch += 1
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self._images[index], self.data.targets[index]
