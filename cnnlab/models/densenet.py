"""DenseNet (Huang et al., 2017): dense blocks whose layers concatenate, joined by compressing transitions."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from ..layers import (
    ActSpec,
    ClassifierHead,
    ConvNormAct,
    DenseBlock,
    NormSpec,
    Transition,
    create_act,
    create_norm,
    create_pool,
    is_weight_norm,
)
from ._base import Classifier, check_common, kaiming_init_
from ._registry import register_model


class DenseNet(Classifier):
    """Stem → (dense block → transition)* → dense block → norm → act → global pool → FC.

    Args:
        growth_rate, block_config, num_init_features: k, layers per block, stem width (positional; fixed by the
            variant).
        num_classes, in_channels: outputs and image channels.
        act, norm: pre-activation of every conv (classic: ReLU, BatchNorm).
        bn_size: 1×1 bottleneck width in multiples of k (the "B" of DenseNet-BC).
        compression: channel fraction a transition keeps (the "C"; 0.5).
        dropout: before the final FC; drop_rate: on each dense layer's new features (torchvision's drop_rate).
        small_input: for 32×32 images: a single 3×3 stride-1 conv as stem, as in the paper's CIFAR nets.
    """

    def __init__(
        self,
        growth_rate: int,
        block_config: Sequence[int],
        num_init_features: int,
        /,
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        act: ActSpec = "relu",
        norm: NormSpec = "batch",
        bn_size: int = 4,
        compression: float = 0.5,
        dropout: float = 0.0,
        drop_rate: float = 0.0,
        small_input: bool = False,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        if small_input:
            # The first dense layer pre-activates, so the stem conv needs neither norm nor act.
            stem = ConvNormAct(in_channels, num_init_features, 3, norm=None, act=None, bias=False)
        else:
            stem = nn.Sequential(
                ConvNormAct(in_channels, num_init_features, 7, 2, norm=norm, act=act),
                create_pool("max", 3, 2, 1),
            )
        layers: OrderedDict[str, nn.Module] = OrderedDict(stem=stem)
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(
                num_layers, channels, growth_rate, bn_size=bn_size, drop_rate=drop_rate, norm=norm, act=act
            )
            layers[f"denseblock{i + 1}"] = block
            channels = block.out_channels
            if i != len(block_config) - 1:
                out = int(channels * compression)
                layers[f"transition{i + 1}"] = Transition(channels, out, norm=norm, act=act)
                channels = out
        final = [m for m in (None if is_weight_norm(norm) else create_norm(norm, channels), create_act(act)) if m]
        layers["final"] = nn.Sequential(*final)
        self.features = nn.Sequential(layers)
        self.head = ClassifierHead(channels, num_classes, pool="avg", dropout=dropout)
        self.input_size = (in_channels, 32, 32) if small_input else (in_channels, 224, 224)
        self.num_classes = num_classes
        kaiming_init_(self)
        for m in self.modules():  # torchvision: FC bias starts at 0
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)


@register_model
def densenet121(**kwargs) -> DenseNet:
    """DenseNet-121 (k = 32, blocks [6, 12, 24, 16]), 7,978,856 parameters."""
    return DenseNet(32, (6, 12, 24, 16), 64, **kwargs)


@register_model
def densenet_bc100(**kwargs) -> DenseNet:
    """DenseNet-BC-100 for CIFAR (k = 12, 3 blocks of 16), about 0.8M parameters."""
    return DenseNet(12, (16, 16, 16), 24, **{"num_classes": 10, "small_input": True, **kwargs})


@register_model
def densenet_bc40(**kwargs) -> DenseNet:
    """DenseNet-BC-40 for CIFAR (k = 12, 3 blocks of 6): a small DenseNet that trains in minutes on a CPU."""
    return DenseNet(12, (6, 6, 6), 24, **{"num_classes": 10, "small_input": True, **kwargs})
