"""The Inception module (Szegedy et al., 2015): four parallel branches whose outputs are concatenated."""

from __future__ import annotations

import torch
from torch import nn

from .activations import ActSpec
from .conv import ConvNormAct
from .merge import Concat
from .norm import NormSpec
from .pooling import create_pool


class Inception(nn.Module):
    """1×1 | 1×1 → 3×3 | 1×1 → k×k | 3×3 max-pool → 1×1, concatenated along channels.

    The 1×1 convs before the 3×3 and k×k convs reduce channels first (dimensionality reduction), which
    keeps the wide module affordable. Output channels: c1 + c3 + c5 + pool_proj.

    Args:
        in_channels: channels in.
        c1: 1×1 branch; c3_reduce, c3: 3×3 branch; c5_reduce, c5: the "5×5" branch; pool_proj: pool branch.
        c5_kernel: kernel of the "5×5" branch. The paper uses 5; torchvision's GoogLeNet uses 3 (a known
            deviation kept there for its weights), and cnnlab's googlenet follows torchvision by default.
        norm, act: specs for every conv.
    """

    def __init__(
        self,
        in_channels: int,
        c1: int,
        c3_reduce: int,
        c3: int,
        c5_reduce: int,
        c5: int,
        pool_proj: int,
        *,
        c5_kernel: int = 5,
        norm: NormSpec = "batch",
        act: ActSpec = "relu",
    ):
        super().__init__()
        self.branch1 = ConvNormAct(in_channels, c1, 1, norm=norm, act=act)
        self.branch3 = nn.Sequential(
            ConvNormAct(in_channels, c3_reduce, 1, norm=norm, act=act),
            ConvNormAct(c3_reduce, c3, 3, norm=norm, act=act),
        )
        self.branch5 = nn.Sequential(
            ConvNormAct(in_channels, c5_reduce, 1, norm=norm, act=act),
            ConvNormAct(c5_reduce, c5, c5_kernel, norm=norm, act=act),
        )
        self.branch_pool = nn.Sequential(
            create_pool("max", 3, stride=1, padding=1, ceil_mode=True),
            ConvNormAct(in_channels, pool_proj, 1, norm=norm, act=act),
        )
        self.concat = Concat()
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]
        return self.concat(branches)  # 4 × (N, c_i, H, W) -> (N, c1 + c3 + c5 + pool_proj, H, W)
