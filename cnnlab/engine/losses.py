"""Losses: softmax cross-entropy (single-label), per-class sigmoid BCE (multi-label), MSE.

Softmax turns K scores into K probabilities that sum to 1 and the class with the largest is the prediction; per-class
logistic outputs (sigmoid on each score) decide each class on its own against a threshold, so an image can have
several labels. Losses here return the SUM over the batch; the trainer divides by the global batch size, which
keeps data-parallel runs exactly equal to single-process ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError, unknown_name

LOSSES = ("auto", "ce", "bce", "mse")


def resolve_loss(name: str, multilabel: bool) -> str:
    """'auto' → 'bce' for multi-label data, 'ce' otherwise; checks the combination."""
    if name not in LOSSES:
        raise unknown_name("loss", name, LOSSES)
    if name == "auto":
        return "bce" if multilabel else "ce"
    if name == "ce" and multilabel:
        raise ConfigError("softmax cross-entropy picks one class per image; multi-label data needs --loss bce")
    return name


def loss_sum(name: str, logits: torch.Tensor, targets: torch.Tensor, *, label_smoothing: float = 0.0) -> torch.Tensor:
    """Summed loss of a batch. `targets`: class ids (N,) or 0/1 per class (N, K).

    Args:
        name: 'ce', 'bce' or 'mse' (MSE of softmax-free scores against one-hot or 0/1 targets).
        label_smoothing: ce only; the target puts 1 − ε on the class and ε/K on every class.
    """
    logits = logits.float()
    if name == "ce":
        return F.cross_entropy(logits, targets, reduction="sum", label_smoothing=label_smoothing)
    dense = targets.float() if targets.dim() == 2 else F.one_hot(targets, logits.shape[1]).float()
    # Both: mean over the classes, sum over the samples (so that the trainer's mean over samples equals torch's
    # default reduction over all elements).
    if name == "bce":
        return F.binary_cross_entropy_with_logits(logits, dense, reduction="sum") / logits.shape[1]
    return F.mse_loss(logits, dense, reduction="sum") / logits.shape[1]


def correct_count(logits: torch.Tensor, targets: torch.Tensor, *, threshold: float = 0.5) -> torch.Tensor:
    """Correct predictions in the batch: argmax for class ids; every class right (exact match) for multi-label."""
    if targets.dim() == 1:
        return (logits.argmax(dim=1) == targets).sum()
    predicted = torch.sigmoid(logits.float()) > threshold
    return (predicted == targets.bool()).all(dim=1).sum()
