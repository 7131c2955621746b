"""The multilayer perceptron: the workhorse for seeing gradients vanish with depth and saturating activations."""

from __future__ import annotations

from torch import nn

from ..layers import ActSpec, ClassifierHead, LinearNormAct, NormSpec
from ._base import Classifier, check_common, pair
from ._registry import register_model


class MLP(Classifier):
    """Flatten → `depth` × (linear → norm → act → dropout) → linear. depth=0 is softmax (logistic) regression.

    Weights keep PyTorch's default initialization, so that a deep sigmoid MLP shows vanishing gradients (a product of
    derivatives σ′ ≤ 1/4 per layer).

    Args:
        num_classes, in_channels: outputs and image channels.
        input_size: image size, int or (H, W); the first layer has in_channels·H·W inputs.
        depth: number of hidden layers; width: units per hidden layer.
        act, norm: after every hidden layer (norm for vectors: 'batch', 'layer', 'group', 'weight', 'none').
        dropout: after every hidden layer.
    """

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int | tuple[int, int] = 28,
        depth: int = 4,
        width: int = 256,
        act: ActSpec = "relu",
        norm: NormSpec = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        h, w = pair(input_size)
        layers: list[nn.Module] = [nn.Flatten(1)]  # (N, C, H, W) -> (N, C·H·W)
        features = in_channels * h * w
        for _ in range(depth):
            layers.append(LinearNormAct(features, width, norm=norm, act=act, dropout=dropout))
            features = width
        self.features = nn.Sequential(*layers)
        self.head = ClassifierHead(features, num_classes)
        self.input_size = (in_channels, h, w)
        self.num_classes = num_classes


@register_model
def mlp(**kwargs) -> MLP:
    """Multilayer perceptron with configurable depth, width, activation and norm."""
    return MLP(**kwargs)
