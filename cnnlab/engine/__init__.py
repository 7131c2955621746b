"""Training: optimizers, schedules, penalties, clipping, checkpoints, logging and the training loop."""

from .callbacks import Callback, TrainState
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .diagnose import DiagnosticsCallback
from .inference import evaluate_run, load_run
from .losses import loss_sum
from .optim import create_optimizer
from .pictures import compare_runs, plot_runs, run_pictures
from .result import RunResult
from .schedules import Schedule, create_schedule
from .trainer import Trainer, TrainingDiverged, train

__all__ = [
    "Callback",
    "CheckpointError",
    "DiagnosticsCallback",
    "RunResult",
    "Schedule",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "TrainingDiverged",
    "compare_runs",
    "create_optimizer",
    "create_schedule",
    "evaluate_run",
    "load_checkpoint",
    "load_run",
    "loss_sum",
    "plot_runs",
    "run_pictures",
    "save_checkpoint",
    "train",
]
