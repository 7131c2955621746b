"""A small VGG-style CNN for 32×32 images: the "small CNN" of the shapes difficulty table and the demo."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..errors import ConfigError
from ..layers import ActSpec, BasicBlock, Bottleneck, ClassifierHead, ConvNormAct, NormSpec, create_pool
from ._base import Classifier, check_common, kaiming_init_, pair
from ._registry import register_model

DOWNSAMPLE = ("max", "stride", "none")
UNITS = ("conv", "basic", "bottleneck")
HEADS = ("fc", "gap")


class SmallCNN(Classifier):
    """Stages of `convs` 3×3 conv-norm-act units, each stage ending in a 2×2 max pool, then one FC layer.

    With the defaults (16, 32, 64 channels, one conv per stage) it has 33,946 parameters for 3×32×32 images and
    10 classes and trains an epoch of 10,000 images in seconds on a CPU. Three switches change one part at a time,
    for ablations: how a stage shrinks the map, what a stage is made of, and the head.

    Args:
        num_classes, in_channels: outputs and image channels.
        input_size: image size, int or (H, W); each stage halves it (unless downsample='none').
        widths: channels of each stage; convs: units per stage.
        downsample: 'max' (a 2×2 max pool after each stage), 'stride' (the stage's first 3×3 conv has stride 2, no
            pooling: the same maps with the same parameters) or 'none' (the map keeps its size).
        unit: 'conv' (3×3 conv-norm-act), 'basic' (residual block of two 3×3 convs, C → C) or 'bottleneck'
            (residual 1×1 → 3×3 → 1×1, C → C/4 → C/4 → C). Block stages keep their channels: give equal widths;
            a 3×3 stem then maps the image to widths[0].
        head: 'fc' (flatten the C×h×w map into one FC layer) or 'gap' (average each channel, then one FC layer).
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
        downsample: str = "max",
        unit: str = "conv",
        head: str = "fc",
        act: ActSpec = "relu",
        norm: NormSpec = "batch",
        dropout: float = 0.0,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        for name, value, options in (("downsample", downsample, DOWNSAMPLE), ("unit", unit, UNITS),
                                     ("head", head, HEADS)):  # fmt: skip
            if value not in options:
                raise ConfigError(f"small_cnn: {name} must be one of {', '.join(options)}, got {value!r}")
        if convs < 1 or not widths:
            raise ConfigError(f"small_cnn needs at least one stage and one conv per stage, got {widths}, {convs}")
        if unit != "conv" and (len(set(widths)) != 1 or downsample == "stride"):
            raise ConfigError(
                f"small_cnn: {unit} stages keep their channels and pool between stages; give equal widths and "
                f"downsample 'max' or 'none', got widths {tuple(widths)} and downsample {downsample!r}"
            )
        h, w = pair(input_size)
        shrink = 1 if downsample == "none" else 2 ** len(widths)
        if h < shrink or w < shrink:
            raise ConfigError(f"{len(widths)} halving stages need images of at least {shrink}×{shrink}, got {h}×{w}")
        if downsample == "stride" and (h % shrink or w % shrink):  # a padded stride-2 conv rounds up, a pool down
            raise ConfigError(f"{len(widths)} stride-2 stages need a size divisible by {shrink}, got {h}×{w}")
        layers: list[nn.Module] = []
        channels = in_channels
        if unit != "conv":
            layers.append(ConvNormAct(in_channels, widths[0], 3, norm=norm, act=act))  # stem: C_in -> C
            channels = widths[0]
        for width in widths:
            for i in range(convs):
                stride = 2 if downsample == "stride" and i == 0 else 1
                if unit == "conv":
                    layers.append(ConvNormAct(channels, width, 3, stride, norm=norm, act=act))
                elif unit == "basic":
                    layers.append(BasicBlock(channels, width, norm=norm, act=act))
                else:
                    layers.append(Bottleneck(channels, max(1, width // 4), width, norm=norm, act=act))
                channels = width
            if downsample == "max":
                layers.append(create_pool("max", 2))
        self.features = nn.Sequential(*layers)
        if head == "fc":
            # (N, C, H / s, W / s) -> (N, C·H·W / s²) -> num_classes
            self.head = ClassifierHead(channels * (h // shrink) * (w // shrink), num_classes, dropout=dropout)
        else:
            # (N, C, h, w) -> (N, C, 1, 1) -> (N, C) -> num_classes
            self.head = ClassifierHead(channels, num_classes, pool="avg", dropout=dropout)
        self.input_size = (in_channels, h, w)
        self.num_classes = num_classes
        kaiming_init_(self)


@register_model
def small_cnn(**kwargs) -> SmallCNN:
    """A small VGG-style CNN (16-32-64 channels, BatchNorm) with ablation switches: downsample, unit, head."""
    return SmallCNN(**kwargs)
