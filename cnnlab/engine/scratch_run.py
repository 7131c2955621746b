"""`cnnlab train --engine scratch`: the same configuration trained by the NumPy reference (`cnnlab.scratch`).

It trains on the same split as the torch engine (the validation part is held out but, having no early stopping
or best-epoch selection, the scratch trainer does not use it) and writes the same run files, without checkpoints:
config.json, run.json, history.jsonl/csv, metrics.json and model.safetensors — weights that load into the PyTorch
twin `cnnlab.create(model, ...)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import torch

from ..data import build_augment
from ..errors import ConfigError
from ..scratch import build_scratch_model, fit
from ..scratch.torch_bridge import to_torch_state_dict
from .config import TrainConfig
from .export import export_safetensors_state
from .history import write_history
from .pictures import draw_run, view_run
from .result import RunResult
from .run import default_run_dir, hold_out, load_split, lock_run_dir, write_json, write_run_files
from .setup import model_keywords

_SCHEDULES = {"cos": "cosine", "constant": "constant"}
# Features of the torch trainer the NumPy one lacks, with the value that means "not used".
_UNSUPPORTED = {
    "l1": 0.0, "l2": 0.0, "clip_norm": None, "clip_value": None, "label_smoothing": 0.0, "early_stopping": 0,
    "checkpoint_every": 0, "compile": False, "tensorboard": False, "diagnose": False, "amp": "off", "pretrain": "",
}  # fmt: skip


def train_scratch(config: TrainConfig, log: Callable[[str], None] = print) -> RunResult:
    """Train `config` with the NumPy reference; returns a `RunResult` like the torch engine."""
    for key, off in _UNSUPPORTED.items():
        if getattr(config, key) != off:
            raise ConfigError(f"--engine scratch does not support --{key.replace('_', '-')}; use the torch engine")
    if config.schedule not in _SCHEDULES:
        raise ConfigError(f"--engine scratch supports the schedules cos and constant, not {config.schedule!r}")
    if config.loss not in ("auto", "ce"):
        raise ConfigError("--engine scratch trains with softmax cross-entropy (--loss ce)")
    run_dir = Path(config.out or default_run_dir(config))
    lock = lock_run_dir(run_dir, new=True)  # before any work; one process at a time writes a run folder
    try:
        return _train(config, run_dir, log)
    except BaseException:
        lock.release(discard=True)  # a setup that failed leaves no empty folder behind
        raise
    finally:
        lock.release()


def _train(config: TrainConfig, run_dir: Path, log: Callable[[str], None]) -> RunResult:
    train_full = load_split(config, config.train_split)
    if train_full.regression or train_full.multilabel:
        raise ConfigError(f"--engine scratch trains single-label classifiers; {train_full.name} needs the torch engine")
    train_data, _ = hold_out(train_full, config.val_fraction, config.seed)
    test_data = load_split(config, config.test_split)
    kwargs = model_keywords(config, train_full.num_classes, train_full.input_size)
    model = build_scratch_model(config.model, seed=config.seed, **kwargs)
    optimizer = "nesterov" if config.optimizer == "sgd" and config.nesterov else config.optimizer
    batch_size = len(train_data) if config.batch_size == "full" else config.batch_size
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_files(run_dir, config, torch.device("cpu"), 1)
    result = fit(
        model,
        train_data,
        test_data,
        epochs=config.epochs,
        batch_size=batch_size,
        lr=config.lr,
        optimizer=optimizer,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        schedule=_SCHEDULES[config.schedule],
        seed=config.seed,
        augment=build_augment(config.augment, input_size=train_full.input_size, mean=train_full.mean),
        log=log,
        divergence_guard=config.divergence_guard,
    )
    history = tuple(dataclasses.asdict(row) for row in result.history)
    write_history(run_dir, list(history))
    export_safetensors_state(to_torch_state_dict(model), run_dir / "model.safetensors")
    steps_per_epoch = -(-len(train_data) // batch_size)
    metrics = {
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "engine": "scratch",
        "epochs": config.epochs,
        "steps": config.epochs * steps_per_epoch,
        "train_seconds": result.seconds,
    }
    write_json(run_dir / "metrics.json", metrics)
    if config.plots:  # drawn with the exported weights in the torch model, as eval and predict use them
        draw_run(view_run(run_dir), run_dir)
    return RunResult(
        run_dir=run_dir,
        test_loss=result.test_loss,
        test_accuracy=result.test_accuracy,
        best_epoch=None,
        epochs=config.epochs,
        steps=metrics["steps"],
        seconds=result.seconds,
        history=history,
    )
