"""ResNet for ImageNet (He et al., 2016): a 7×7 stem, four stages of residual blocks, global pool, FC."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from ..errors import ConfigError
from ..layers import ActSpec, BasicBlock, Bottleneck, ClassifierHead, ConvNormAct, NormSpec, create_pool
from ._base import Classifier, check_common, kaiming_init_
from ._registry import register_model


def make_stage(
    block: type[BasicBlock | Bottleneck],
    in_channels: int,
    width: int,
    depth: int,
    stride: int,
    **block_kwargs,
) -> tuple[nn.Sequential, int]:
    """`depth` blocks of `width` (the 3×3 width; a Bottleneck outputs 4·width); the first one strides.

    Returns the stage and its output channels.
    """
    out_channels = width * block.expansion
    blocks = []
    for i in range(depth):
        s = stride if i == 0 else 1
        if block is Bottleneck:
            blocks.append(Bottleneck(in_channels, width, out_channels, s, **block_kwargs))
        else:
            blocks.append(BasicBlock(in_channels, out_channels, s, **block_kwargs))
        in_channels = out_channels
    return nn.Sequential(*blocks), out_channels


class ResNet(Classifier):
    """ResNet v1.5 (torchvision): the stride of a bottleneck sits on its 3×3 conv.

    Args:
        block, layers: block type and blocks per stage (positional; fixed by the variant).
        num_classes, in_channels: outputs and image channels.
        act, norm: in every block and the stem (classic: ReLU, BatchNorm).
        dropout: before the final FC (classic: none).
        residual: shortcut mode of every block, 'identity' (projection where shapes change, the paper's option
            B), 'zero_pad', 'projection' or 'none' (the plain network of §4.1).
        zero_init_residual: start each block as its shortcut by zeroing its last norm's scale.
        small_input: for 32–64 px images: a 3×3 stride-1 stem without max pool.
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: Sequence[int],
        /,
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        act: ActSpec = "relu",
        norm: NormSpec = "batch",
        dropout: float = 0.0,
        residual: bool | str = "identity",
        zero_init_residual: bool = False,
        small_input: bool = False,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        if len(layers) != 4:
            raise ConfigError(f"an ImageNet ResNet has 4 stages, got blocks per stage {tuple(layers)}")
        if small_input:
            stem = ConvNormAct(in_channels, 64, 3, 1, norm=norm, act=act)
        else:
            stem = nn.Sequential(ConvNormAct(in_channels, 64, 7, 2, norm=norm, act=act), create_pool("max", 3, 2, 1))
        stages: OrderedDict[str, nn.Module] = OrderedDict(stem=stem)
        channels = 64
        for i, (depth, width) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
            stride = 1 if i == 0 else 2
            stages[f"layer{i + 1}"], channels = make_stage(
                block, channels, width, depth, stride, residual=residual, norm=norm, act=act
            )
        self.features = nn.Sequential(stages)
        self.head = ClassifierHead(channels, num_classes, pool="avg", dropout=dropout)
        self.input_size = (in_channels, 32, 32) if small_input else (in_channels, 224, 224)
        self.num_classes = num_classes
        kaiming_init_(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock | Bottleneck):
                    m.zero_init_last()


def without_shortcuts(kwargs: dict) -> dict:
    """The same net without shortcuts."""
    return {"residual": "none", **kwargs}


@register_model
def resnet18(**kwargs) -> ResNet:
    """ResNet-18: basic blocks [2, 2, 2, 2], 11,689,512 parameters."""
    return ResNet(BasicBlock, (2, 2, 2, 2), **kwargs)


@register_model
def resnet34(**kwargs) -> ResNet:
    """ResNet-34: basic blocks [3, 4, 6, 3]."""
    return ResNet(BasicBlock, (3, 4, 6, 3), **kwargs)


@register_model
def resnet50(**kwargs) -> ResNet:
    """ResNet-50: bottlenecks [3, 4, 6, 3], 25,557,032 parameters."""
    return ResNet(Bottleneck, (3, 4, 6, 3), **kwargs)


@register_model
def resnet101(**kwargs) -> ResNet:
    """ResNet-101: bottlenecks [3, 4, 23, 3]."""
    return ResNet(Bottleneck, (3, 4, 23, 3), **kwargs)


@register_model
def resnet152(**kwargs) -> ResNet:
    """ResNet-152: bottlenecks [3, 8, 36, 3]."""
    return ResNet(Bottleneck, (3, 8, 36, 3), **kwargs)


@register_model
def plain18(**kwargs) -> ResNet:
    """ResNet-18 without shortcuts: the 18-layer plain net of the degradation experiment (§4.1, Fig. 4)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), **without_shortcuts(kwargs))


@register_model
def plain34(**kwargs) -> ResNet:
    """ResNet-34 without shortcuts: the 34-layer plain net that trains worse than plain18 (§4.1, Fig. 4)."""
    return ResNet(BasicBlock, (3, 4, 6, 3), **without_shortcuts(kwargs))
