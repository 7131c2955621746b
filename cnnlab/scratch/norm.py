"""The four activation norms, built from two primitives: standardize over some axes, then scale and shift.

    batch     standardize over (N, H, W) per channel   (running statistics in evaluation mode)
    group     standardize over (C/G, H, W) per sample and group of channels
    layer     group norm with one group: over (C, H, W) per sample
    instance  group norm with C groups: over (H, W) per sample and channel

Each then applies a learnable per-channel scale γ (`weight`) and shift β (`bias`), as in PyTorch
(Ioffe & Szegedy, 2015; Ba et al., 2016; Ulyanov et al., 2016; Wu & He, 2018).
"""

from __future__ import annotations

import numpy as np

from .._spec import group_count, parse_spec
from ..errors import ConfigError, ShapeError, shape_str, unknown_name
from ._base import Layer, Param


class Standardize(Layer):
    """x̂ = (x − μ) / √(σ² + ε) with μ, σ² the mean and biased variance over `axes`.

    Args:
        axes: the axes that share one mean and variance.
        eps: added to the variance for numerical safety (PyTorch's 1e-5).
    """

    def __init__(self, axes: tuple[int, ...], eps: float = 1e-5):
        super().__init__()
        self.axes, self.eps = axes, eps

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mean = x.mean(axis=self.axes, keepdims=True)
        centered = x - self.mean
        self.var = (centered * centered).mean(axis=self.axes, keepdims=True)
        self._inv_std = 1.0 / np.sqrt(self.var + self.eps)
        self._xhat = centered * self._inv_std
        return self._xhat

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # μ and σ depend on every x of the group: ∂l/∂x = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ.
        mean_dy = dy.mean(axis=self.axes, keepdims=True)
        mean_dy_xhat = (dy * self._xhat).mean(axis=self.axes, keepdims=True)
        return (dy - mean_dy - self._xhat * mean_dy_xhat) * self._inv_std


class ChannelAffine(Layer):
    """y = γ_c·x + β_c along axis 1 (channels of (N, C, H, W), features of (N, C)); γ starts at 1, β at 0."""

    def __init__(self, num_channels: int, *, dtype: np.dtype | type = np.float32):
        super().__init__()
        self.params["weight"] = Param(np.ones(num_channels, dtype=dtype))
        self.params["bias"] = Param(np.zeros(num_channels, dtype=dtype))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        self._shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcast (C,) over (N, C, ...)
        return x * self.params["weight"].data.reshape(self._shape) + self.params["bias"].data.reshape(self._shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # y = γ·x + β  ⇒  ∂l/∂γ = Σ dy·x,  ∂l/∂β = Σ dy (over all but the channel axis),  ∂l/∂x = dy·γ.
        axes = (0, *range(2, dy.ndim))
        self.params["weight"].grad = (dy * self._x).sum(axis=axes)
        self.params["bias"].grad = dy.sum(axis=axes)
        return dy * self.params["weight"].data.reshape(self._shape)


class BatchNorm(Layer):
    """Batch normalization for (N, C) features or (N, C, H, W) maps: PyTorch's BatchNorm1d/2d.

    Training standardizes with the mini-batch's statistics and updates the running ones (unbiased variance,
    `running = (1 − momentum)·running + momentum·batch`); evaluation standardizes with the running statistics.

    Args:
        num_features: channels C.
        eps, momentum: as in PyTorch (1e-5, 0.1).
        dtype: of γ, β and the running statistics.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, *, dtype=np.float32):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self._affine = ChannelAffine(num_features, dtype=dtype)
        self.params = self._affine.params  # the composite's parameters are its affine part's: weight, bias
        self.buffers["running_mean"] = np.zeros(num_features, dtype=dtype)
        self.buffers["running_var"] = np.ones(num_features, dtype=dtype)
        self.buffers["num_batches_tracked"] = np.zeros((), dtype=np.int64)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ShapeError(
                f"{self.where(f'BatchNorm {self.num_features}')}: expects (N, {self.num_features}) or "
                f"(N, {self.num_features}, H, W), got {shape_str(x.shape)}"
            )
        axes = (0, *range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise ShapeError(f"{self.where('BatchNorm')}: batch statistics need more than 1 value per channel")
            self._standardize = Standardize(axes, self.eps)
            xhat = self._standardize.forward(x)
            m = self.momentum
            self.buffers["running_mean"] *= 1 - m
            self.buffers["running_mean"] += m * self._standardize.mean.reshape(-1)
            self.buffers["running_var"] *= 1 - m
            self.buffers["running_var"] += m * self._standardize.var.reshape(-1) * (count / (count - 1))
            self.buffers["num_batches_tracked"] += 1
        else:
            self._inv_std = (1.0 / np.sqrt(self.buffers["running_var"] + self.eps)).reshape(shape)
            xhat = (x - self.buffers["running_mean"].reshape(shape)) * self._inv_std
        return self._affine.forward(xhat)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dxhat = self._affine.backward(dy)
        if self.training:
            return self._standardize.backward(dxhat)
        return dxhat * self._inv_std  # fixed statistics: x̂ = (x − μ_run)·inv_std is affine in x

    def __repr__(self) -> str:
        return f"BatchNorm({self.num_features}, eps={self.eps}, momentum={self.momentum})"


class GroupNorm(Layer):
    """Group normalization of (N, C, ...) inputs: PyTorch's GroupNorm (same in training and evaluation).

    Args:
        num_groups: groups of C/G consecutive channels that share statistics; must divide num_channels.
        num_channels: channels C.
        eps: as in PyTorch (1e-5).
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, *, dtype=np.float32):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ConfigError(f"{num_groups} groups cannot split {num_channels} channels evenly; use a divisor")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self._standardize = Standardize((2,), eps)
        self._affine = ChannelAffine(num_channels, dtype=dtype)
        self.params = self._affine.params

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(
                f"{self.where(f'{type(self).__name__} {self.num_channels}')}: expects (N, {self.num_channels}, ...) "
                f"inputs, got {shape_str(x.shape)}"
            )
        self._shape = x.shape
        grouped = x.reshape(x.shape[0], self.num_groups, -1)  # (N, C, H, W) -> (N, G, C/G·H·W)
        xhat = self._standardize.forward(grouped).reshape(x.shape)  # (N, G, C/G·H·W) -> (N, C, H, W)
        return self._affine.forward(xhat)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dxhat = self._affine.backward(dy).reshape(dy.shape[0], self.num_groups, -1)  # -> (N, G, C/G·H·W)
        return self._standardize.backward(dxhat).reshape(self._shape)  # -> (N, C, H, W)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_groups}, {self.num_channels}, eps={self.eps})"


