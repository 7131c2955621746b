"""Residual blocks (He et al., 2016) with a switch for the shortcut, so plain and residual nets differ by one flag.

`residual` chooses the shortcut:

    'identity'    identity where shapes match, a 1×1 conv + norm projection where they change (paper's option B)
    'zero_pad'    identity; where shapes change, subsample and pad the extra channels with zeros (option A,
                  parameter-free, used by the CIFAR ResNets of §4.2)
    'projection'  a 1×1 conv + norm projection on every block (option C)
    'none'        no shortcut: the "plain" network of the degradation experiment

True means 'identity' and False means 'none'.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, unknown_name
from .activations import ActSpec, create_act
from .conv import ConvNormAct
from .merge import Add
from .norm import NormSpec

RESIDUAL_MODES = ("identity", "zero_pad", "projection", "none")


def resolve_residual(residual: bool | str | None) -> str:
    """Normalize a `residual` switch to one of RESIDUAL_MODES."""
    if residual is True:
        return "identity"
    if residual is False or residual is None:
        return "none"
    if residual not in RESIDUAL_MODES:
        raise unknown_name("residual mode", residual, RESIDUAL_MODES)
    return residual


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: keep every `stride`-th pixel and append zero channels. (N, C, H, W) -> (N, C', H/s, W/s)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        if out_channels < in_channels:
            raise ConfigError(f"a zero-padding shortcut cannot reduce channels ({in_channels} → {out_channels})")
        self.extra = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            # = x[:, :, ::s, ::s], but a 1×1 pooling keeps the gradient in x's layout: slicing's backward writes into
            # NCHW zeros, and a channels_last network then pays a mixed-layout ReLU backward (far slower on CPU).
            x = F.avg_pool2d(x, 1, self.stride)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))  # (N, C, h, w) -> (N, C + extra, h, w)

    def extra_repr(self) -> str:
        return f"extra_channels={self.extra}, stride={self.stride}"


def make_shortcut(mode: str, in_channels: int, out_channels: int, stride: int, norm: NormSpec) -> nn.Module | None:
    """The shortcut branch for `mode` (see module doc), or None for no shortcut."""
    if mode == "none":
        return None
    reshapes = stride != 1 or in_channels != out_channels
    if mode == "projection" or (mode == "identity" and reshapes):
        return ConvNormAct(in_channels, out_channels, 1, stride, norm=norm, act=None)
    if reshapes:
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Identity()


class _Residual(nn.Module):
    """Shared forward: act(body(x) + shortcut(x)), or act(body(x)) without a shortcut."""

    body: nn.Sequential

    def _finish(self, in_channels: int, out_channels: int, stride: int, residual, norm, act) -> None:
        self.residual = resolve_residual(residual)
        self.shortcut = make_shortcut(self.residual, in_channels, out_channels, stride, norm)
        self.add = Add() if self.shortcut is not None else None
        self.act = create_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.shortcut is not None:
            out = self.add(out, self.shortcut(x))
        return out if self.act is None else self.act(out)

    def zero_init_last(self) -> None:
        """Start the block as its shortcut: zero the last norm's scale (Goyal et al., 2017, §5.1)."""
        last = self.body[-1]
        norm = getattr(last, "norm", None)
        if norm is not None and getattr(norm, "weight", None) is not None:
            nn.init.zeros_(norm.weight)


class BasicBlock(_Residual):
    """Two 3×3 convs: in → out (stride s) → out, plus the shortcut. ResNet-18/34 and the CIFAR ResNets.

    Args:
        in_channels, out_channels: channels in and out; stride: stride of the first conv.
        residual: shortcut mode, see the module doc.
        norm, act: specs for every conv of the block (see `create_norm`, `create_act`).
        bias: conv bias; None adds one only where no norm layer follows.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        residual: bool | str = "identity",
        norm: NormSpec = "batch",
        act: ActSpec = "relu",
        bias: bool | None = None,
    ):
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(in_channels, out_channels, 3, stride, norm=norm, act=act, bias=bias),
            ConvNormAct(out_channels, out_channels, 3, 1, norm=norm, act=None, bias=bias),
        )
        self._finish(in_channels, out_channels, stride, residual, norm, act)


class Bottleneck(_Residual):
    """1×1 reduce → 3×3 → 1×1 expand, e.g. 256 → 64 → 64 → 256, plus the shortcut. ResNet-50/101/152.

    The 1×1 convs shrink the channels the costly 3×3 conv sees: without bias or norm, 256 → 64 → 256 holds
    1·1·256·64 + 3·3·64·64 + 1·1·64·256 = 69,632 weights, against 1,179,648 for two 3×3 convs at 256 channels.

    Args:
        in_channels: channels in; mid_channels: channels of the 3×3 conv;
        out_channels: channels out, 4·mid_channels when None; stride: stride of the 3×3 conv (ResNet v1.5).
        residual, norm, act, bias: as for `BasicBlock`.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        *,
        residual: bool | str = "identity",
        norm: NormSpec = "batch",
        act: ActSpec = "relu",
        bias: bool | None = None,
    ):
        super().__init__()
        out_channels = out_channels or mid_channels * self.expansion
        self.body = nn.Sequential(
            ConvNormAct(in_channels, mid_channels, 1, norm=norm, act=act, bias=bias),  # 1×1 reduce
            ConvNormAct(mid_channels, mid_channels, 3, stride, norm=norm, act=act, bias=bias),
            ConvNormAct(mid_channels, out_channels, 1, norm=norm, act=None, bias=bias),  # 1×1 expand
        )
        self._finish(in_channels, out_channels, stride, residual, norm, act)
