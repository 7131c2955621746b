"""Losses: softmax cross-entropy (single-label), per-class sigmoid BCE (multi-label), MSE.

Softmax turns K scores into K probabilities that sum to 1 and the class with the largest is the prediction; per-class
logistic outputs (sigmoid on each score) decide each class on its own against a threshold, so an image can have
several labels. Losses here return the SUM over the batch (or the mean); the trainer divides by the global batch
size, which keeps data-parallel runs equal to single-process ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError, unknown_name

LOSSES = ("auto", "ce", "bce", "mse")


def resolve_loss(name: str, multilabel: bool, regression: bool = False) -> str:
    """'auto' → 'mse' for regression, 'bce' for multi-label data, 'ce' otherwise; checks the combination."""
    if name not in LOSSES:
        raise unknown_name("loss", name, LOSSES)
    if name == "auto":
        return "mse" if regression else "bce" if multilabel else "ce"
    if regression and name != "mse":
        raise ConfigError(f"regression data (a real-valued target per sample) needs --loss mse, not {name}")
    if name == "ce" and multilabel:
        raise ConfigError("softmax cross-entropy picks one class per image; multi-label data needs --loss bce")
    return name


def loss_sum(
    name: str, logits: torch.Tensor, targets: torch.Tensor, *, label_smoothing: float = 0.0, reduction: str = "sum"
) -> torch.Tensor:
    """Loss of a batch, summed over its samples (or their mean). `targets`: class ids (N,), 0/1 per class (N, K),
    or real values (N,) float for regression (then `logits` is (N, 1) and the loss is the squared error).

    Args:
        name: 'ce', 'bce' or 'mse' (MSE of softmax-free scores against one-hot or 0/1 targets).
        label_smoothing: ce only; the target puts 1 − ε on the class and ε/K on every class.
        reduction: 'sum', or 'mean' for the sum divided by N (torch's default reduction, in one operator).
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    logits = logits.float()
    if targets.dim() == 1 and targets.is_floating_point():  # regression: (N, 1) outputs against (N,) values
        return F.mse_loss(logits.view(-1), targets.float(), reduction=reduction)
    if name == "ce":
        return F.cross_entropy(logits, targets, reduction=reduction, label_smoothing=label_smoothing)
    dense = targets.float() if targets.dim() == 2 else F.one_hot(targets, logits.shape[1]).float()
    # Both: mean over the classes, then sum (or mean) over the samples; the mean over samples is torch's default
    # reduction over all elements.
    loss = F.binary_cross_entropy_with_logits if name == "bce" else F.mse_loss
    if reduction == "mean":
        return loss(logits, dense)
    return loss(logits, dense, reduction="sum") / logits.shape[1]


def correct_count(logits: torch.Tensor, targets: torch.Tensor, *, threshold: float = 0.5) -> torch.Tensor:
    """Correct predictions in the batch: argmax for class ids; every class right (exact match) for multi-label;
    none for regression, which has no accuracy."""
    if targets.dim() == 1 and targets.is_floating_point():
        return torch.zeros((), dtype=torch.int64, device=targets.device)
    if targets.dim() == 1:
        return (logits.argmax(dim=1) == targets).sum()
    predicted = torch.sigmoid(logits.float()) > threshold
    return (predicted == targets.bool()).all(dim=1).sum()


class CorrectCounter:
    """Correct predictions of many batches, counted together.

    `add` keeps a batch's (detached) outputs; `count` counts every kept batch with one `correct_count` and one host
    transfer, then drops them. A step that counts its own batch spends four more operators (argmax, compare, sum,
    transfer) after the backward pass, when their code and data are out of the caches: ~1% of a LeNet-5 step on a CPU.
    The counts are the same integers either way. The trainer counts every `every` batches, before its totals are
    read (end of epoch, checkpoint) and when the progress bar is redrawn.
    """

    def __init__(self, *, threshold: float = 0.5, every: int = 16, max_elements: int = 1 << 22):
        self.threshold, self.every, self.max_elements = threshold, every, max_elements
        self.waiting: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.elements = 0  # output elements kept (bounded, so large batches and many classes do not pile up)
        self.samples = 0  # samples kept

    def add(self, logits: torch.Tensor, targets: torch.Tensor) -> bool:
        """Keep one batch; True when `every` batches (or `max_elements` outputs) are waiting to be counted."""
        self.waiting.append((logits.detach(), targets))
        self.elements += logits.numel()
        self.samples += targets.shape[0]
        return len(self.waiting) >= self.every or self.elements >= self.max_elements

    def count(self) -> int:
        """Correct predictions among the waiting batches, which are then dropped."""
        if not self.waiting:
            return 0
        logits, targets = zip(*self.waiting, strict=True)
        self.waiting, self.elements, self.samples = [], 0, 0
        with torch.no_grad():
            return int(correct_count(torch.cat(logits), torch.cat(targets), threshold=self.threshold).item())
