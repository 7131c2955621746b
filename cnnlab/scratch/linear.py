"""The fully connected layer, and the Flatten that turns a feature map into the vector it reads."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError, linear_features_message
from ._base import Layer, Param, uniform_init


class Linear(Layer):
    """y = x·Wᵀ + b: every output is a weighted sum of every input feature.

    Args:
        in_features, out_features: sizes of x and y; W is (out_features, in_features) as in PyTorch.
        bias: add a learnable bias per output.
        rng: initializes W and b like PyTorch, U(−1/√in_features, 1/√in_features).
        dtype: float32 for training, float64 for gradient checks.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
    ):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = np.random.default_rng(0) if rng is None else rng
        self.params["weight"] = Param(uniform_init(rng, (out_features, in_features), in_features, dtype))
        if bias:
            self.params["bias"] = Param(uniform_init(rng, (out_features,), in_features, dtype))

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            where = self.where(f"Linear {self.in_features}→{self.out_features}")
            raise ShapeError(linear_features_message(where, self.in_features, self.out_features, x.shape))
        self._x = x
        y = x @ self.params["weight"].data.T  # (N, in) -> (N, out)
        if "bias" in self.params:
            y += self.params["bias"].data
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        # y = x·Wᵀ + b  ⇒  ∂l/∂W = dyᵀ·x,  ∂l/∂b = Σ_n dy,  ∂l/∂x = dy·W.
        self.params["weight"].grad = dy.T @ self._x
        if "bias" in self.params:
            self.params["bias"].grad = dy.sum(axis=0)
        return dy @ self.params["weight"].data if self.needs_input_grad else None

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, bias={'bias' in self.params})"


class Flatten(Layer):
    """(N, C, H, W) -> (N, C·H·W): the feature map read row by row, as PyTorch's `nn.Flatten(1)`."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)  # (N, C, H, W) -> (N, C·H·W)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # A reshape moves no value: the gradient is reshaped back.
        return dy.reshape(self._shape)  # (N, C·H·W) -> (N, C, H, W)

    def __repr__(self) -> str:
        return "Flatten()"
