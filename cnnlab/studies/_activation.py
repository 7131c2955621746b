"""What the activation studies share: whole splits as the engine feeds them, each activation layer's output on a
fixed probe batch, test accuracy every few steps, and the ReLU family's initialization.

A unit is one output feature of a hidden layer of the MLP ((N, C) activations: dimension 1). On a probe batch a
unit is *dead* when its output is exactly 0 for every input (a ReLU whose pre-activation is ≤ 0 everywhere gets no
gradient through any of them) and *stuck* when its output is ≤ 0 for every input (the flat or shallow side of the
activation for all of them; for ReLU, stuck and dead are the same thing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..data import TensorDataset, make_loader
from ..engine import Callback, TrainState

RELU_FAMILY = ("relu", "leaky_relu", "elu")
SATURATING = ("sigmoid", "tanh")
_ACT_MODULES = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Sigmoid, nn.Tanh)  # what the MLP builds for those names


def init_for(act: str) -> str:
    """The initialization each activation expects: He (Kaiming, fan-in) for the ReLU family, Xavier (Glorot) for
    sigmoid and tanh, whose derivative at 0 is treated as the gain of a linear unit (Glorot & Bengio 2010)."""
    return "he" if act in RELU_FAMILY else "xavier"


def whole(data: TensorDataset, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` samples of `data` (all when None) normalized as the engine normalizes them: (n, C, H, W), (n,)."""
    part = data if n is None else data.subset(slice(0, n))
    loader = make_loader(part, len(part), shuffle=False, seed=0, augment=None, device="cpu")
    (batch,) = list(loader)
    return batch.inputs, batch.targets


@torch.no_grad()
def activation_outputs(model: nn.Module, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, output) of every activation module of `model` on the batch `x`, in forward order, in eval mode."""
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def hook(module, inputs, output):
        seen.append((inputs[0].detach().clone(), output.detach().clone()))  # clone: an in-place ReLU reuses memory

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _ACT_MODULES)]
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return seen


def unit_masks(outputs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(dead, stuck) boolean masks over all hidden units, concatenated layer after layer: (units,) each.

    A unit's output is NaN after an explosion: it then counts as neither (nothing is proven about it)."""
    dead, stuck = [], []
    for _, y in outputs:
        y = y.flatten(2).amax(2) if y.dim() > 2 else y  # (N, C, …) -> (N, C): a conv unit is its whole map
        finite = torch.isfinite(y).all(0)
        dead.append((y == 0).all(0) & finite)
        stuck.append((y <= 0).all(0) & finite)
    return torch.cat(dead), torch.cat(stuck)


@torch.no_grad()
def accuracy_on(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy on (x, y), already normalized, in eval mode."""
    was_training = model.training
    model.eval()
    correct = float((model(x).argmax(1) == y).float().mean())
    model.train(was_training)
    return correct


class AccuracyCurve(Callback):
    """Test accuracy before training and after every `every`-th optimizer step: `steps[i]`, `accuracy[i]`."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, every: int):
        self.x, self.y, self.every = x, y, every
        self.steps: list[int] = []
        self.accuracy: list[float] = []

    def on_train_start(self, state: TrainState) -> None:
        self._record(state)

    def on_step_end(self, state: TrainState) -> None:
        if state.step % self.every == 0:
            self._record(state)

    def _record(self, state: TrainState) -> None:
        self.steps.append(state.step)
        self.accuracy.append(accuracy_on(state.model, self.x, self.y))


def steps_to(steps: Sequence[int], accuracy: Sequence[float], target: float) -> int | None:
    """The first recorded step whose accuracy reaches `target`; None if none does."""
    for step, acc in zip(steps, accuracy, strict=True):
        if acc >= target:
            return step
    return None


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
