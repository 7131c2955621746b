"""Gradients: one flat buffer for all of them, clipping by global norm or by value, and the global norm logged
every step."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .config import TrainConfig


def make_clip(config: TrainConfig, grads: GradientBuffer | Sequence[torch.Tensor]) -> Callable[[], torch.Tensor]:
    """The clipping of `config` as a function () -> global gradient L2 norm (before clipping).

    `grads` is a GradientBuffer, or the parameters whose `.grad` to clip.
    """
    if config.clip_norm is not None and config.clip_value is not None:
        raise ConfigError("choose one of --clip-norm and --clip-value")
    buffer = grads if isinstance(grads, GradientBuffer) else None
    params = list(buffer.params if buffer is not None else grads)

    def norm() -> torch.Tensor:
        return buffer.norm() if buffer is not None else grad_norm(params)

    apply: Callable[[torch.Tensor], object]  # what clipping does to the gradients, given their norm before it
    if config.clip_norm is not None:
        max_norm = _positive(config.clip_norm, "--clip-norm")
        apply = lambda total: scale_gradients(params, max_norm, total)  # noqa: E731
    elif config.clip_value is not None:
        max_value = _positive(config.clip_value, "--clip-value")
        apply = lambda total: nn.utils.clip_grad_value_(params, max_value)  # noqa: E731
    else:
        return norm

    def clip() -> torch.Tensor:
        total = norm()
        apply(total)
        return total

    return clip


def _positive(value: float, flag: str) -> float:
    if value <= 0:
        raise ConfigError(f"{flag} must be positive, got {value}")
    return value


def grad_norm(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of all gradients, √(Σ‖g‖²), as clip_grad_norm_ computes it."""
    grads = [p.grad for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def scale_gradients(params: Sequence[torch.Tensor], max_norm: float, total: torch.Tensor) -> None:
    """Scale gradients whose global norm `total` exceeds `max_norm` down to it: clip_grad_norm_'s second half
    (torch.nn.utils.clip_grads_with_norm_ in torch ≥ 2.6), for a norm computed once."""
    grads = [p.grad for p in params if p.grad is not None]
    coefficient = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    torch._foreach_mul_(grads, coefficient.to(grads[0].device))


class GradientBuffer:
    """Every parameter's `.grad` as a view of one flat tensor, so that zeroing the gradients is one fill and their
    global norm one reduction.

    PyTorch's default gives each gradient its own tensor, so the norm logged every step takes a reduction per
    parameter, and after the backward pass these run cold: a visible share of a small net's CPU step, far more
    than one dot product (timings in benchmarks/README.md). Each view has its parameter's strides
    (PyTorch's gradient layout contract, which optimizers and DDP expect), and the backward pass adds into it in
    place — what DDP's `gradient_as_bucket_view` does. The gradients are the same numbers (0 + g = g). Unlike
    `zero_grad(set_to_none=True)`, a parameter that gets no gradient in a step has a zero gradient, not None.

    If anything replaces a `.grad` (a callback, `optimizer.zero_grad()`), `norm()` falls back to the per-tensor
    norm for that step and `zero_()` puts the views back.
    """

    def __init__(self, params: Sequence[torch.Tensor]):
        self.params = list(params)
        first = self.params[0]
        self.flat = torch.zeros(sum(p.numel() for p in self.params), dtype=first.dtype, device=first.device)
        self.views, offset = [], 0
        for p in self.params:
            self.views.append(self.flat.as_strided(p.shape, p.stride(), offset))
            offset += p.numel()

    @staticmethod
    def supports(params: Sequence[torch.Tensor]) -> bool:
        """One buffer needs at least one parameter, one device and dtype, and dense layouts."""
        return bool(params) and len({(p.device, p.dtype) for p in params}) == 1 and all(map(_dense, params))

    def zero_(self) -> None:
        """Zero every gradient (in place of optimizer.zero_grad)."""
        for p, view in zip(self.params, self.views, strict=True):
            if p.grad is not view:
                p.grad = view
        self.flat.zero_()

    def norm(self) -> torch.Tensor:
        """Global L2 norm of the gradients."""
        if all(p.grad is view for p, view in zip(self.params, self.views, strict=True)):
            # √(g·g): a BLAS dot product, cheaper than linalg.vector_norm, as accurate here and overflowing at the
            # same 3.4e38 (neither rescales)
            return torch.dot(self.flat, self.flat).sqrt()
        return grad_norm(self.params)


def _dense(t: torch.Tensor) -> bool:
    """Whether `t` fills t.numel() consecutive elements of memory, in some order of its dimensions."""
    expected = 1
    for stride, size in sorted((st, s) for s, st in zip(t.shape, t.stride(), strict=True) if s != 1):
        if stride != expected:
            return False
        expected *= size
    return True


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
