"""The classifier head: pool → flatten → (dropout → fully connected → act)* → dropout → fully connected."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .activations import ActSpec, create_act
from .linear import Linear
from .pooling import Flatten, GlobalPool2d


class ClassifierHead(nn.Module):
    """Turns a feature map into class scores (logits).

    The fully connected layers "reassemble the local features into the whole picture" and act as the classifier.
    Dropout precedes every fully connected layer, as in AlexNet; with no hidden layers this is the
    pool → dropout → fc head of ResNet and DenseNet.

    Args:
        in_features: features reaching the first fully connected layer, i.e. C (global pooling) or C·k·k.
        num_classes: outputs (logits).
        hidden: widths of hidden fully connected layers, e.g. (4096, 4096) for AlexNet and VGG.
        pool: None (input is flattened as it is), 'avg' or 'max' (global), or k (adaptive average to k×k).
        dropout: probability of zeroing each input of every fully connected layer during training.
        act: activation after each hidden layer.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        hidden: Sequence[int] = (),
        pool: str | int | None = None,
        dropout: float = 0.0,
        act: ActSpec = "relu",
    ):
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"num_classes must be at least 1, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout is a probability in [0, 1), got {dropout}")
        self.pool: nn.Module | None = None
        if isinstance(pool, str):
            self.pool = GlobalPool2d(pool, flatten=False)
        elif pool is not None:
            self.pool = nn.AdaptiveAvgPool2d(pool)
        self.flatten = Flatten()  # (N, C, k, k) -> (N, C·k·k)
        layers: list[nn.Module] = []
        widths = [in_features, *hidden]
        for width_in, width_out in itertools.pairwise(widths):
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers.append(Linear(width_in, width_out))
            act_layer = create_act(act)
            if act_layer is not None:
                layers.append(act_layer)
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.hidden = nn.Sequential(*layers)
        self.fc = Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        return self.fc(self.hidden(self.flatten(x)))
