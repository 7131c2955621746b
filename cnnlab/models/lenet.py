"""LeNet-5 (LeCun et al., 1998): two conv-pool stages and three fully connected layers."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from .._arguments import lenet_geometry
from ..layers import ActSpec, ClassifierHead, ConvNormAct, NormSpec, create_pool
from ._base import Classifier, check_common, pair
from ._registry import register_model


class LeNet5(Classifier):
    """C1 5×5 conv (6) → S2 pool → C3 5×5 conv (16) → S4 pool → F5 120 → F6 84 → output.

    The classic layout is drawn for 32×32 images; smaller images (MNIST's 28×28) are zero-padded to 32×32 by C1's
    padding, as LeCun padded MNIST, so the parameter count stays 61,706 for 10 classes. Larger images enlarge F5.

    Args:
        num_classes, in_channels: outputs and image channels.
        input_size: image size, int or (H, W).
        act: activation after every layer but the last (classic: tanh).
        norm: norm after each conv (classic: none).
        pool: 'avg' (the classic subsampling) or 'max'.
        dropout: before each fully connected layer.
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int | tuple[int, int] = 32,
        act: ActSpec = "tanh",
        norm: NormSpec = None,
        pool: str = "avg",
        dropout: float = 0.0,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        h, w = pair(input_size)
        pad, side_h, side_w = lenet_geometry(input_size)
        self.features = nn.Sequential(
            OrderedDict(
                c1=ConvNormAct(in_channels, 6, 5, padding=pad, norm=norm, act=act),
                s2=create_pool(pool, 2),
                c3=ConvNormAct(6, 16, 5, padding=0, norm=norm, act=act),
                s4=create_pool(pool, 2),
            )
        )
        # (N, 16, 5, 5) -> (N, 400) -> 120 -> 84 -> num_classes
        self.head = ClassifierHead(16 * side_h * side_w, num_classes, hidden=(120, 84), dropout=dropout, act=act)
        self.input_size = (in_channels, h, w)
        self.num_classes = num_classes


@register_model
def lenet5(**kwargs) -> LeNet5:
    """LeNet-5 (LeCun et al., 1998), 61,706 parameters for 32×32 images and 10 classes."""
    return LeNet5(**kwargs)
