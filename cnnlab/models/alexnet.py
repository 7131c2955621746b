"""AlexNet (Krizhevsky et al., 2012), in torchvision's single-tower layout (no LRN): 61,100,840 parameters."""

from __future__ import annotations

from torch import nn

from ..layers import ActSpec, ClassifierHead, ConvNormAct, NormSpec, create_pool
from ._base import Classifier, check_common
from ._registry import register_model


class AlexNet(Classifier):
    """Five convs (11×11/4, 5×5, three 3×3) with three max pools, then 4096-4096 fully connected layers.

    Args:
        num_classes, in_channels: outputs and image channels.
        act, norm: activation and norm after every conv (classic: ReLU, no norm); act also in the head.
        dropout: before each fully connected layer (classic: 0.5).
        small_input: for 28–64 px images: a 3×3 stride-1 first conv instead of 11×11 stride 4, and a global
            average pool before the head (256 features) instead of the 6×6 adaptive pool (9,216 features).
    """

    def __init__(
        self,
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
        if small_input:
            stem = ConvNormAct(in_channels, 64, 3, 1, norm=norm, act=act)
        else:
            stem = ConvNormAct(in_channels, 64, 11, 4, 2, norm=norm, act=act)
        self.features = nn.Sequential(
            stem,
            create_pool("max", 3, 2),
            ConvNormAct(64, 192, 5, norm=norm, act=act),
            create_pool("max", 3, 2),
            ConvNormAct(192, 384, 3, norm=norm, act=act),
            ConvNormAct(384, 256, 3, norm=norm, act=act),
            ConvNormAct(256, 256, 3, norm=norm, act=act),
            create_pool("max", 3, 2),
        )
        pool, features = ("avg", 256) if small_input else (6, 256 * 6 * 6)
        self.head = ClassifierHead(features, num_classes, hidden=(4096, 4096), pool=pool, dropout=dropout, act=act)
        self.input_size = (in_channels, 32, 32) if small_input else (in_channels, 224, 224)
        self.num_classes = num_classes


@register_model
def alexnet(**kwargs) -> AlexNet:
    """AlexNet (Krizhevsky et al., 2012), torchvision layout, 61,100,840 parameters."""
    return AlexNet(**kwargs)