class LayerNorm(GroupNorm):
    """Each sample normalized over all its features (C, H, W): group norm with one group.

    On (N, C) vectors this is PyTorch's `nn.LayerNorm(C)`; on maps it is cnnlab's `LayerNorm2d`.
    """

    def __init__(self, num_channels: int, eps: float = 1e-5, *, dtype=np.float32):
        super().__init__(1, num_channels, eps, dtype=dtype)

    def __repr__(self) -> str:
        return f"LayerNorm({self.num_channels}, eps={self.eps})"


class InstanceNorm(GroupNorm):
    """Each channel of each sample normalized over its H×W map: group norm with C groups.

    PyTorch's `InstanceNorm2d(C, affine=True)` (no running statistics).
    """

    def __init__(self, num_channels: int, eps: float = 1e-5, *, dtype=np.float32):
        super().__init__(num_channels, num_channels, eps, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4:
            raise ShapeError(f"{self.where('InstanceNorm')}: needs feature maps (N, C, H, W), got {shape_str(x.shape)}")
        return super().forward(x)

    def __repr__(self) -> str:
        return f"InstanceNorm({self.num_channels}, eps={self.eps})"


NORM_NAMES: tuple[str, ...] = ("batch", "layer", "instance", "group", "none")


def create_norm(norm: str | None, channels: int, *, dim: int = 2, dtype=np.float32) -> Layer | None:
    """The NumPy twin of `cnnlab.layers.create_norm`: same names, same default group count; None for 'none'/None.

    Args:
        norm: 'batch', 'layer', 'instance', 'group' or 'group:G', 'none', or None.
        channels: channels (maps) or features (vectors).
        dim: 2 for (N, C, H, W) feature maps, 1 for (N, C) feature vectors (which instance norm refuses).
    """
    if norm is None:
        return None
    name, value = parse_spec(norm, "norm")
    if name not in NORM_NAMES:
        raise unknown_name("norm (NumPy reference)", norm, NORM_NAMES)
    if value is not None and name != "group":
        raise ConfigError(f"norm {name!r} takes no parameter (got {norm!r}); only 'group:G' does")
    if name == "none":
        return None
    if name == "batch":
        return BatchNorm(channels, dtype=dtype)
    if name == "layer":
        return LayerNorm(channels, dtype=dtype)
    if name == "instance":
        if dim == 1:
            raise ConfigError("instance norm needs feature maps (N, C, H, W); a feature vector has no H, W")
        return InstanceNorm(channels, dtype=dtype)
    return GroupNorm(group_count(channels, value), channels, dtype=dtype)
