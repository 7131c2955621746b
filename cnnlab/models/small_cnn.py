"""A small VGG-style CNN for 32×32 images: the "small CNN" of the shapes difficulty table and the demo."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..errors import ConfigError
from ..layers import ActSpec, ClassifierHead, ConvNormAct, NormSpec, create_pool
from ._base import Classifier, check_common, kaiming_init_, pair
from ._registry import register_model


class SmallCNN(Classifier):
    """Stages of `convs` 3×3 conv-norm-act units, each stage ending in a 2×2 max pool, then one FC layer.

    With the defaults (16, 32, 64 channels, one conv per stage) it has 33,946 parameters for 3×32×32 images and
    10 classes and trains an epoch of 10,000 images in seconds on a CPU.

    Args:
        num_classes, in_channels: outputs and image channels.
        input_size: image size, int or (H, W); each stage halves it.
        widths: channels of each stage; convs: conv units per stage.
        act, norm: after every conv (default ReLU and BatchNorm).
        dropout: before the FC layer.
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        input_size: int | tuple[int, int] = 32,
        widths: Sequence[int] = (16, 32, 64),
        convs: int = 1,
        act: ActSpec = "relu",
        norm: NormSpec = "batch",
        dropout: float = 0.0,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        h, w = pair(input_size)
        if convs < 1 or not widths:
            raise ConfigError(f"small_cnn needs at least one stage and one conv per stage, got {widths}, {convs}")
        shrink = 2 ** len(widths)
        if h < shrink or w < shrink:
            raise ConfigError(f"{len(widths)} pooling stages need images of at least {shrink}×{shrink}, got {h}×{w}")
        layers: list[nn.Module] = []
        channels = in_channels
        for width in widths:
            for _ in range(convs):
                layers.append(ConvNormAct(channels, width, 3, norm=norm, act=act))
                channels = width
            layers.append(create_pool("max", 2))
        self.features = nn.Sequential(*layers)
        # (N, C, H / 2^s, W / 2^s) -> (N, C·H·W / 4^s) -> num_classes
        self.head = ClassifierHead(channels * (h // shrink) * (w // shrink), num_classes, dropout=dropout)
        self.input_size = (in_channels, h, w)
        self.num_classes = num_classes
        kaiming_init_(self)


@register_model
def small_cnn(**kwargs) -> SmallCNN:
    """A small VGG-style CNN (16-32-64 channels, BatchNorm): quick to train on shapes, digits or CIFAR."""
    return SmallCNN(**kwargs)
