"""What several studies share: how a claim made of several parts is judged, and a model's features and logits on a
data set (the architecture studies switch `small_cnn`'s downsampling, units and head one at a time)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..data import TensorDataset, make_loader
from ..models._base import Classifier
from .stats import NEGATIVE, NEGLIGIBLE, POSITIVE

# How a claim made of several parts is judged: each part holds (its effect is positive), fails (negligible or
# negative), or is undecided (unclear at this budget).
HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"


def part(direction: str, *, holds_if: tuple[str, ...] = (POSITIVE,)) -> str:
    """The state of one part of a claim from the direction of its effect; `holds_if` lists the directions that
    count as the part holding (e.g. positive or negligible for 'no worse')."""
    if direction in holds_if:
        return HOLDS
    if direction in (POSITIVE, NEGATIVE, NEGLIGIBLE):
        return FAILS
    return UNDECIDED


def combine(parts: Sequence[str]) -> str:
    """Verdict kind of a claim from its parts' states.

    Supported when every part holds, refuted when every part fails, nuanced when at least one holds and one fails
    (whatever the undecided ones turn out to be), inconclusive otherwise: an undecided part could still tip the
    verdict, so a quick run never says what a longer one might contradict.
    """
    if all(p == HOLDS for p in parts):
        return "supported"
    if all(p == FAILS for p in parts):
        return "refuted"
    if HOLDS in parts and FAILS in parts:
        return "nuanced"
    return "inconclusive"


@torch.no_grad()
def outputs(
    model: Classifier,
    data: TensorDataset,
    *,
    transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    batch: int = 500,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, logits) of `model` in eval mode on every image of `data`, on the CPU.

    Images are normalized as the engine normalizes them (the training statistics), after `transform`, which maps a
    raw (B, C, H, W) batch in [0, 1] to another, as an augmentation does. Features are the head's input flattened:
    (N, C, h, w) -> (N, C·h·w).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    loader = make_loader(data, batch, shuffle=False, seed=0, augment=transform, device=device)
    feats, logits = [], []
    for b in loader:
        f = model.forward_features(b.inputs)
        logits.append(model.forward_head(f).float().cpu())
        feats.append(f.flatten(1).float().cpu())
    model.train(was_training)
    return torch.cat(feats), torch.cat(logits)
