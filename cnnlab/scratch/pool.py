"""Pooling, the way to compress a feature map: the maximum or the average of each window, per channel.

Both loop over the kh·kw offsets of a window, each step one vectorized operation on whole maps: for 2×2 windows
that is 4 array operations, much faster than reducing tiny window axes of a strided view.
"""

from __future__ import annotations

import numpy as np

from . import _im2col
from ._base import Layer


class _Pool2d(Layer):
    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ):
        super().__init__()
        self.kernel_size = _im2col.pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _im2col.pair(stride, "stride")
        self.padding = _im2col.pair(padding, "padding", minimum=0)

    def _windows(self, x: np.ndarray, fill: float) -> np.ndarray:
        kh, kw = self.kernel_size
        _im2col.check_fits(self.where(f"{type(self).__name__} {kh}×{kw}"), x.shape, self.kernel_size, self.padding)
        xp = _im2col.pad(x, self.padding, fill)
        self._padded_shape = xp.shape
        return _im2col.windows(xp, self.kernel_size, self.stride)  # view (N, C, Ho, Wo, kh, kw)

    def _offsets(self):
        return np.ndindex(*self.kernel_size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding})"


class MaxPool2d(_Pool2d):
    """The largest value of each window (padding counts as −∞, so it is never chosen).

    The gradient flows only to the winner; among equal values the first in row-major order wins, as in PyTorch.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._win = win = self._windows(x, -np.inf)
        self._best = win[..., 0, 0].copy(order="K")  # (N, C, Ho, Wo), in the input's memory layout
        for i, j in self._offsets():
            np.maximum(self._best, win[..., i, j], out=self._best)
        return self._best

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # y = x[winner]  ⇒  ∂y/∂x is 1 at each window's winner (its first maximum) and 0 elsewhere.
        dxp = _im2col.batch_last(self._padded_shape, dy.dtype)
        unclaimed = np.ones_like(self._best, dtype=bool)  # windows whose winner is not found yet
        for i, j in self._offsets():
            winner = (self._win[..., i, j] == self._best) & unclaimed
            unclaimed &= ~winner
            _im2col.at_offset(dxp, i, j, dy.shape[2:], self.stride)[...] += dy * winner
        return _im2col.unpad(dxp, self.padding)


class AvgPool2d(_Pool2d):
    """The mean of each window.

    Args:
        count_include_pad: divide by kh·kw even where the window covers zero padding (PyTorch's default); False
            divides by the number of real pixels, as `cnnlab.layers.create_pool('avg', ...)` does.
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        *,
        count_include_pad: bool = True,
    ):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def _counts(self, x: np.ndarray) -> np.ndarray | float:
        """Divisor of each window: kh·kw, or (N-broadcastable (1, 1, Ho, Wo)) its number of real pixels."""
        if self.count_include_pad or self.padding == (0, 0):
            return float(self.kernel_size[0] * self.kernel_size[1])
        ones = _im2col.pad(np.ones((1, 1, *x.shape[2:]), dtype=x.dtype), self.padding)
        return _im2col.windows(ones, self.kernel_size, self.stride).sum(axis=(-2, -1))

    def forward(self, x: np.ndarray) -> np.ndarray:
        win = self._windows(x, 0.0)
        self._count = self._counts(x)
        total = win[..., 0, 0].copy(order="K")  # (N, C, Ho, Wo), in the input's memory layout
        for i, j in list(self._offsets())[1:]:
            total += win[..., i, j]
        return total / self._count

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # y = Σ_window x / count  ⇒  each pixel of a window receives ∂l/∂y / count.
        share = (dy / self._count)[..., None, None]  # (N, C, Ho, Wo, 1, 1)
        dwin = np.broadcast_to(share, (*dy.shape, *self.kernel_size))
        return _im2col.unpad(_im2col.col2im(dwin, self._padded_shape, self.stride), self.padding)
