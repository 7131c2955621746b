"""Optimizers: SGD (plain, momentum, Nesterov), Adam, AdamW — and the two kinds of weight decay.

Weight decay, coupled (SGD, Adam): the gradient of (λ/2)·‖w‖² is added to the loss gradient, g ← g + λ·w, before
momentum or Adam's moment estimates see it. For SGD this is exactly L2 regularization. For Adam it is not: the
decay is rescaled by 1/√v̂ like any gradient, so weights with large gradients are barely decayed.

Weight decay, decoupled (AdamW, Loshchilov & Hutter 2019): w ← w − lr·λ·w is applied directly to the weights,
outside the adaptive update, so every weight shrinks at the same rate.

Separately, `--l2` and `--l1` add explicit penalty terms to the loss (see `penalties.py`), logged on their own.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ..errors import ConfigError, unknown_name

OPTIMIZERS = ("sgd", "adam", "adamw")


def create_optimizer(
    params: Iterable[torch.nn.Parameter],
    name: str,
    *,
    lr: float,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> torch.optim.Optimizer:
    """Build optimizer `name` ('sgd', 'adam' or 'adamw').

    Args:
        lr: base learning rate (the schedule multiplies it).
        momentum, nesterov: SGD only; Nesterov needs momentum > 0.
        weight_decay: λ, coupled for sgd and adam, decoupled for adamw.
        betas, eps: Adam and AdamW.
    """
    if name not in OPTIMIZERS:
        raise unknown_name("optimizer", name, OPTIMIZERS)
    if lr <= 0:
        raise ConfigError(f"the learning rate must be positive, got {lr}")
    if weight_decay < 0:
        raise ConfigError(f"weight decay must be non-negative, got {weight_decay}")
    if name == "sgd":
        if not 0 <= momentum < 1:
            raise ConfigError(f"momentum must lie in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ConfigError("Nesterov SGD needs momentum > 0, e.g. --momentum 0.9")
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    if nesterov:
        raise ConfigError(f"--nesterov applies to sgd, not to {name}")
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
