"""Evaluation: summed loss and correct predictions over a loader, exact under data parallelism."""

from __future__ import annotations

import math
from contextlib import AbstractContextManager

import torch
from torch import nn

from ..data import StreamLoader, TensorLoader
from .distributed import World, all_reduce_sum
from .losses import correct_count, loss_sum


def main_logits(output: torch.Tensor | tuple) -> torch.Tensor:
    """The main logits of a model output (GoogLeNet with aux heads returns a tuple in training mode)."""
    return output[0] if isinstance(output, tuple) else output


def class_probabilities(logits: torch.Tensor, *, multilabel: bool) -> torch.Tensor:
    """A classifier's scores: softmax probabilities over the classes, or each class's own sigmoid (multi-label)."""
    return logits.sigmoid() if multilabel else logits.softmax(dim=1)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: TensorLoader | StreamLoader,
    *,
    loss: str,
    world: World,
    autocast: AbstractContextManager,
    memory_format: torch.memory_format = torch.contiguous_format,
    threshold: float = 0.5,
    keep: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> dict[str, float]:
    """Mean loss and accuracy of `model` over every sample of `loader`, each counted exactly once across ranks
    (the accuracy is NaN for regression data, which has none). `keep`, a list, receives this process's (logits,
    targets) per batch, on the CPU, in the loader's order."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, samples
    loader.epoch, loader.position = 0, 0
    regression = False
    for batch in loader:
        if batch.targets.shape[0] == 0:  # a rank's share of the last batch can be empty
            continue
        with autocast:
            logits = main_logits(model(batch.inputs.contiguous(memory_format=memory_format)))
        regression = batch.targets.dim() == 1 and batch.targets.is_floating_point()
        totals[0] += loss_sum(loss, logits, batch.targets).double()
        totals[1] += correct_count(logits, batch.targets, threshold=threshold).double()
        totals[2] += batch.targets.shape[0]
        if keep is not None:
            keep.append((logits.detach().float().cpu(), batch.targets.cpu()))
    all_reduce_sum(totals, world)
    model.train(was_training)
    loss_value, correct, n = totals.tolist()
    return {"loss": loss_value / n, "accuracy": math.nan if regression else correct / n}
