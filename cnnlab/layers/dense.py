"""DenseNet's building blocks (Huang et al., 2017): every layer concatenates its new features to its input."""

from __future__ import annotations

import torch
from torch import nn

from .activations import ActSpec
from .conv import ConvNormAct
from .merge import Concat
from .norm import NormSpec
from .pooling import create_pool


class DenseLayer(nn.Module):
    """norm → act → 1×1 conv (bottleneck, bn_size·growth) → norm → act → 3×3 conv (growth), then concat.

    (N, C, H, W) -> (N, C + growth_rate, H, W): unlike a residual block, which adds, the input is kept as it is
    and the new feature maps are stacked beside it.

    Args:
        in_channels: channels in; growth_rate: new channels this layer adds (k in the paper).
        bn_size: width of the 1×1 bottleneck in multiples of growth_rate (4 in DenseNet-B/BC); 0 omits it.
        drop_rate: dropout on the new features during training.
        norm, act: specs; the convs are pre-activated (norm and act come first).
    """

    def __init__(
        self,
        in_channels: int,
        growth_rate: int,
        *,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        norm: NormSpec = "batch",
        act: ActSpec = "relu",
    ):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        if bn_size > 0:
            layers.append(ConvNormAct(channels, bn_size * growth_rate, 1, norm=norm, act=act, preact=True))
            channels = bn_size * growth_rate
        layers.append(ConvNormAct(channels, growth_rate, 3, norm=norm, act=act, preact=True))
        if drop_rate > 0:
            layers.append(nn.Dropout(drop_rate))
        self.new_features = nn.Sequential(*layers)
        self.concat = Concat()
        self.out_channels = in_channels + growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.concat([x, self.new_features(x)])  # (N, C, H, W) -> (N, C + k, H, W)


class DenseBlock(nn.Sequential):
    """`num_layers` DenseLayers; (N, C, H, W) -> (N, C + num_layers·growth_rate, H, W)."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, **layer_kwargs):
        layers = []
        for _ in range(num_layers):
            layers.append(DenseLayer(in_channels, growth_rate, **layer_kwargs))
            in_channels += growth_rate
        super().__init__(*layers)
        self.out_channels = in_channels


class Transition(nn.Sequential):
    """norm → act → 1×1 conv → 2×2 average pool: compresses channels and halves H and W between dense blocks."""

    def __init__(self, in_channels: int, out_channels: int, *, norm: NormSpec = "batch", act: ActSpec = "relu"):
        super().__init__(
            ConvNormAct(in_channels, out_channels, 1, norm=norm, act=act, preact=True),
            create_pool("avg", 2),
        )
        self.out_channels = out_channels
