"""Fully connected layers: a feature-checked `Linear` and the linear-norm-act unit of the MLP."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..errors import ShapeError, linear_features_message
from ._named import NamedLayer
from .activations import ActSpec, create_act
from .norm import NormSpec, create_norm, is_weight_norm, weight_norm


class Linear(NamedLayer, nn.Linear):
    """`nn.Linear` (same parameters, same state dict) that says what arrived when the feature count is wrong.

    A fully connected layer multiplies every input feature by its own weight, so the number of features — for a
    flattened feature map C·H·W — is fixed when the layer is built.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 0 or x.shape[-1] != self.in_features:
            where = self.where(f"Linear {self.in_features}→{self.out_features}")
            raise ShapeError(linear_features_message(where, self.in_features, self.out_features, x.shape))
        return super().forward(x)


class LinearNormAct(nn.Sequential):
    """linear → norm → act → dropout, the hidden layer of an MLP. Children: `fc`, `norm`, `act`, `drop`.

    Args:
        norm: a norm spec for feature vectors ('batch', 'layer', 'group', 'none'); 'weight' re-parametrizes `fc`.
        bias: None adds a bias only when no norm layer follows.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        norm: NormSpec = None,
        act: ActSpec = "relu",
        dropout: float = 0.0,
        bias: bool | None = None,
    ):
        reparam = is_weight_norm(norm)
        norm_layer = None if reparam else create_norm(norm, out_features, dim=1)
        fc = Linear(in_features, out_features, bias=norm_layer is None if bias is None else bias)
        if reparam:
            weight_norm(fc)
        parts = [("fc", fc), ("norm", norm_layer), ("act", create_act(act))]
        if dropout > 0:
            parts.append(("drop", nn.Dropout(dropout)))
        super().__init__(OrderedDict((name, layer) for name, layer in parts if layer is not None))
