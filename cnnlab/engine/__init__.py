"""Training: optimizers, schedules, penalties, clipping, checkpoints, logging and the training loop."""

from .callbacks import Callback, TrainState

__all__ = ["Callback", "TrainState"]
