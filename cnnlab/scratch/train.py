"""Training a scratch model: mini-batch gradient descent on softmax cross-entropy, nothing but NumPy in the step.

Batches of a `cnnlab.data.TensorDataset` come from `cnnlab.data.TensorLoader` (seeded order per epoch, normalized
with the training split's mean and std), so a scratch run and a PyTorch run with the same seed see the same batches
in the same order; an `ArrayDataset` (`cnnlab.scratch.data`) is batched in NumPy, so training needs no torch.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._divergence import DivergenceGuard
from ..errors import ConfigError, ShapeError, shape_str, unknown_name
from ._base import Layer, input_grad_off
from .data import ArrayDataset, ArrayLoader
from .losses import SoftmaxCrossEntropy
from .optim import Optimizer, create_optimizer

if TYPE_CHECKING:  # annotations only: a TensorDataset brings torch with it, an ArrayDataset does not
    from ..data import Augment, TensorDataset, TensorLoader


@dataclass(frozen=True)
class EpochStats:
    epoch: int  # 1-based
    train_loss: float  # mean cross-entropy over the epoch's batches, measured while training
    train_accuracy: float  # fraction correct over the epoch's batches, measured while training
    test_loss: float | None  # after the epoch, evaluation mode; None without test data
    test_accuracy: float | None
    seconds: float  # wall time of the epoch, evaluation included


@dataclass(frozen=True)
class ScratchResult:
    test_accuracy: float | None  # fraction in [0, 1] after the last epoch; None without test data
    test_loss: float | None
    history: tuple[EpochStats, ...]
    seconds: float  # wall time of the whole run
    config: dict[str, object]  # the hyperparameters, the seed and the model, to reproduce the run


def _dtype(model: Layer) -> np.dtype:
    return getattr(model, "dtype", np.dtype(np.float32))


def _check_data(model: Layer, data: ArrayDataset | TensorDataset) -> None:
    if data.multilabel:
        raise ConfigError(f"{data.name}: the scratch engine trains single-label classifiers (softmax cross-entropy)")
    expected = getattr(model, "input_size", None)
    if expected is not None and tuple(expected) != data.input_size:
        c, h, w = data.input_size
        raise ShapeError(
            f"the model was built for {shape_str(expected)} images but {data.name} holds {shape_str((c, h, w))} "
            f"images; build it with in_channels={c}, input_size={h if h == w else (h, w)}"
        )
    outputs = getattr(model, "num_classes", data.num_classes)
    if outputs != data.num_classes:
        raise ShapeError(
            f"the model has {outputs} outputs but {data.name} has {data.num_classes} classes; "
            f"build it with num_classes={data.num_classes}"
        )


class _TensorBatches:
    """A `cnnlab.data.TensorLoader`'s batches as NumPy arrays: (images as `dtype`, targets)."""

    def __init__(self, loader: TensorLoader, dtype: np.dtype):
        self.loader, self.dtype = loader, dtype

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for batch in self.loader:
            yield batch.inputs.numpy().astype(self.dtype, copy=False), batch.targets.numpy()


def batches(
    data: ArrayDataset | TensorDataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    augment: Augment | None = None,
    dtype=np.float32,
) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """A loader of normalized (images, targets) NumPy batches; each pass over it is the next epoch.

    A TensorDataset is batched by `cnnlab.data.TensorLoader` (the torch engine's batches), an ArrayDataset by
    `ArrayLoader`, which cannot augment (augmentations work on torch tensors).
    """
    if isinstance(data, ArrayDataset):
        if augment is not None:
            raise ConfigError(f"{data.name or 'an ArrayDataset'}: augmentation needs a cnnlab.data.TensorDataset")
        return ArrayLoader(data, batch_size, shuffle=shuffle, seed=seed, dtype=dtype)
    from ..data import TensorLoader  # a TensorDataset means torch is installed

    return _TensorBatches(TensorLoader(data, batch_size, shuffle=shuffle, seed=seed, augment=augment), dtype)


