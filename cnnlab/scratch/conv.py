"""Convolution as the definition says — every kernel multiplies all input channels and sums — via im2col + matmul.

Each of the `out_channels` kernels has shape (in_channels, kh, kw). Output pixel (n, o, h, w) is the multiply-and-add
of kernel o with the window of the (zero-padded) input that starts at (h·stride, w·stride), plus bias o. Copying
every window into one row of a matrix (im2col) turns all of them into a single matrix multiply.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError, conv_channel_message
from . import _im2col
from ._base import Layer, Param, uniform_init


class Conv2d(Layer):
    """2-D convolution (cross-correlation, as in PyTorch) with multi-channel kernels, stride and zero padding.

    Args:
        in_channels, out_channels: channels of the input and number of kernels.
        kernel_size, stride, padding: int or (h, w); 1×1 kernels mix channels per pixel.
        bias: add a learnable bias per kernel.
        rng: initializes weight and bias like PyTorch, U(−1/√fan_in, 1/√fan_in) with fan_in = in_channels·kh·kw.
        dtype: float32 for training, float64 for gradient checks.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        *,
        bias: bool = True,
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _im2col.pair(kernel_size, "kernel_size")
        self.stride = _im2col.pair(stride, "stride")
        self.padding = _im2col.pair(padding, "padding", minimum=0)
        rng = np.random.default_rng(0) if rng is None else rng
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.params["weight"] = Param(uniform_init(rng, (out_channels, in_channels, *self.kernel_size), fan_in, dtype))
        if bias:
            self.params["bias"] = Param(uniform_init(rng, (out_channels,), fan_in, dtype))

    def _check(self, x: np.ndarray) -> None:
        description = f"Conv2d {self.in_channels}→{self.out_channels}, {self.kernel_size[0]}×{self.kernel_size[1]}"
        if x.ndim == 4 and x.shape[1] != self.in_channels:
            message = conv_channel_message(
                self.where(description), self.in_channels, self.out_channels, self.kernel_size, 1, x.shape
            )
            raise ShapeError(message)
        _im2col.check_fits(self.where(description), x.shape, self.kernel_size, self.padding)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        weight = self.params["weight"].data
        n = x.shape[0]
        xp = _im2col.pad(x, self.padding)  # stored batch-last, so that the copy below reads long runs
        win = _im2col.windows(xp, self.kernel_size, self.stride)  # view (N, C, Ho, Wo, kh, kw)
        ho, wo = win.shape[2:4]
        # (N, C, Ho, Wo, kh, kw) -> (C·kh·kw, Ho·Wo·N): one column per window, the im2col copy
        cols = win.transpose(1, 4, 5, 2, 3, 0).reshape(-1, ho * wo * n)
        y = weight.reshape(self.out_channels, -1) @ cols  # (O, C·kh·kw) @ (C·kh·kw, Ho·Wo·N) -> (O, Ho·Wo·N)
        if "bias" in self.params:
            y += self.params["bias"].data[:, None]
        self._cache = (cols, xp.shape)
        return y.reshape(self.out_channels, ho, wo, n).transpose(3, 0, 1, 2)  # -> (N, O, Ho, Wo), a view

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        # Y = W·cols + b  ⇒  ∂l/∂W = dY·colsᵀ,  ∂l/∂b = Σ_columns dY,  ∂l/∂cols = Wᵀ·dY, then col2im to pixels.
        cols, padded_shape = self._cache
        weight = self.params["weight"].data
        n, o, ho, wo = dy.shape
        dy_cols = dy.transpose(1, 2, 3, 0).reshape(o, -1)  # (N, O, Ho, Wo) -> (O, Ho·Wo·N), free if batch-last
        self.params["weight"].grad = (cols @ dy_cols.T).T.reshape(weight.shape)  # dY·colsᵀ, in BLAS's faster order
        if "bias" in self.params:
            self.params["bias"].grad = dy_cols.sum(axis=1)
        if not self.needs_input_grad:
            return None
        dcols = weight.reshape(o, -1).T @ dy_cols  # (C·kh·kw, Ho·Wo·N)
        # (C·kh·kw, Ho·Wo·N) -> (C, kh, kw, Ho, Wo, N) -> view (N, C, Ho, Wo, kh, kw)
        dwin = dcols.reshape(self.in_channels, *self.kernel_size, ho, wo, n).transpose(5, 0, 3, 4, 1, 2)
        return _im2col.unpad(_im2col.col2im(dwin, padded_shape, self.stride), self.padding)

    def __repr__(self) -> str:
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, bias={'bias' in self.params})"
        )
