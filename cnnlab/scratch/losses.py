"""Losses: softmax cross-entropy for classes, sigmoid binary cross-entropy for 0/1 labels, mean squared error.

A loss's `forward(x, target)` returns the mean loss l as a float and caches what `backward` needs;
`backward(dl=1.0)` returns ∂l/∂x, the gradient that starts the backward pass through the network.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError, shape_str
from ._base import Layer


class LogSoftmax(Layer):
    """y_i = x_i − log Σ_j e^{x_j} along the last axis (computed after subtracting the maximum, so e^x ≤ 1)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        shifted = x - x.max(axis=-1, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        self._softmax = np.exp(y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # ∂y_i/∂x_k = [i = k] − softmax_k  ⇒  ∂l/∂x = dy − softmax·Σ_i dy_i.
        return dy - self._softmax * dy.sum(axis=-1, keepdims=True)


class NLLLoss:
    """l = −mean_n y[n, target_n]: the negative log-likelihood of the true classes, from log-probabilities y."""

    def forward(self, log_probs: np.ndarray, target: np.ndarray) -> float:
        n, classes = log_probs.shape
        target = np.asarray(target)
        if target.shape != (n,) or not np.issubdtype(target.dtype, np.integer):
            raise ShapeError(f"class targets must be {n} integers (N,), got {shape_str(target.shape)} {target.dtype}")
        if n and (target.min() < 0 or target.max() >= classes):
            raise ShapeError(f"class targets must lie in [0, {classes}), got {target.min()}..{target.max()}")
        self._picked = (np.arange(n), target)
        self._shape, self._dtype = log_probs.shape, log_probs.dtype
        return float(-log_probs[self._picked].mean())

    def backward(self, dl: float = 1.0) -> np.ndarray:
        # l = −(1/N) Σ_n y[n, t_n]  ⇒  ∂l/∂y is −1/N at each true class and 0 elsewhere.
        dy = np.zeros(self._shape, dtype=self._dtype)
        dy[self._picked] = -dl / self._shape[0]
        return dy


class SoftmaxCrossEntropy:
    """Cross-entropy of softmax(logits) with class targets: log-softmax, then the negative log-likelihood.

    Same value as `torch.nn.functional.cross_entropy(logits, target)`; composed of the two primitives, its gradient
    comes out as the familiar (softmax(x) − onehot(t)) / N.
    """

    def __init__(self) -> None:
        self._log_softmax, self._nll = LogSoftmax(), NLLLoss()

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        if logits.ndim != 2:
            raise ShapeError(f"cross-entropy expects logits (N, classes), got {shape_str(logits.shape)}")
        return self._nll.forward(self._log_softmax.forward(logits), target)

    def backward(self, dl: float = 1.0) -> np.ndarray:
        return self._log_softmax.backward(self._nll.backward(dl))


def _check_same_shape(what: str, x: np.ndarray, target: np.ndarray) -> np.ndarray:
    target = np.asarray(target)
    if target.shape != x.shape:
        raise ShapeError(f"{what}: the target's shape {shape_str(target.shape)} differs from {shape_str(x.shape)}")
    return target.astype(x.dtype, copy=False)


class SigmoidBCE:
    """Binary cross-entropy of sigmoid(x) with 0/1 targets, as `binary_cross_entropy_with_logits` (mean).

    l = mean(log(1 + e^x) − x·t), written as max(x, 0) − x·t + log(1 + e^−|x|) so that e^… never overflows.
    """

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        target = _check_same_shape("sigmoid BCE", logits, target)
        self._x, self._t = logits, target
        return float((np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))).mean())

    def backward(self, dl: float = 1.0) -> np.ndarray:
        # ∂/∂x [log(1 + e^x) − x·t] = σ(x) − t, averaged over the n = x.size entries.
        e = np.exp(-np.abs(self._x))
        sigmoid = np.where(self._x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return (dl / self._x.size) * (sigmoid - self._t)


class MSELoss:
    """l = mean((x − t)²), as `torch.nn.functional.mse_loss`."""

    def forward(self, x: np.ndarray, target: np.ndarray) -> float:
        self._diff = x - _check_same_shape("MSE", x, target)
        return float((self._diff * self._diff).mean())

    def backward(self, dl: float = 1.0) -> np.ndarray:
        return (2.0 * dl / self._diff.size) * self._diff  # ∂l/∂x = 2(x − t)/n
