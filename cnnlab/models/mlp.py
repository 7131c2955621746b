"""The multilayer perceptron: the workhorse for seeing gradients vanish with depth and saturating activations."""

from __future__ import annotations

import torch
from torch import nn

from ..layers import ActSpec, Add, ClassifierHead, LinearNormAct, NormSpec
from ._base import Classifier, check_common, pair
from ._registry import register_model


class ResidualLayer(nn.Module):
    """h -> h + body(h): one linear → norm → act (→ dropout) unit of equal width in and out, with an identity
    shortcut. The backward pass then reads ∂L/∂h = ∂L/∂h' + J_bodyᵀ·∂L/∂h': a sum instead of a product of the
    layers' Jacobians, so a layer whose Jacobian is near 0 no longer zeroes the gradient below it (He et al., 2016).
    """

    def __init__(self, width: int, *, norm: NormSpec, act: ActSpec, dropout: float):
        super().__init__()
        self.body = LinearNormAct(width, width, norm=norm, act=act, dropout=dropout)
        self.add = Add()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add(self.body(x), x)


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
        residual: identity shortcuts around every hidden layer after the first (which changes the width):
            h_k = h_{k−1} + act(norm(W_k·h_{k−1} + b_k)). The layers are built in the same order with the same
            shapes, so under one seed the residual MLP starts from exactly the plain MLP's weights.
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
        residual: bool = False,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        h, w = pair(input_size)
        layers: list[nn.Module] = [nn.Flatten(1)]  # (N, C, H, W) -> (N, C·H·W)
        features = in_channels * h * w
        for k in range(depth):
            if residual and k > 0:  # (N, width) -> (N, width)
                layers.append(ResidualLayer(width, norm=norm, act=act, dropout=dropout))
            else:
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
