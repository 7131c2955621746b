"""Sliding windows without loops: the im2col view behind convolution and pooling, and its adjoint col2im.

`windows` returns a strided *view* (no copy) of every kh×kw window a kernel visits; a layer that needs the windows
as a matrix reshapes it, which makes the one copy im2col is known for. `col2im` is the adjoint: every window's
gradient is added back to the pixels the window was read from (pixels shared by overlapping windows sum).

Memory layout: arrays keep the (N, C, H, W) shape everywhere, but the maps these helpers allocate store the batch
axis last in memory, (C, H, W, N) as in cuda-convnet. A window row then reads N·kw consecutive numbers instead of
kw, so im2col and col2im copy long runs (timings in benchmarks/README.md). NumPy's element-wise operations
preserve the layout, so it flows from layer to layer without further copies.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ConfigError, ShapeError, shape_str


def pair(value: int | tuple[int, int], what: str, *, minimum: int = 1) -> tuple[int, int]:
    """3 -> (3, 3); (3, 5) stays; values below `minimum` raise ConfigError."""
    a, b = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if a < minimum or b < minimum:
        raise ConfigError(f"{what} must be at least {minimum}, got {value!r}")
    return int(a), int(b)


def check_fits(where: str, shape: tuple[int, ...], kernel: tuple[int, int], padding: tuple[int, int]) -> None:
    """Raise ShapeError unless `shape` is (N, C, H, W) with H×W (padded) at least the kernel's size."""
    if len(shape) != 4:
        raise ShapeError(f"{where}: expects a batch of feature maps (N, C, H, W), got shape {shape_str(shape)}")
    h, w = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    if h < kernel[0] or w < kernel[1]:
        raise ShapeError(
            f"{where}: the input's {shape[2]}×{shape[3]} map (padded to {h}×{w}) is smaller than the "
            f"{kernel[0]}×{kernel[1]} window; use larger images or a smaller kernel"
        )


def batch_last(shape: tuple[int, int, int, int], dtype, fill: float = 0.0) -> np.ndarray:
    """A new (N, C, H, W) array filled with `fill`, stored as (C, H, W, N) in memory."""
    n, c, h, w = shape
    return np.full((c, h, w, n), fill, dtype=dtype).transpose(3, 0, 1, 2)


def pad(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    """(N, C, H, W) -> (N, C, H + 2·ph, W + 2·pw) with `value` at the border, stored batch-last (see above).

    An input already stored batch-last and not padded is returned as it is.
    """
    ph, pw = padding
    if ph == 0 and pw == 0 and x.transpose(1, 2, 3, 0).flags.c_contiguous:
        return x
    n, c, h, w = x.shape
    out = batch_last((n, c, h + 2 * ph, w + 2 * pw), x.dtype, value)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def unpad(xp: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """Inverse of `pad`: the interior (the gradient of the border is dropped, as the border is constant)."""
    ph, pw = padding
    return xp[:, :, ph : xp.shape[2] - ph, pw : xp.shape[3] - pw]


def windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """(N, C, Hp, Wp) -> view (N, C, Ho, Wo, kh, kw): window (ho, wo) starts at pixel (ho·sh, wo·sw)."""
    view = sliding_window_view(xp, kernel, axis=(2, 3))  # (N, C, Hp-kh+1, Wp-kw+1, kh, kw)
    return view[:, :, :: stride[0], :: stride[1]]


def at_offset(xp: np.ndarray, i: int, j: int, out_size: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """View (N, C, Ho, Wo) of the pixels at offset (i, j) of every window: `windows(...)[..., i, j]`, writable."""
    (ho, wo), (sh, sw) = out_size, stride
    return xp[:, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]


def col2im(dwin: np.ndarray, padded_shape: tuple[int, ...], stride: tuple[int, int]) -> np.ndarray:
    """Adjoint of `windows`: (N, C, Ho, Wo, kh, kw) window gradients -> (N, C, Hp, Wp) pixel gradients.

    One vectorized add per kernel offset (i, j): pixel (ho·sh + i, wo·sw + j) receives window (ho, wo)'s entry (i, j).
    """
    _, _, ho, wo, kh, kw = dwin.shape
    dxp = batch_last(padded_shape, dwin.dtype)
    for i in range(kh):
        for j in range(kw):
            at_offset(dxp, i, j, (ho, wo), stride)[...] += dwin[:, :, :, :, i, j]
    return dxp
