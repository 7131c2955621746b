"""`adding`: the adding problem (Hochreiter & Schmidhuber, 1997), a test of long-range memory for recurrent nets.

Each sample is a sequence of T steps with two channels: a value drawn from U(0, 1) and a marker that is 1 at
exactly two steps — one in the first half, one in the second — and 0 elsewhere. The target is the sum of the two
marked values. A model must carry the first marked value across up to T steps. Predicting the mean sum, 1, for every
sequence gives a mean squared error of Var(u1 + u2) = 2/12 ≈ 0.167: a model that does better has learned to
remember.

Stored as (N, 2, 1, T) "images" (channel 0 values, channel 1 markers), so the loaders and the trainer take it as
they take images; the sequence models of the zoo (`rnn`, `lstm`) read it as T steps of 2 features. Targets are
float32 (N,): a regression task, trained with the mean squared error.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from .dataset import TensorDataset
from .loader import generator

SPLITS = {"train": 0, "test": 1}
CLASSES = ("sum",)  # one output: the predicted sum


def make_adding(n: int, T: int = 100, *, seed: int = 0, split: int = 0) -> TensorDataset:
    """`n` adding-problem sequences of length `T`, drawn from the generator of (seed, split)."""
    if n < 1:
        raise ConfigError(f"adding: the number of sequences must be at least 1, got {n}")
    if not isinstance(T, int) or T < 2:
        raise ConfigError(f"adding: the sequence length T must be an integer ≥ 2, got {T!r}")
    g = generator(seed, 1000 + split)
    values = torch.rand(n, T, generator=g)
    half = T // 2
    first = torch.randint(0, half, (n,), generator=g)  # one marker in each half
    second = torch.randint(half, T, (n,), generator=g)
    markers = torch.zeros(n, T)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    images = torch.stack([values, markers], dim=1).unsqueeze(2)  # (n, 2, T) -> (n, 2, 1, T)
    return TensorDataset(images, targets, CLASSES, name=f"adding-T{T}/{'train' if split == 0 else 'test'}")


def load_adding(split: str, *, T: int = 100, n_train: int = 10_000, n_test: int = 2_000, seed: int = 0):
    """The registry's loader: split 'train' (n_train sequences) or 'test' (n_test), of length T."""
    if split not in SPLITS:
        raise ConfigError(f"adding has splits 'train' and 'test', not {split!r}")
    return make_adding(n_train if split == "train" else n_test, T, seed=seed, split=SPLITS[split])
