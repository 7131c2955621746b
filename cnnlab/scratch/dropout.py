"""Inverted dropout (Srivastava et al., 2014): zero each input with probability p while training, scale the rest."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ._base import Layer


class Dropout(Layer):
    """y = x·m / (1 − p) with m ~ Bernoulli(1 − p) in training; y = x in evaluation.

    Scaling the survivors by 1/(1 − p) keeps each unit's expected value, so evaluation needs no rescaling
    ("inverted" dropout, as in PyTorch).

    Args:
        p: probability of zeroing an input, in [0, 1).
        rng: draws the masks; seed it for reproducible training.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | None = None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout is a probability in [0, 1), got {p!r}")
        self.p = p
        self.rng = np.random.default_rng(0) if rng is None else rng

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape) >= self.p
        self.mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)  # 0 or 1/(1 − p)
        return x * self.mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # y = x·mask  ⇒  ∂l/∂x = ∂l/∂y·mask: dropped units pass no gradient.
        return dy if self.mask is None else dy * self.mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
