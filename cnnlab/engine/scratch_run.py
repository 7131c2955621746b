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
from .config import TrainConfig
from .history import write_history
from .run import check_new_run_dir, default_run_dir, hold_out, load_split, write_json, write_run_files
from .setup import model_keywords

_SCHEDULES = {"cos": "cosine", "constant": "constant"}
# Features of the torch trainer the NumPy one lacks, with the value that means "not used".
_UNSUPPORTED = {
    "l1": 0.0, "l2": 0.0, "clip_norm": None, "clip_value": None, "label_smoothing": 0.0, "early_stopping": 0,
    "checkpoint_every": 0, "compile": False, "tensorboard": False, "diagnose": False, "amp": "off", "pretrain": "",
}  # fmt: skip


def train_scratch(config: TrainConfig, log: Callable[[str], None] = print):
    """Train `config` with the NumPy reference; returns a `RunResult` like the torch engine."""
    from ..scratch import build_scratch_model, fit, to_torch_state_dict
    from .export import export_safetensors_state
    from .trainer import RunResult

    for key, off in _UNSUPPORTED.items():
        if getattr(config, key) != off:
            raise ConfigError(f"--engine scratch does not support --{key.replace('_', '-')}; use the torch engine")
    if config.schedule not in _SCHEDULES:
        raise ConfigError(f"--engine scratch supports the schedules cos and constant, not {config.schedule!r}")
    if config.loss not in ("auto", "ce"):
        raise ConfigError("--engine scratch trains with softmax cross-entropy (--loss ce)")
    run_dir = Path(config.out or default_run_dir(config))
    check_new_run_dir(run_dir)  # before any work
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
