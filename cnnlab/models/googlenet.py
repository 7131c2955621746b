"""GoogLeNet (Szegedy et al., 2015), torchvision's layout with BatchNorm: 6,624,904 parameters without aux heads."""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from ..layers import ActSpec, ClassifierHead, ConvNormAct, Inception, NormSpec, create_pool
from ._base import Classifier, check_common, init_norms_, init_weight_
from ._registry import register_model

# Inception widths: (c1, c3_reduce, c3, c5_reduce, c5, pool_proj); a pool follows 3b and 4e.
_INCEPTIONS = OrderedDict(
    inception3a=(64, 96, 128, 16, 32, 32),
    inception3b=(128, 128, 192, 32, 96, 64),
    inception4a=(192, 96, 208, 16, 48, 64),
    inception4b=(160, 112, 224, 24, 64, 64),
    inception4c=(128, 128, 256, 24, 64, 64),
    inception4d=(112, 144, 288, 32, 64, 64),
    inception4e=(256, 160, 320, 32, 128, 128),
    inception5a=(256, 160, 320, 32, 128, 128),
    inception5b=(384, 192, 384, 48, 128, 128),
)
_AUX_AFTER = {"inception4a": "aux1", "inception4d": "aux2"}


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode when it has auxiliary heads (torchvision's field names)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor
    aux_logits1: torch.Tensor


class InceptionAux(nn.Sequential):
    """Auxiliary classifier: 4×4 average pool → 1×1 conv (128) → FC 1024 → FC num_classes."""

    def __init__(self, in_channels: int, num_classes: int, *, norm: NormSpec, act: ActSpec, dropout: float):
        super().__init__(
            nn.AdaptiveAvgPool2d(4),
            ConvNormAct(in_channels, 128, 1, norm=norm, act=act),
            ClassifierHead(128 * 4 * 4, num_classes, hidden=(1024,), dropout=dropout, act=act),
        )


class GoogLeNet(Classifier):
    """Stem, nine Inception modules (3a–5b) with pools between stages, global average pool, dropout, FC.

    Args:
        num_classes, in_channels: outputs and image channels.
        act, norm: after every conv (torchvision: ReLU and BatchNorm).
        dropout: before the final FC (0.2); aux_dropout: in the auxiliary heads (0.7).
        aux_logits: add the two auxiliary heads (after 4a and 4d); in training mode `forward` then returns
            `GoogLeNetOutputs(logits, aux_logits2, aux_logits1)`, in eval mode the logits alone.
        c5_kernel: kernel of the "5×5" branch; 3 as in torchvision (its known deviation), 5 as in the paper.
        small_input: for 32–64 px images: a 3×3 stride-1 first conv and no pools in the stem.
    """

    def __init__(
        self,
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        act: ActSpec = "relu",
        norm: NormSpec = "batch",
        dropout: float = 0.2,
        aux_logits: bool = False,
        aux_dropout: float = 0.7,
        c5_kernel: int = 3,
        small_input: bool = False,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        if small_input:
            stem = [("conv1", ConvNormAct(in_channels, 64, 3, 1, norm=norm, act=act))]
        else:
            stem = [
                ("conv1", ConvNormAct(in_channels, 64, 7, 2, norm=norm, act=act)),
                ("maxpool1", create_pool("max", 3, 2, ceil_mode=True)),
            ]
        stem += [
            ("conv2", ConvNormAct(64, 64, 1, norm=norm, act=act)),
            ("conv3", ConvNormAct(64, 192, 3, norm=norm, act=act)),
        ]
        if not small_input:
            stem.append(("maxpool2", create_pool("max", 3, 2, ceil_mode=True)))
        layers = OrderedDict(stem)
        channels = 192
        self.aux = nn.ModuleDict()
        for name, widths in _INCEPTIONS.items():
            block = Inception(channels, *widths, c5_kernel=c5_kernel, norm=norm, act=act)
            layers[name] = block
            channels = block.out_channels
            if name == "inception3b":
                layers["maxpool3"] = create_pool("max", 3, 2, ceil_mode=True)
            elif name == "inception4e":
                layers["maxpool4"] = create_pool("max", 2, 2, ceil_mode=True)
            if aux_logits and name in _AUX_AFTER:
                aux = InceptionAux(channels, num_classes, norm=norm, act=act, dropout=aux_dropout)
                self.aux[_AUX_AFTER[name]] = aux
        self.features = nn.Sequential(layers)
        self.head = ClassifierHead(channels, num_classes, pool="avg", dropout=dropout)
        self.input_size = (in_channels, 32, 32) if small_input else (in_channels, 224, 224)
        self.num_classes = num_classes
        for m in self.modules():  # torchvision: truncated normal, std 0.01, for convs and FCs
            if isinstance(m, nn.Conv2d | nn.Linear):
                init_weight_(m, lambda w: nn.init.trunc_normal_(w, std=0.01, a=-2, b=2))
        init_norms_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        if not (self.training and len(self.aux)):
            return super().forward(x)
        aux_out: dict[str, torch.Tensor] = {}
        for name, layer in self.features.named_children():
            x = layer(x)
            if name in _AUX_AFTER:
                aux_out[_AUX_AFTER[name]] = self.aux[_AUX_AFTER[name]](x)
        return GoogLeNetOutputs(self.forward_head(x), aux_out["aux2"], aux_out["aux1"])


@register_model
def googlenet(**kwargs) -> GoogLeNet:
    """GoogLeNet / Inception v1 (Szegedy et al., 2015), 6,624,904 parameters without auxiliary heads."""
    return GoogLeNet(**kwargs)
