"""`RunResult`: what a training run returns, whichever engine trained it (torch or the NumPy reference)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn


@dataclass(frozen=True)
class RunResult:
    run_dir: Path | None  # None for an in-memory run
    test_loss: float
    test_accuracy: float
    best_epoch: int | None
    epochs: int  # epochs completed
    steps: int  # optimizer steps taken
    seconds: float  # wall time of this process's training (a resumed run counts only its own part)
    history: tuple[dict[str, Any], ...]
    model: nn.Module | None = field(default=None, repr=False, compare=False)  # the trained model (final weights)
    test_metrics: dict[str, float] = field(default_factory=dict)  # every test number: loss, accuracy or mAP …
