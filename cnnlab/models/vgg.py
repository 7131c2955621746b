"""VGG (Simonyan & Zisserman, 2015): stacks of 3×3 convs between max pools; `_bn` variants add BatchNorm."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..layers import ActSpec, ClassifierHead, ConvNormAct, NormSpec, create_pool
from ._base import Classifier, check_common, kaiming_init_
from ._registry import register_model

# Conv widths per stage; each stage ends in a 2×2 max pool. Configurations A, B, D, E of the paper.
_STAGES: dict[int, tuple[tuple[int, ...], ...]] = {
    11: ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    13: ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    16: ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    19: ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512)),
}


class VGG(Classifier):
    """VGG with five stages of 3×3 convs and a 4096-4096 fully connected head.

    Args:
        stages: conv widths of each stage (positional; fixed by the variant).
        num_classes, in_channels: outputs and image channels.
        act, norm: after every conv (vgg*: no norm; vgg*_bn: 'batch'). Convs keep their bias, as published.
        dropout: before each fully connected layer (classic: 0.5).
        small_input: for 32–64 px images: no pool after the last stage and a global average pool before the head
            (512 features) instead of the 7×7 adaptive pool (25,088 features).
    """

    def __init__(
        self,
        stages: Sequence[Sequence[int]],
        /,
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        act: ActSpec = "relu",
        norm: NormSpec = None,
        dropout: float = 0.5,
        small_input: bool = False,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        layers: list[nn.Module] = []
        channels = in_channels
        for i, widths in enumerate(stages):
            for width in widths:
                layers.append(ConvNormAct(channels, width, 3, norm=norm, act=act, bias=True))
                channels = width
            if not (small_input and i == len(stages) - 1):
                layers.append(create_pool("max", 2))
        self.features = nn.Sequential(*layers)
        pool, features = ("avg", channels) if small_input else (7, channels * 7 * 7)
        self.head = ClassifierHead(features, num_classes, hidden=(4096, 4096), pool=pool, dropout=dropout, act=act)
        self.input_size = (in_channels, 32, 32) if small_input else (in_channels, 224, 224)
        self.num_classes = num_classes
        kaiming_init_(self, linear_std=0.01)


@register_model
def vgg11(**kwargs) -> VGG:
    """VGG-11 (configuration A)."""
    return VGG(_STAGES[11], **kwargs)


@register_model
def vgg11_bn(**kwargs) -> VGG:
    """VGG-11 with BatchNorm after every conv."""
    return VGG(_STAGES[11], **{"norm": "batch", **kwargs})


@register_model
def vgg13(**kwargs) -> VGG:
    """VGG-13 (configuration B)."""
    return VGG(_STAGES[13], **kwargs)


@register_model
def vgg13_bn(**kwargs) -> VGG:
    """VGG-13 with BatchNorm after every conv."""
    return VGG(_STAGES[13], **{"norm": "batch", **kwargs})


@register_model
def vgg16(**kwargs) -> VGG:
    """VGG-16 (configuration D), 138,357,544 parameters."""
    return VGG(_STAGES[16], **kwargs)


@register_model
def vgg16_bn(**kwargs) -> VGG:
    """VGG-16 with BatchNorm after every conv, 138,365,992 parameters."""
    return VGG(_STAGES[16], **{"norm": "batch", **kwargs})


@register_model
def vgg19(**kwargs) -> VGG:
    """VGG-19 (configuration E)."""
    return VGG(_STAGES[19], **kwargs)


@register_model
def vgg19_bn(**kwargs) -> VGG:
    """VGG-19 with BatchNorm after every conv."""
    return VGG(_STAGES[19], **{"norm": "batch", **kwargs})
