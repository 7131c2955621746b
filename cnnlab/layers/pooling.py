"""Pooling: the way to compress a feature map (max, average) and the global average pool of modern heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import unknown_name

POOL_NAMES = ("max", "avg")


def create_pool(
    kind: str, kernel_size: int, stride: int | None = None, padding: int = 0, *, ceil_mode: bool = False
) -> nn.Module:
    """Max or average pooling over `kernel_size`×`kernel_size` windows; `stride` defaults to `kernel_size`."""
    if kind == "max":
        return nn.MaxPool2d(kernel_size, stride, padding, ceil_mode=ceil_mode)
    if kind == "avg":
        # Zero padding would dilute the averages at the border; count only real pixels.
        return nn.AvgPool2d(kernel_size, stride, padding, ceil_mode=ceil_mode, count_include_pad=False)
    raise unknown_name("pooling", kind, POOL_NAMES)


class GlobalPool2d(nn.Module):
    """Pool each channel's whole H×W map to one number: (N, C, H, W) -> (N, C), or (N, C, 1, 1) if not `flatten`."""

    def __init__(self, kind: str = "avg", flatten: bool = True):
        super().__init__()
        if kind not in POOL_NAMES:
            raise unknown_name("global pooling", kind, POOL_NAMES)
        self.kind = kind
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A pooling window the size of the map rather than x.mean(dim=(-2, -1)): same values, but the backward pass
        # of a reduction hands back an NCHW gradient, which meets a channels_last network in a mixed-layout kernel
        # (far slower for the ReLU before it on CPU); a pooling kernel keeps the gradient in the input's layout.
        if self.kind == "avg":
            x = F.avg_pool2d(x, x.shape[-2:])
        else:
            x = F.max_pool2d(x, x.shape[-2:])
        return flatten(x) if self.flatten else x  # (N, C, 1, 1) -> (N, C)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, flatten={self.flatten}"


class _FlattenChannelsLast(torch.autograd.Function):
    """(N, C, H, W) channels_last -> (N, C·H·W) in NCHW order, whose gradient comes back channels_last."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.shape = x.shape
        return x.flatten(1)  # a copy: channels_last memory is not in C·H·W order

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad.reshape(ctx.shape).contiguous(memory_format=torch.channels_last)


def _is_channels_last(x: torch.Tensor) -> bool:
    return x.is_contiguous(memory_format=torch.channels_last)


def flatten(x: torch.Tensor) -> torch.Tensor:
    """`x.flatten(1)`, except that a channels_last feature map gets its gradient back channels_last.

    Plain flatten's backward is a view in NCHW order; the pooling or ReLU before it would then run its backward on
    one NCHW and one channels_last tensor, a slow mixed-layout path. One copy of the small pre-head
    gradient avoids that.
    """
    if x.dim() == 4 and x.requires_grad and not x.is_contiguous() and _is_channels_last(x):
        return _FlattenChannelsLast.apply(x)
    return x.flatten(1)


class Flatten(nn.Module):
    """(N, C, H, W) -> (N, C·H·W), as nn.Flatten(1), keeping a channels_last network's gradients channels_last."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return flatten(x)
