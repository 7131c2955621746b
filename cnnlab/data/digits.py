"""`digits`: the real 8×8 handwritten digits, embedded in the package (no network, ever).

1,797 grey images of 10 classes, pixel values 0..16: the test set of the UCI "Optical Recognition of Handwritten
Digits" data (Alpaydin & Kaynak, 1998; CC BY 4.0), the same array scikit-learn ships as `load_digits`.

Fixed split: the first 1,437 images are the training set and the last 360 the test set (80/20 in file order, as
scikit-learn's `train_test_split(test_size=0.2, shuffle=False)`). The file is ordered by writer, so the test set
mostly holds writers the model has not seen.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import torch

from ..errors import ConfigError
from .dataset import TensorDataset, channel_stats

NUM_TRAIN = 1437
CLASSES = tuple(str(d) for d in range(10))


def _load_arrays() -> tuple[np.ndarray, np.ndarray]:
    path = resources.files("cnnlab.data").joinpath("digits.npz")
    with path.open("rb") as f, np.load(f, allow_pickle=False) as data:
        return data["images"], data["labels"]


def load_digits(split: str = "train") -> TensorDataset:
    """The embedded digits as a `TensorDataset` of (N, 1, 8, 8) images scaled to [0, 1].

    Args:
        split: 'train' (1,437 images), 'test' (360) or 'all' (1,797).
    """
    if split not in ("train", "test", "all"):
        raise ConfigError(f"digits has splits 'train', 'test' and 'all', not {split!r}")
    images, labels = _load_arrays()
    x = torch.from_numpy(images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 8, 8) -> (N, 1, 8, 8)
    y = torch.from_numpy(labels.astype(np.int64))
    mean, std = channel_stats(x[:NUM_TRAIN])
    part = {"train": slice(0, NUM_TRAIN), "test": slice(NUM_TRAIN, None), "all": slice(None)}[split]
    return TensorDataset(x[part], y[part], CLASSES, name=f"digits/{split}", mean=mean, std=std)
