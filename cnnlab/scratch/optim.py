"""Optimizers that update `Param.data` in place from `Param.grad`, step for step as `torch.optim` does.

Weight decay adds λ·θ to the gradient (L2 regularization of the loss, λ/2·‖θ‖²), as PyTorch's SGD and Adam;
Adam with `decoupled_weight_decay=True` instead shrinks θ by lr·λ before the step (AdamW, Loshchilov & Hutter, 2019).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..errors import ConfigError, unknown_name
from ._base import Param


class Optimizer:
    """Holds the parameters; `step()` applies one update from their current gradients."""

    def __init__(self, params: Iterable[Param], lr: float, weight_decay: float):
        self.params = list(params)
        if not self.params:
            raise ConfigError("the optimizer got no parameters to update")
        if lr <= 0:
            raise ConfigError(f"learning rate must be positive, got {lr!r}")
        if weight_decay < 0:
            raise ConfigError(f"weight decay must be non-negative, got {weight_decay!r}")
        self.lr, self.weight_decay = lr, weight_decay
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = np.zeros_like(p.data)

    def _decayed(self, p: Param) -> np.ndarray:
        """∂/∂θ [l + λ/2·‖θ‖²] = g + λ·θ."""
        return p.grad + self.weight_decay * p.data if self.weight_decay else p.grad

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with (Nesterov) momentum, as `torch.optim.SGD` (dampening 0).

        v ← μ·v + g   (v = g at the first step)
        θ ← θ − lr·v            (heavy ball; Polyak, 1964)
        θ ← θ − lr·(g + μ·v)    (nesterov=True; Sutskever et al., 2013)

    Args:
        params: the model's `parameters()`.
        lr, momentum μ, weight_decay λ, nesterov: as in PyTorch.
    """

    def __init__(
        self, params: Iterable[Param], lr: float, momentum: float = 0.0, weight_decay: float = 0.0, nesterov=False
    ):
        super().__init__(params, lr, weight_decay)
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must lie in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ConfigError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = momentum, nesterov
        self.velocity: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        self.steps += 1
        for i, p in enumerate(self.params):
            g = self._decayed(p)
            if self.momentum:
                v = self.velocity[i]
                if v is None:
                    v = self.velocity[i] = g.copy()
                else:
                    v *= self.momentum
                    v += g
                g = g + self.momentum * v if self.nesterov else v
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as `torch.optim.Adam`:

        m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
        θ ← θ − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + ε)

    Args:
        params: the model's `parameters()`.
        lr, betas, eps, weight_decay: as in PyTorch.
        decoupled_weight_decay: AdamW: θ ← θ·(1 − lr·λ) instead of adding λ·θ to g.
    """

    def __init__(
        self,
        params: Iterable[Param],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        decoupled_weight_decay: bool = False,
    ):
        super().__init__(params, lr, weight_decay)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ConfigError(f"Adam's betas must lie in [0, 1), got {betas!r}")
        self.betas, self.eps, self.decoupled = betas, eps, decoupled_weight_decay
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        self.steps += 1
        b1, b2 = self.betas
        correction1, correction2 = 1 - b1**self.steps, 1 - b2**self.steps
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if self.decoupled:
                p.data *= 1 - self.lr * self.weight_decay
                g = p.grad
            else:
                g = self._decayed(p)
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p.data -= (self.lr / correction1) * m / (np.sqrt(v) / math.sqrt(correction2) + self.eps)


OPTIMIZERS = ("sgd", "nesterov", "adam", "adamw")


def create_optimizer(
    name: str, params: Iterable[Param], *, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> Optimizer:
    """'sgd' (with `momentum`), 'nesterov', 'adam' or 'adamw' (decoupled weight decay) over `params`."""
    if name == "sgd":
        return SGD(params, lr, momentum=momentum, weight_decay=weight_decay)
    if name == "nesterov":
        return SGD(params, lr, momentum=momentum, weight_decay=weight_decay, nesterov=True)
    if name in ("adam", "adamw"):
        return Adam(params, lr, weight_decay=weight_decay, decoupled_weight_decay=name == "adamw")
    raise unknown_name("optimizer (NumPy reference)", name, OPTIMIZERS)
