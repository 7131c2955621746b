"""What a "layer" is to the diagnostics, and the statistics read from one layer's output.

A layer is a module of the model that either

- owns trainable parameters itself (`named_parameters(recurse=False)`: Linear, Conv2d, BatchNorm, PReLU …; the
  `original0/1` tensors of a weight-norm parametrization count as the parametrized module's own). Its gradient
  norm, weight norm and update ratio are taken over all of those parameters together (weight and bias); or
- is an activation module (ReLU, sigmoid, …): it gets dead-unit, negative-region or saturation fractions.

Containers (Sequential, blocks) are not layers: their parameters are their children's. Every layer also gets the
mean and std of its output, when that output is one floating-point tensor. An activation applied as a function
(`F.relu(x)` inside `forward`) is invisible to module hooks; such a model gets no dead or saturated fractions.

A "unit" is a channel: dimension 1 of the output ((N, C) vectors, (N, C, H, W) feature maps); a unit of a conv
layer is dead when its whole feature map is zero for every image of the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

# Output exactly 0 on the negative side, so a unit can die: its gradient is 0 and its weights stop changing.
_RECTIFIERS = (nn.ReLU, nn.ReLU6)
# A non-zero negative side (Maas et al. 2013; Clevert et al. 2016): units cannot die, but can sit in that region.
_LEAKY = (nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU)
# Bounded outputs whose derivative goes to 0 away from the middle: they saturate.
_SATURATING = (nn.Sigmoid, nn.Tanh, nn.Hardsigmoid, nn.Hardtanh)
_OTHER = (nn.GELU, nn.SiLU, nn.Mish, nn.Softplus, nn.Softsign, nn.Hardswish, nn.LogSigmoid, nn.Tanhshrink)

RECTIFIER, LEAKY, SATURATING, ACTIVATION = "rectifier", "leaky", "saturating", "activation"


def activation_kind(module: nn.Module) -> str | None:
    """'rectifier', 'leaky', 'saturating', 'activation' (other known activations) or None (not an activation)."""
    if isinstance(module, _RECTIFIERS):  # before _SATURATING: ReLU6 subclasses Hardtanh
        return RECTIFIER
    if isinstance(module, _LEAKY):
        return LEAKY
    if isinstance(module, _SATURATING):
        return SATURATING
    if isinstance(module, _OTHER):
        return ACTIVATION
    return None


@dataclass
class Layer:
    """One watched module: its name, its own trainable parameters and its activation kind."""

    name: str
    module: nn.Module
    params: list[nn.Parameter] = field(default_factory=list)
    kind: str | None = None


def find_layers(model: nn.Module) -> list[Layer]:
    """The model's layers (see the module docstring) in registration order."""
    layers: dict[str, Layer] = {}
    for name, module in model.named_modules():
        owner = name
        if ".parametrizations." in f".{name}.":  # 'fc.parametrizations.weight' holds fc's weight-norm g and v
            owner = f".{name}".split(".parametrizations.")[0][1:]
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        kind = activation_kind(module)
        if not params and kind is None:
            continue
        layer = layers.setdefault(owner, Layer(owner, model.get_submodule(owner)))
        layer.params.extend(params)
        layer.kind = layer.kind or activation_kind(layer.module)
    return list(layers.values())


def saturated(module: nn.Module, y: torch.Tensor, threshold: float) -> torch.Tensor:
    """Boolean mask of outputs where the activation's derivative is below `threshold` × its maximum.

    The derivative is read from the output y: sigmoid σ' = y(1 − y), maximum 1/4, so σ' < t/4 where
    |y − 1/2| > √(1 − t)/2; tanh' = 1 − y², maximum 1, so tanh' < t where |y| > √(1 − t). Hard sigmoid and hard
    tanh are flat (derivative 0) exactly where they are clipped. (Comparisons of |·| are one pass cheaper.)
    """
    if isinstance(module, nn.Sigmoid):
        return (y - 0.5).abs_() > math.sqrt(1 - threshold) / 2
    if isinstance(module, nn.Tanh):
        return y.abs() > math.sqrt(1 - threshold)
    if isinstance(module, nn.Hardsigmoid):
        return (y <= 0) | (y >= 1)
    assert isinstance(module, nn.Hardtanh), module
    return (y <= module.min_val) | (y >= module.max_val)


