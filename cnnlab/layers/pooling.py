"""Pooling: the note's way to compress a feature map (max, average) and the global average pool of modern heads."""

from __future__ import annotations

import torch
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
        if self.kind == "avg":
            x = x.mean(dim=(-2, -1), keepdim=True)
        else:
            x = x.amax(dim=(-2, -1), keepdim=True)
        return x.flatten(1) if self.flatten else x  # (N, C, 1, 1) -> (N, C)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, flatten={self.flatten}"
