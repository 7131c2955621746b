"""Recurrent networks: a vanilla (Elman) RNN and the LSTM, for sequences stored as (N, C, H, W) tensors.

The input is read as H·W time steps of C features, in row-major order: (N, C, H, W) -> (N, H·W, C). The adding
problem (C = 2, H = 1, W = T) is T steps of (value, marker); an MNIST digit (1, 28, 28) is 784 steps of one pixel.
The last step's hidden state feeds a linear head.

Why the LSTM: a vanilla RNN's hidden state passes through the same weight matrix and a tanh at every step, so the
gradient that reaches step t from step T is a product of T − t Jacobians and shrinks (or grows) exponentially with
the distance. The LSTM (Hochreiter & Schmidhuber, 1997) carries a cell state that is updated additively,
c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t, so with the forget gate near 1 the gradient passes many steps nearly unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..layers import ClassifierHead
from ._base import Classifier, check_common, pair
from ._registry import register_model

CELLS = ("rnn", "lstm")


class LastStep(nn.Module):
    """(N, C, H, W) -> the recurrent layer's output at the last of the H·W steps, (N, hidden)."""

    def __init__(self, cell: nn.RNNBase):
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.flatten(2).transpose(1, 2)  # (N, C, H, W) -> (N, C, H·W) -> (N, H·W, C)
        out, _ = self.cell(steps)  # (N, T, hidden)
        return out[:, -1]


class RecurrentNet(Classifier):
    """A recurrent layer over the time steps, then a linear head on the last hidden state.

    Args:
        cell: 'rnn' (h_t = act(W·x_t + U·h_{t−1} + b)) or 'lstm'.
        num_classes: outputs (1 for a regression target such as the adding problem's sum).
        in_channels: features per time step.
        input_size: (H, W) or an int W (H = 1); the sequence has H·W steps.
        hidden: units of the hidden state; layers: stacked recurrent layers.
        nonlinearity: 'tanh' or 'relu' for the vanilla RNN (the LSTM's gates are fixed: sigmoid and tanh).
        dropout: between stacked layers and before the head.
    """

    def __init__(
        self,
        *,
        cell: str = "lstm",
        num_classes: int = 1,
        in_channels: int = 2,
        input_size: int | tuple[int, int] = (1, 100),
        hidden: int = 128,
        layers: int = 1,
        nonlinearity: str = "tanh",
        dropout: float = 0.0,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        if cell not in CELLS:
            raise ConfigError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"a recurrent layer's nonlinearity is 'tanh' or 'relu', got {nonlinearity!r}")
        if cell == "lstm" and nonlinearity != "tanh":
            raise ConfigError("the LSTM's gates use sigmoid and tanh by design; nonlinearity applies to the rnn only")
        if hidden < 1 or layers < 1:
            raise ConfigError(f"hidden and layers must be positive, got hidden={hidden}, layers={layers}")
        h, w = (1, input_size) if isinstance(input_size, int) else pair(input_size)
        common = {"hidden_size": hidden, "num_layers": layers, "batch_first": True,
                  "dropout": dropout if layers > 1 else 0.0}  # fmt: skip
        if cell == "lstm":
            core = nn.LSTM(in_channels, **common)
        else:
            core = nn.RNN(in_channels, nonlinearity=nonlinearity, **common)
        self.features = LastStep(core)
        self.head = ClassifierHead(hidden, num_classes, dropout=dropout)
        self.input_size = (in_channels, h, w)
        self.num_classes = num_classes


@register_model
def rnn(**kwargs) -> RecurrentNet:
    """Vanilla (Elman) RNN with a tanh hidden state: loses long-range gradients (the adding problem, T = 100)."""
    return RecurrentNet(cell="rnn", **kwargs)


@register_model
def lstm(**kwargs) -> RecurrentNet:
    """LSTM: gated, additive cell state that carries gradients across long sequences (the adding problem)."""
    return RecurrentNet(cell="lstm", **kwargs)
