"""Upsampling: make a small feature map large by interpolation (nearest neighbour or bilinear)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, ShapeError, shape_str, unknown_name

UPSAMPLE_MODES = ("nearest", "bilinear")


class Upsample(nn.Module):
    """Resize (N, C, H, W) feature maps by `scale_factor` or to `size`; exactly one of the two must be given.

    Bilinear uses align_corners=False (half-pixel centres), the convention of PyTorch and OpenCV.
    """

    def __init__(
        self,
        scale_factor: float | None = None,
        size: int | tuple[int, int] | None = None,
        mode: str = "nearest",
    ):
        super().__init__()
        if (scale_factor is None) == (size is None):
            raise ConfigError("Upsample needs exactly one of scale_factor (e.g. 2) or size (e.g. (64, 64))")
        if mode not in UPSAMPLE_MODES:
            raise unknown_name("upsampling mode", mode, UPSAMPLE_MODES)
        if scale_factor is not None and scale_factor <= 0:
            raise ConfigError(f"Upsample scale_factor must be positive, got {scale_factor}")
        self.scale_factor = scale_factor
        self.size = size
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ShapeError(f"Upsample expects (N, C, H, W) feature maps, got shape {shape_str(x.shape)}")
        align = False if self.mode == "bilinear" else None
        return F.interpolate(x, size=self.size, scale_factor=self.scale_factor, mode=self.mode, align_corners=align)

    def extra_repr(self) -> str:
        target = f"scale_factor={self.scale_factor}" if self.size is None else f"size={self.size}"
        return f"{target}, mode={self.mode!r}"
