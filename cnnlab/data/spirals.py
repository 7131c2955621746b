"""`spirals`: two interleaved 2-D spirals, a classic set that no linear classifier separates.

Class c ∈ {0, 1} holds points at angle θ = 2π·turns·t and radius r = t for t ~ U(0.05, 1), rotated by π·c, plus
Gaussian noise of standard deviation `noise`. A point is stored as a 2-channel 1×1 "image", (N, 2, 1, 1), so every
model and loader that takes images takes it; an MLP built with in_channels=2, input_size=1 sees the two coordinates.
"""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError
from .dataset import TensorDataset
from .loader import generator

CLASSES = ("spiral-a", "spiral-b")


def make_spirals(n: int, *, turns: float = 1.5, noise: float = 0.03, seed: int = 0, split: int = 0) -> TensorDataset:
    """`n` points (half per class, alternating), drawn from the generator of (seed, split).

    Args:
        n: number of points (≥ 2).
        turns: how many times each spiral winds around the centre.
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed, split: the stream; use split 0 for training and 1 for test points.
    """
    if n < 2:
        raise ConfigError(f"spirals: need at least 2 points, got {n}")
    if turns <= 0 or noise < 0 or not (math.isfinite(turns) and math.isfinite(noise)):
        raise ConfigError(f"spirals: turns must be > 0 and noise ≥ 0, got turns={turns}, noise={noise}")
    g = generator(seed, split)
    labels = torch.arange(n) % 2
    t = 0.05 + 0.95 * torch.rand(n, generator=g)
    theta = 2 * math.pi * turns * t + math.pi * labels
    points = torch.stack([t * torch.cos(theta), t * torch.sin(theta)], dim=1)  # (n, 2)
    points = points + noise * torch.randn(n, 2, generator=g)
    images = points.view(n, 2, 1, 1).float()  # (n, 2) -> (n, 2, 1, 1)
    # coordinates already lie in [-1, 1]: no normalization statistics
    return TensorDataset(images, labels, CLASSES, name=f"spirals/{'train' if split == 0 else 'test'}")
