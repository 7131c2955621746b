"""The classic activations, each with its derivative f′ written next to it: ∂l/∂x = ∂l/∂y · f′(x)."""

from __future__ import annotations

import numpy as np

from .._spec import parse_spec
from ..errors import ConfigError, unknown_name
from ._base import Layer


class Identity(Layer):
    """f(x) = x, f′ = 1: the 'linear' activation (a network of such layers stays linear)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy

    def __repr__(self) -> str:
        return "Identity()"


class Sigmoid(Layer):
    """f(x) = 1 / (1 + e^−x), f′ = f·(1 − f) ≤ 1/4: stacked sigmoids shrink gradients (vanishing gradients)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(-np.abs(x))  # never overflows: e^−|x| ≤ 1
        self._y = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * self._y * (1.0 - self._y)  # ∂l/∂x = ∂l/∂y · f(x)(1 − f(x))

    def __repr__(self) -> str:
        return "Sigmoid()"


class Tanh(Layer):
    """f(x) = tanh x, f′ = 1 − f² ≤ 1, saturating at ±1."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * (1.0 - self._y * self._y)  # ∂l/∂x = ∂l/∂y · (1 − tanh² x)

    def __repr__(self) -> str:
        return "Tanh()"


class ReLU(Layer):
    """f(x) = max(0, x), f′ = 1 for x > 0 else 0 (PyTorch's choice at 0): a unit that is never positive dies."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._positive = x > 0
        return np.maximum(x, 0)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * self._positive  # ∂l/∂x = ∂l/∂y · [x > 0]

    def __repr__(self) -> str:
        return "ReLU()"


class LeakyReLU(Layer):
    """f(x) = x for x > 0 else slope·x, f′ = 1 or slope: negative inputs keep a small gradient.

    Args:
        negative_slope: the slope for x ≤ 0 (PyTorch's default 0.01).
    """

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._positive = x > 0
        return np.where(self._positive, x, x * self.negative_slope)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.where(self._positive, dy, dy * self.negative_slope)  # ∂l/∂x = ∂l/∂y · (1 or slope)

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope})"


_ACTS: dict[str, type[Layer]] = {
    "linear": Identity,
    "identity": Identity,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
}
ACT_NAMES: tuple[str, ...] = (*_ACTS, "none")


def create_act(act: str | None) -> Layer | None:
    """The NumPy twin of `cnnlab.layers.create_act` for the classic activations; None for 'none'/None.

    Args:
        act: 'linear'/'identity', 'sigmoid', 'tanh', 'relu', 'leaky_relu[:slope]', 'none' or None.
    """
    if act is None:
        return None
    if not isinstance(act, str):
        raise ConfigError(f"the NumPy reference takes activations by name, got {type(act).__name__}")
    name, value = parse_spec(act, "activation")
    if name == "none":
        return None
    if name not in _ACTS:
        raise unknown_name("activation (NumPy reference)", act, ACT_NAMES)
    if value is None:
        return _ACTS[name]()
    if name != "leaky_relu":
        raise ConfigError(f"activation {name!r} takes no parameter (got {act!r}); only 'leaky_relu:<slope>' does")
    return LeakyReLU(value)