def evaluate(model: Layer, data: ArrayDataset | TensorDataset, *, batch_size: int = 512) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on `data` in evaluation mode, normalized like training data.

    Leaves the model in evaluation mode.
    """
    _check_data(model, data)
    model.eval()
    loss_fn, dtype = SoftmaxCrossEntropy(), _dtype(model)
    total_loss = correct = 0.0
    for x, targets in batches(data, batch_size, shuffle=False, dtype=dtype):
        logits = model.forward(x)
        total_loss += loss_fn.forward(logits, targets) * len(targets)
        correct += int((logits.argmax(axis=1) == targets).sum())
    return total_loss / len(data), correct / len(data)


SCHEDULES = ("cosine", "constant")


def learning_rate(schedule: str, lr: float, step: int, total_steps: int) -> float:
    """The learning rate of step `step` (0-based) of `total_steps`.

    'cosine' decays from `lr` to 0 along half a cosine (Loshchilov & Hutter, 2017); 'constant' keeps `lr`.
    """
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return 0.5 * lr * (1.0 + math.cos(math.pi * step / total_steps))
    raise unknown_name("learning-rate schedule", schedule, SCHEDULES)


def _train_epoch(
    model: Layer,
    loader: Iterable[tuple[np.ndarray, np.ndarray]],
    opt: Optimizer,
    lr_at: Callable[[], float],
    guard: DivergenceGuard,
    epoch: int,
) -> tuple[float, float]:
    """One pass over `loader`: forward, loss, backward, update per batch. Returns (mean loss, accuracy).

    `guard` stops the run before the update of a step whose loss is not finite or has diverged."""
    model.train()
    loss_fn = SoftmaxCrossEntropy()
    total_loss = correct = seen = 0
    with input_grad_off(model):  # the images need no gradient
        for i, (x, targets) in enumerate(loader):
            logits = model.forward(x)
            loss = loss_fn.forward(logits, targets)
            opt.lr = lr_at()
            guard.check(float(loss), step=(epoch - 1) * len(loader) + i + 1, epoch=epoch, lr=opt.lr)
            model.backward(loss_fn.backward())
            opt.step()
            total_loss += loss * len(targets)
            correct += int((logits.argmax(axis=1) == targets).sum())
            seen += len(targets)
    return total_loss / seen, correct / seen


def fit(
    model: Layer,
    train_data: ArrayDataset | TensorDataset,
    test_data: ArrayDataset | TensorDataset | None = None,
    *,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 0.05,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    schedule: str = "cosine",
    seed: int = 0,
    augment: Augment | None = None,
    log: Callable[[str], object] | None = print,
    divergence_guard: bool = True,
) -> ScratchResult:
    """Train `model` with softmax cross-entropy; evaluate on `test_data` after every epoch.

    The defaults train the scratch LeNet-5 (`build_scratch_model('lenet5', input_size=8)`) to about 98% test
    accuracy on the embedded digits in 30 epochs.

    Args:
        model: a scratch model, e.g. from `build_scratch_model`; trained in place.
        train_data, test_data: `cnnlab.scratch.data.ArrayDataset`s (NumPy) or `cnnlab.data.TensorDataset`s (the
            torch engine's batches); images are normalized with the dataset's mean and std.
        epochs: passes over the training set.
        batch_size: images per gradient step.
        lr: peak learning rate.
        optimizer: 'sgd' (heavy-ball momentum), 'nesterov', 'adam' or 'adamw'.
        momentum: of SGD (ignored by Adam).
        weight_decay: L2 penalty λ (decoupled for 'adamw').
        schedule: 'cosine' (decay to 0 over the run) or 'constant'.
        seed: seeds the batch order of each epoch (and the augmentation of each batch).
        augment: applied to each training batch of a TensorDataset before normalization (`TensorLoader`'s
            contract); an ArrayDataset takes none.
        log: receives one line per epoch; None for silence.
        divergence_guard: stop (`TrainingDiverged`) in the step whose loss passes 10,000 times the first step's
            (`cnnlab._divergence`); a NaN or infinite loss always stops the run.
    """
    if epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}")
    learning_rate(schedule, lr, 0, 1)  # an unknown schedule fails before any work
    _check_data(model, train_data)
    if test_data is not None:
        _check_data(model, test_data)
    config = {
        "model": getattr(model, "name", type(model).__name__),
        "model_config": dict(getattr(model, "config", {})),
        "data": train_data.name,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "schedule": schedule,
        "seed": seed,
        "augment": getattr(augment, "__name__", repr(augment)) if augment is not None else None,
        "dtype": str(_dtype(model)),
        "numpy": np.__version__,
    }
    opt = create_optimizer(optimizer, model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    loader = batches(train_data, batch_size, shuffle=True, seed=seed, augment=augment, dtype=_dtype(model))
    steps = itertools.count()
    total_steps = epochs * len(loader)

    def lr_at() -> float:
        return learning_rate(schedule, lr, next(steps), total_steps)

    guard = DivergenceGuard(enabled=divergence_guard, classes=train_data.num_classes)
    history: list[EpochStats] = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        train_loss, train_accuracy = _train_epoch(model, loader, opt, lr_at, guard, epoch)
        test_loss, test_accuracy = evaluate(model, test_data) if test_data is not None else (None, None)
        seconds = time.perf_counter() - epoch_start
        history.append(EpochStats(epoch, train_loss, train_accuracy, test_loss, test_accuracy, seconds))
        if log is not None:
            log(format_epoch(history[-1], epochs))
    final = history[-1]
    return ScratchResult(final.test_accuracy, final.test_loss, tuple(history), time.perf_counter() - start, config)


def format_epoch(stats: EpochStats, epochs: int) -> str:
    """'epoch  3/30  train loss 0.1234 acc 96.52%  test loss 0.0987 acc 97.22%  0.9s'."""
    line = f"epoch {stats.epoch:>{len(str(epochs))}}/{epochs}  train loss {stats.train_loss:.4f} "
    line += f"acc {stats.train_accuracy:.2%}"
    if stats.test_loss is not None:
        line += f"  test loss {stats.test_loss:.4f} acc {stats.test_accuracy:.2%}"
    return f"{line}  {stats.seconds:.1f}s"
