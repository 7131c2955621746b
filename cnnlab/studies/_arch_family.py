"""What the architecture studies share: how they train a small CNN on shapes, and the independent numbers their
competence thresholds rest on.

The studies of the FC head, the bottleneck, multi-label outputs and overfitting cures all train `small_cnn` on
procedural shapes with the optimizer of cnnlab's default recipe for that pair (cnnlab/engine/recipes.py): Adam at lr
3e-3 with cosine decay, batch 64, for enough epochs that the reference arm learns. They leave out the recipe's crops
and flips: at the quick budgets (20,000 samples or fewer) augmented nets stayed far below competence (85% instead of
the 93% an unaugmented net reached on the same images), and crops teach the translation invariance that pooling and
global averaging are studied for. Each study then changes one part of the net, never the training.
"""

from __future__ import annotations

from typing import Any

import torch

from ..data import TensorDataset
from ._common import accuracy

# The optimizer of small_cnn's default recipe on shapes (each study picks its own net): Adam, lr per step, batch in
# images, cosine decay to 0 over the run.
RECIPE: dict[str, Any] = {"optimizer": "adam", "lr": 3e-3, "batch_size": 64, "schedule": "cos"}
AUGMENT = "crop:2,flip"  # the recipe's augmentation: crops after 2 px of zero padding, horizontal flips

# Independent numbers behind the competence thresholds (docs/training.md, benchmarks/README.md); none depends on a
# study's budget.
RECIPE_32PX = (
    "small_cnn's default recipe (two convs per stage, Adam 3e-3, crops and flips, 12 epochs on 10,000 images) reaches "
    "89.8 / 94.4% on shapes of 32 px at difficulty 0.5 (seeds 0 / 1, docs/training.md)"
)
EASY_SHAPES = (
    "the small CNN reaches 99.9% on shapes at difficulty 0 (benchmarks/README.md, shapes_difficulty: 10 epochs on "
    "10,000 images)"
)


def fit_numbers(model: torch.nn.Module, train: TensorDataset, test_accuracy: float) -> dict[str, float]:
    """Train accuracy (evaluation mode, every training image), test accuracy and their gap."""
    train_acc = accuracy(model, train)
    return {"train_accuracy": train_acc, "test_accuracy": test_accuracy, "gap": train_acc - test_accuracy}


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
