"""Explicit L1 and L2 penalty terms, added to the data loss and logged apart from it.

L1 = λ₁·Σ|w| pushes weights to exactly zero (its gradient λ₁·sign(w) does not shrink with w); L2 = (λ₂/2)·Σw²
shrinks each weight in proportion to itself (gradient λ₂·w), so weights get small but not zero. Only the weights
of convolutions and fully connected layers are penalized (parameters with more than one dimension): biases and
norm scales are left alone, as is usual. With weight normalization the penalty acts on the direction v.
"""

from __future__ import annotations

import torch
from torch import nn


def penalized_parameters(model: nn.Module) -> list[torch.nn.Parameter]:
    """Conv and linear weights: the parameters with more than one dimension."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() > 1]


def l1_penalty(params: list[torch.Tensor]) -> torch.Tensor:
    """Σ|w| over `params`."""
    return torch.stack([p.abs().sum() for p in params]).sum()


def l2_penalty(params: list[torch.Tensor]) -> torch.Tensor:
    """½·Σw² over `params` (the ½ makes its gradient w)."""
    return 0.5 * torch.stack([p.square().sum() for p in params]).sum()
