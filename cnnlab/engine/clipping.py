"""Gradient clipping by global norm or by value, and the global gradient norm logged every step."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..errors import ConfigError
from .config import TrainConfig


def make_clip(config: TrainConfig) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """The clipping of `config` as a function parameters -> global gradient L2 norm (before clipping)."""
    if config.clip_norm is not None and config.clip_value is not None:
        raise ConfigError("choose one of --clip-norm and --clip-value")
    if config.clip_norm is not None:
        if config.clip_norm <= 0:
            raise ConfigError(f"--clip-norm must be positive, got {config.clip_norm}")
        return lambda params: nn.utils.clip_grad_norm_(params, config.clip_norm)
    if config.clip_value is not None:
        if config.clip_value <= 0:
            raise ConfigError(f"--clip-value must be positive, got {config.clip_value}")

        def clip_value(params: list[torch.Tensor]) -> torch.Tensor:
            norm = grad_norm(params)
            nn.utils.clip_grad_value_(params, config.clip_value)
            return norm

        return clip_value
    return grad_norm


def grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of all gradients, √(Σ‖g‖²), as clip_grad_norm_ computes it."""
    grads = [p.grad for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def largest_gradient(model: nn.Module) -> str:
    """'features.c1.conv.weight (grad norm inf)': the parameter with a non-finite or the largest gradient."""
    worst, worst_norm = "?", -1.0
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        norm = p.grad.detach().float().norm().item()
        if not math.isfinite(norm):
            return f"{name} (gradient norm {norm})"
        if norm > worst_norm:
            worst, worst_norm = name, norm
    return f"{worst} (gradient norm {worst_norm:.3g})"
