"""The trainer's callback protocol: callbacks see an explicit `TrainState`, never the trainer's internals.

Per optimizer step the trainer calls, in order:

    on_step_start  → forward, loss, backward → on_after_backward → clip, optimizer.step() → on_step_end

and around them on_train_start, on_epoch_end and on_train_end. A callback that needs a value (the gradients, the
weights before the update) reads it from `state.model` and `state.optimizer` at the right moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn


@dataclass
class TrainState:
    """What a callback may look at (and must not replace)."""

    model: nn.Module  # the bare model, not a DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed
    run_dir: Path | None = None  # where the run writes its files; None when nothing is written
    is_main: bool = True  # rank 0 of a distributed run: the only process that writes files or prints
    # Latest values: loss, lr, grad_norm after each step; train_*, val_* (and seconds) after each epoch.
    metrics: dict[str, float] = field(default_factory=dict)


class Callback:
    """Base class with no-op hooks; override the ones you need."""

    def on_train_start(self, state: TrainState) -> None: ...

    def on_step_start(self, state: TrainState) -> None: ...

    def on_after_backward(self, state: TrainState) -> None: ...

    def on_step_end(self, state: TrainState) -> None: ...

    def on_epoch_end(self, state: TrainState) -> None: ...

    def on_train_end(self, state: TrainState) -> None: ...
