"""Two ways to merge feature maps: concatenate channels (Inception, DenseNet) or add (residual networks)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ShapeError, shape_str


class Concat(nn.Module):
    """Concatenate feature maps along the channel axis: 8×8×16 with 8×8×16 gives 8×8×32.

    All inputs must agree on batch size and spatial size; only the channel counts may differ.
    """

    def forward(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(tensors) == 0:
            raise ShapeError("Concat needs at least one feature map")
        first = tensors[0]
        for i, t in enumerate(tensors):
            if t.dim() != first.dim() or t.dim() < 2 or t.shape[0] != first.shape[0] or t.shape[2:] != first.shape[2:]:
                shapes = ", ".join(shape_str(x.shape) for x in tensors)
                raise ShapeError(
                    f"Concat joins feature maps along channels, so all must share batch and spatial size "
                    f"(N, _, H, W); input {i} differs: got {shapes}; resize or pool them to one H×W first"
                )
        return torch.cat(list(tensors), dim=1)  # (N, C1, H, W), (N, C2, H, W) -> (N, C1 + C2, H, W)


class Add(nn.Module):
    """Residual merge: element-wise sum of two tensors of equal shape (a ResNet adds, it does not concatenate)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # add y into x (see cnnlab.layers.set_inplace)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape:
            raise ShapeError(
                f"Add sums element by element, so both inputs need one shape; got {shape_str(x.shape)} and "
                f"{shape_str(y.shape)}; give the shortcut a projection (residual='identity' projects when "
                "shapes change) or use Concat to stack channels"
            )
        return x.add_(y) if self.inplace else x + y

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""
