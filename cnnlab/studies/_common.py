"""What the studies share: their data, a training run in memory through the engine, and per-step records."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..data import TensorDataset, load_dataset, make_loader
from ..engine import Callback, RunResult, TrainConfig, TrainState, train
from ..engine.distributed import World
from ..engine.evaluate import evaluate
from ._base import Context
from .cache import shared_numbers

MNIST_SPLIT = 8000  # full profile: MNIST t10k images [:8000] train, [8000:] test


@lru_cache(maxsize=4)
def _digits() -> tuple[TensorDataset, TensorDataset]:
    return load_dataset("digits", "train"), load_dataset("digits", "test")


@lru_cache(maxsize=2)
def _mnist(root: str) -> tuple[TensorDataset, TensorDataset]:
    data = load_dataset("mnist", "test", root=root)
    return data.subset(slice(None, MNIST_SPLIT), "mnist/test[:8000]"), data.subset(
        slice(MNIST_SPLIT, None), "mnist/test[8000:]"
    )


def digit_data(ctx: Context) -> tuple[TensorDataset, TensorDataset]:
    """(train, test) handwritten digits: the embedded 8×8 digits (1,442 / 355), or MNIST's t10k file split
    8,000 / 2,000 when `ctx.data_dir` names a folder holding it (the full profile with --data-dir)."""
    if ctx.data_dir:
        return _mnist(str(ctx.data_dir))
    return _digits()


@lru_cache(maxsize=8)
def _shapes(n_train: int, n_test: int, options: tuple[tuple[str, Any], ...]) -> tuple[TensorDataset, TensorDataset]:
    kw = dict(options, n_train=n_train, n_test=n_test)
    return load_dataset("shapes", "train", **kw), load_dataset("shapes", "test", **kw)


def shapes_data(n_train: int, n_test: int, **options: Any) -> tuple[TensorDataset, TensorDataset]:
    """(train, test) procedural shapes; `options` are the data set's (task, difficulty, image_size, seed …).
    The data seed is fixed by the study, not by the run's seed, so every seed of every arm sees the same images."""
    return _shapes(n_train, n_test, tuple(sorted(options.items())))


def fit(
    ctx: Context, seed: int, data: tuple[TensorDataset, TensorDataset], *, callbacks=(), **config: Any
) -> RunResult:
    """Train in memory through the engine (no run directory, no files, no progress bar); returns the result with
    the trained model. `config` holds TrainConfig fields; the validation hold-out is off unless asked for, and so is
    the divergence guard (studies push learning rates and initializations past stability on purpose; a NaN or
    infinite loss still stops a run)."""
    defaults: dict[str, Any] = {
        "val_fraction": 0.0, "progress": False, "channels_last": "off", "divergence_guard": False
    }  # fmt: skip
    cfg = replace(TrainConfig(), **{**defaults, **config, "seed": seed, "device": ctx.device})
    return train(cfg, data=data, in_memory=True, callbacks=callbacks, log=_quiet)


def _quiet(_message: str) -> None:
    pass


class StepRecorder(Callback):
    """Records the loss (and the gradient norm before clipping) of every optimizer step."""

    def __init__(self) -> None:
        self.loss: list[float] = []
        self.grad_norm: list[float] = []

    def on_step_end(self, state: TrainState) -> None:
        self.loss.append(state.metrics["loss"])
        self.grad_norm.append(state.metrics["grad_norm"])


def accuracy(model: torch.nn.Module, data: TensorDataset, batch: int = 512) -> float:
    """Top-1 accuracy of `model` on `data`, normalized as the engine normalizes it (the training statistics)."""
    loader = make_loader(data, batch, shuffle=False, seed=0, augment=None, device=next(model.parameters()).device)
    return evaluate(model, loader, loss="ce", world=World(), autocast=contextlib.nullcontext())["accuracy"]


def shared(
    ctx: Context, kind: str, config: dict[str, Any], seed: int, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The numbers of a training that several studies or arms run alike (a shared arm, a tuning run), computed once
    per study cache, and once per process without one.

    `config` must hold everything that determines the numbers (model, data, budget, the code's version for this
    kind of training) and nothing else: two calls with equal configs and seeds share one training. The returned
    dict gains 'shared_hit' (1 when read back, 0 when computed here), so a study's compute can be accounted for.
    """
    full = {**config, "device": ctx.device, "real_data": bool(ctx.data_dir)}
    key = (kind, seed, ctx.cache_dir, json.dumps(full, sort_keys=True, default=str))
    if key in _SHARED:
        return {**_SHARED[key], "shared_hit": 1}
    numbers, hit = shared_numbers(Path(ctx.cache_dir) if ctx.cache_dir else None, kind, full, seed, compute)
    _SHARED[key] = numbers
    return {**numbers, "shared_hit": int(hit)}


_SHARED: dict[tuple, dict[str, Any]] = {}  # this process's shared trainings (every cache, and none)
