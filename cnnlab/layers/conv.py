"""Convolution: a channel-checked `Conv2d` and the conv-norm-act unit every model is built from."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..errors import ShapeError, conv_channel_message
from ._named import NamedLayer
from .activations import ActSpec, create_act
from .norm import NormSpec, create_norm, is_weight_norm, weight_norm


class Conv2d(NamedLayer, nn.Conv2d):
    """`nn.Conv2d` (same parameters, same state dict) whose channel mismatch error says what each kernel expects.

    Each output channel is one kernel of shape (in_channels / groups, kh, kw): the kernel's channels multiply the
    input's channels one to one and are summed, so the input must have exactly `in_channels` channels.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (3, 4) or x.shape[-3] != self.in_channels:
            kh, kw = self.kernel_size
            description = f"Conv2d {self.in_channels}→{self.out_channels}, {kh}×{kw}"
            raise ShapeError(
                conv_channel_message(
                    self.where(description),
                    self.in_channels,
                    self.out_channels,
                    self.kernel_size,
                    self.groups,
                    x.shape,
                )
            )
        return super().forward(x)


class ConvNormAct(nn.Sequential):
    """conv → norm → act (or, with `preact=True`, norm → act → conv as in DenseNet).

    Children are named `conv`, `norm` and `act`; a missing norm or act is simply absent.

    Args:
        in_channels, out_channels, kernel_size, stride, groups, dilation: as for `nn.Conv2d`.
        padding: None keeps the spatial size at stride 1 ("same" padding for odd kernels).
        norm: a norm spec (see `create_norm`); 'weight' re-parametrizes this conv's weight instead of adding a layer.
        act: an activation spec (see `create_act`); None for no activation.
        bias: None adds a bias only when the unit has no norm layer (a norm's shift, here or in the next
            pre-activated unit, makes it redundant).
        preact: put norm and act before the conv; the norm then acts on `in_channels`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        *,
        groups: int = 1,
        dilation: int = 1,
        norm: NormSpec = "batch",
        act: ActSpec = "relu",
        bias: bool | None = None,
        preact: bool = False,
    ):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        reparam = is_weight_norm(norm)
        norm_layer = None if reparam else create_norm(norm, in_channels if preact else out_channels)
        if bias is None:
            bias = norm_layer is None
        conv = Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        if reparam:
            weight_norm(conv)
        act_layer = create_act(act)
        parts = [("conv", conv), ("norm", norm_layer), ("act", act_layer)]
        if preact:
            parts = [parts[1], parts[2], parts[0]]
        super().__init__(OrderedDict((name, layer) for name, layer in parts if layer is not None))
