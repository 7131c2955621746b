"""`digits`: the real 8×8 handwritten digits, embedded in the package (no network, ever).

1,797 grey images of 10 classes, pixel values 0..16: the test set of the UCI "Optical Recognition of Handwritten
Digits" data (Alpaydin & Kaynak, 1998; CC BY 4.0), the same array scikit-learn ships as `load_digits`.

Fixed, stratified split without randomness: within each class, in file order, every fifth image (the 5th, 10th,
15th, …) is a test image — 355 test and 1,442 training images, about 20% of every class. The file is ordered by
writer, so both parts hold every writer; a writer-disjoint split (train on the first 80%, test on the last 20%) is a
harder task (an RBF SVM scores 93% there against 98% here).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import torch

from ..errors import ConfigError
from .dataset import TensorDataset, channel_stats

TEST_EVERY = 5  # every fifth image of each class is a test image
CLASSES = tuple(str(d) for d in range(10))


def _load_arrays() -> tuple[np.ndarray, np.ndarray]:
    path = resources.files("cnnlab.data").joinpath("digits.npz")
    with path.open("rb") as f, np.load(f, allow_pickle=False) as data:
        return data["images"], data["labels"]


def load_digits(split: str = "train") -> TensorDataset:
    """The embedded digits as a `TensorDataset` of (N, 1, 8, 8) images scaled to [0, 1].

    Args:
        split: 'train' (1,442 images), 'test' (355) or 'all' (1,797).
    """
    if split not in ("train", "test", "all"):
        raise ConfigError(f"digits has splits 'train', 'test' and 'all', not {split!r}")
    images, labels = _load_arrays()
    x = torch.from_numpy(images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 8, 8) -> (N, 1, 8, 8)
    y = torch.from_numpy(labels.astype(np.int64))
    is_test = test_mask(labels)
    mean, std = channel_stats(x[~is_test])
    part = {"train": ~is_test, "test": is_test, "all": torch.ones_like(is_test)}[split]
    return TensorDataset(x[part], y[part], CLASSES, name=f"digits/{split}", mean=mean, std=std)


def test_mask(labels: np.ndarray) -> torch.Tensor:
    """True for the test images: the 5th, 10th, … image of each class in file order."""
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        (where,) = np.nonzero(labels == c)
        mask[where[TEST_EVERY - 1 :: TEST_EVERY]] = True
    return torch.from_numpy(mask)
