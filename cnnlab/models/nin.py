"""Network in Network (Lin, Chen & Yan, 2014): "mlpconv" blocks of a k×k conv and two 1×1 convs, no FC head."""

from __future__ import annotations

from torch import nn

from ..layers import ActSpec, ConvNormAct, GlobalPool2d, NormSpec, create_pool
from ._base import Classifier, check_common
from ._registry import register_model


class NiN(Classifier):
    """The paper's CIFAR-10 network: three mlpconv blocks; the last one has one channel per class and a global
    average pool turns each channel into a class score, replacing the fully connected head.

    The 1×1 convs act as a small fully connected network applied at every pixel: each mixes the channels of one
    pixel, with a non-linearity after it. The last 1×1 conv has no activation, so scores can be negative.

    Args:
        num_classes, in_channels: outputs and image channels.
        act, norm: after every conv but the last (classic: ReLU, no norm).
        dropout: after the first two blocks (classic: 0.5).
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        act: ActSpec = "relu",
        norm: NormSpec = None,
        dropout: float = 0.5,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)

        def mlpconv(c_in: int, widths: tuple[int, int, int], k: int, last_act: ActSpec = act) -> nn.Sequential:
            return nn.Sequential(
                ConvNormAct(c_in, widths[0], k, norm=norm, act=act),
                ConvNormAct(widths[0], widths[1], 1, norm=norm, act=act),
                ConvNormAct(widths[1], widths[2], 1, norm=norm if last_act else None, act=last_act),
            )

        self.features = nn.Sequential(
            mlpconv(in_channels, (192, 160, 96), 5),
            create_pool("max", 3, 2, 1),
            nn.Dropout(dropout),
            mlpconv(96, (192, 192, 192), 5),
            create_pool("avg", 3, 2, 1),
            nn.Dropout(dropout),
            mlpconv(192, (192, 192, num_classes), 3, last_act=None),
        )
        self.head = GlobalPool2d("avg")  # (N, num_classes, H, W) -> (N, num_classes)
        self.input_size = (in_channels, 32, 32)
        self.num_classes = num_classes


@register_model
def nin(**kwargs) -> NiN:
    """Network in Network for 32×32 images (Lin et al., 2014), global average pooling instead of FC layers."""
    return NiN(**kwargs)
