"""Blocks by name, so that `cnnlab summary bottleneck --input 256,56,56` can build one from its input channels."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .._signature import check_kwargs, keyword_names
from ..errors import unknown_name
from .blocks import BasicBlock, Bottleneck
from .dense import DenseLayer
from .inception import Inception


def _basic_block(in_channels: int, out_channels: int | None = None, **kwargs) -> nn.Module:
    return BasicBlock(in_channels, out_channels or in_channels, **kwargs)


def _bottleneck(in_channels: int, mid_channels: int | None = None, **kwargs) -> nn.Module:
    # Default: ResNet-50's 256 → 64 → 256, a quarter of the channels in the middle and back to in_channels.
    mid = mid_channels or max(1, in_channels // 4)
    return Bottleneck(in_channels, mid, kwargs.pop("out_channels", in_channels), **kwargs)


def _inception(in_channels: int, **kwargs) -> nn.Module:
    # Default branch widths: GoogLeNet's inception (3a).
    widths = dict(c1=64, c3_reduce=96, c3=128, c5_reduce=16, c5=32, pool_proj=32)
    widths.update(kwargs)
    return Inception(in_channels, **widths)


def _dense_layer(in_channels: int, growth_rate: int = 32, **kwargs) -> nn.Module:
    return DenseLayer(in_channels, growth_rate, **kwargs)


# name -> (builder taking in_channels first, the class whose keyword arguments it passes on)
BLOCKS: dict[str, tuple[Callable[..., nn.Module], type[nn.Module]]] = {
    "basic_block": (_basic_block, BasicBlock),
    "bottleneck": (_bottleneck, Bottleneck),
    "inception": (_inception, Inception),
    "dense_layer": (_dense_layer, DenseLayer),
}


def create_block(name: str, in_channels: int, **kwargs) -> nn.Module:
    """Build block `name` for `in_channels` input channels; keyword arguments go to the block's constructor.

    Names: basic_block (C → C), bottleneck (C → C/4 → C), inception (GoogLeNet 3a widths), dense_layer (growth 32).
    """
    if name not in BLOCKS:
        raise unknown_name("block", name, BLOCKS)
    builder, cls = BLOCKS[name]
    check_kwargs(f"block {name!r}", kwargs, keyword_names(builder, cls) - {"in_channels"})
    return builder(in_channels, **kwargs)