class OutputStats:
    """Statistics of one layer's outputs, accumulated over the forward calls of one optimizer step.

    Several calls happen under gradient accumulation (micro-batches: the same units, so a unit is dead only when
    it is zero in every micro-batch) and when a module is reused inside `forward` (outputs of other shapes are
    counted as units of their own). Everything stays a tensor on the model's device: no host synchronization.
    Σ y and ‖y‖ are float32 reductions; the std is formed on the host in float64 as √(E[y²] − E[y]²), whose
    relative error is about 1e-6 · E[y²] / var (a second pass over y − mean costs more than all the other
    statistics together on CPU).
    """

    def __init__(self, module: nn.Module, kind: str | None, saturation_threshold: float):
        self.module = module
        self.kind = kind
        self.threshold = saturation_threshold
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new sampled step begins."""
        self.count = 0  # outputs seen
        self.totals: list[torch.Tensor] = []  # Σ y, one per forward call
        self.norms: list[torch.Tensor] = []  # √(Σ y²), one per forward call
        self.dead: dict[tuple[int, ...], torch.Tensor] = {}  # unit shape -> units 0 for every sample so far
        self.negative: dict[tuple[int, ...], torch.Tensor] = {}  # unit shape -> units negative for every sample
        self.saturated: torch.Tensor | None = None  # number of saturated outputs

    def add(self, y: torch.Tensor) -> None:
        """Fold one output tensor (N, C, …) into the statistics."""
        y = y.detach().float()
        if y.numel() == 0:
            return
        self.totals.append(y.sum())
        self.norms.append(torch.linalg.vector_norm(y))
        self.count += y.numel()
        if self.kind in (RECTIFIER, LEAKY) and y.dim() >= 2:
            dims = (0, *range(2, y.dim()))  # every dimension but the unit (channel) dimension 1
            key = tuple(y.shape[1:2])
            # Dead means provably 0 everywhere: a NaN output (after an explosion) counts as neither dead nor negative.
            high = y.amax(dim=dims)
            dead = high == 0 if self.kind == RECTIFIER else (high == 0) & (y.amin(dim=dims) == 0)  # ReLU's y ≥ 0
            self.dead[key] = dead & self.dead[key] if key in self.dead else dead
            if self.kind == LEAKY:
                negative = high < 0
                self.negative[key] = negative & self.negative[key] if key in self.negative else negative
        if self.kind == SATURATING:
            count = torch.count_nonzero(saturated(self.module, y, self.threshold))
            self.saturated = count if self.saturated is None else self.saturated + count

    def result(self) -> tuple[list[torch.Tensor | None], list[int | None]]:
        """Counts and sums, and what to divide each by on the host; None where not measured.

        (Σ y, √(Σ y²), dead units, negative units, saturated outputs) over (outputs, outputs, units, units,
        outputs); the host turns the first two into the mean and the std.
        """
        if not self.totals:
            return [None] * 5, [None] * 5
        if len(self.totals) == 1:
            total, norm = self.totals[0], self.norms[0]
        else:
            total, norm = torch.stack(self.totals).sum(), torch.linalg.vector_norm(torch.stack(self.norms))
        sums: list[torch.Tensor | None] = [total, norm, None, None, None]
        divisors: list[int | None] = [self.count, self.count, None, None, None]
        if self.dead:
            sums[2] = sum(torch.count_nonzero(mask) for mask in self.dead.values())
            divisors[2] = sum(mask.numel() for mask in self.dead.values())
        if self.negative:
            sums[3] = sum(torch.count_nonzero(mask) for mask in self.negative.values())
            divisors[3] = sum(mask.numel() for mask in self.negative.values())
        if self.saturated is not None:
            sums[4], divisors[4] = self.saturated, self.count
        return sums, divisors
