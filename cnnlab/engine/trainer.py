"""The training loop: one `train(config)` call from data to a run directory with results.

Exact resume: the checkpoint holds the model, optimizer, grad scaler, epoch and step, the loader's position, the
partial epoch's running totals, the history and every random state. The learning rate is a function of the step and
the data order and augmentation are functions of (seed, epoch, batch), so a run resumed from any checkpoint replays
the same arithmetic as one that never stopped: on CPU its weights end bit-identical.
"""

from __future__ import annotations

import errno
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._divergence import DivergenceGuard
from .._io import remove_stale_temporaries
from .._painter import Painter
from ..data import TensorDataset, build_augment, build_box_augment, make_loader
from ..errors import ConfigError, RunInterrupted, RunWriteError, TrainingDiverged
from .callbacks import Callback, TrainState
from .checkpoint import CheckpointWriter, load_training_checkpoint, rng_state, set_rng_state, snapshot
from .clipping import GradientBuffer, largest_gradient, make_clip
from .config import TrainConfig, from_mapping, validate
from .diagnose import DiagnosticsCallback
from .distributed import all_reduce_sum, broadcast_flag, close_world, gather_objects, init_world
from .export import export_safetensors
from .history import HistoryWriter, Progress, TensorBoardLogger
from .optim import create_optimizer
from .penalties import l1_penalty, l2_penalty, penalized_parameters
from .pretrain import parse_pretrain, pretrain_layerwise
from .result import RunResult
from .run import (
    default_run_dir,
    hold_out,
    interruption,
    load_split,
    lock_run_dir,
    read_run_config,
    restore_run_config,
    write_json,
    write_run_files,
)
from .schedules import create_schedule
from .scratch_run import train_scratch
from .setup import autocast_for, build_model, resolve_device, seed_everything, speed_settings
from .tasks import make_task


def host_values(scalars: list[torch.Tensor], *, one_transfer: bool) -> list[float]:
    """The values of 0-d float tensors on the host: stacked into one transfer (one device sync) for a GPU, or one
    `.item()` each on the CPU, where there is no sync to save and `.item()` is the cheaper of the two."""
    if one_transfer:
        return torch.stack([t.detach() for t in scalars]).tolist()
    return [t.item() for t in scalars]


@dataclass
class EpochTotals:
    """The running sums of the epoch so far, over this process's samples (summed over processes at its end)."""

    data_loss: float = 0.0  # Σ of the data loss over the samples (batch mean × batch size)
    penalty: float = 0.0  # Σ of the L1/L2 penalty, once per sample
    correct: float = 0.0  # correct predictions counted so far (the task counts a few batches at a time)
    samples: float = 0.0  # samples stepped on

    def as_list(self) -> list[float]:
        """[data_loss, penalty, correct, samples]: the checkpoint's form, and what processes sum."""
        return [self.data_loss, self.penalty, self.correct, self.samples]

    @classmethod
    def from_list(cls, values: Sequence[float]) -> EpochTotals:
        return cls(*(float(v) for v in values))


class Trainer:
    """Set up from a config (or a run directory to resume), then `fit()`.

    With `data=(train, test)` the trainer takes those datasets instead of loading `config.data`; with `in_memory`
    it writes nothing (no run directory, checkpoints, history files or exported weights), for the many small runs
    of a study, and the result carries the trained model.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        resume: Path | None = None,
        callbacks: Sequence[Callback] = (),
        log: Callable[[str], None] = print,
        data: tuple[TensorDataset, TensorDataset] | None = None,
        in_memory: bool = False,
    ):
        resume = Path(resume) if resume is not None else None
        if in_memory and resume is not None:
            raise ConfigError("an in-memory run writes no checkpoints, so there is nothing to resume")
        self.config = config
        self.callbacks = list(callbacks)
        self._join_world(log)
        self.writes = self.world.is_main and not in_memory  # this process writes the run's files
        self.run_dir = None if in_memory else resume if resume else Path(config.out or default_run_dir(config))
        # Before any work: nothing is loaded for a run that cannot be written, and one process at a time writes it.
        self.lock = lock_run_dir(self.run_dir, new=resume is None) if self.writes else None
        try:
            last = resume / "checkpoints" / "last.pt" if resume else None
            # Loaded on the CPU: load_state_dict moves each tensor to its parameter's device, random states stay.
            checkpoint = load_training_checkpoint(last) if last is not None and last.exists() else None
            train_full = self._load_data(data)
            self._build_model(train_full, pretrain=checkpoint is None)
            self._build_loaders(train_full)
            self._build_optimizer()
            self._wrap_model()
            self._init_progress()
            self._open_run(checkpoint, resumed=resume is not None)
        except BaseException:
            self.release(discard=True)
            raise

    # ----- setup, in order
    def _join_world(self, log: Callable[[str], None]) -> None:
        """The device, and the process group under torchrun; only rank 0 logs."""
        self.device = resolve_device(self.config.device, 0)
        self.world = init_world(self.device.type)
        self.device = resolve_device(self.config.device, self.world.local_rank)
        self.log = log if self.world.is_main else (lambda _msg: None)

    def _load_data(self, data: tuple[TensorDataset, TensorDataset] | None) -> TensorDataset:
        """Seed everything, then the training split (with its validation part held out) and the test split;
        returns the whole training split, whose classes and statistics the model and augmentation use."""
        config = self.config
        seed_everything(config.seed)
        if data is not None:
            train_full, self.test_data = data
        else:
            train_full = load_split(config, config.train_split)
            self.test_data = load_split(config, config.test_split)
        self.train_data, self.val_data = hold_out(train_full, config.val_fraction, config.seed)
        if self.test_data.num_classes != train_full.num_classes:
            raise ConfigError(f"{config.train_split} and {config.test_split} have different classes")
        return train_full

    def _build_model(self, train_full: TensorDataset, *, pretrain: bool) -> None:
        """The model on its device, its task (loss and metrics), the divergence guard and mixed precision."""
        config = self.config
        self.model = build_model(config, train_full.num_classes, train_full.input_size)
        self.task = make_task(config, train_full, self.model, self.world)
        softmax = getattr(self.task, "loss_name", None) == "ce"  # whose untrained loss is about log K
        self.guard = DivergenceGuard(
            enabled=config.divergence_guard,
            classes=train_full.num_classes if softmax else None,
            cure="lower --lr, clip gradients (--clip-norm 1) or add normalization",
        )
        if self.world.size > 1:  # the same weights everywhere (DDP broadcasts them too); dropout differs by rank
            torch.manual_seed(config.seed * 1000 + self.world.rank + 1)

        self.memory_format = speed_settings(self.model, config)
        self.model.to(self.device, memory_format=self.memory_format)
        pretrain_epochs = parse_pretrain(config.pretrain)
        if pretrain_epochs and pretrain:  # a resumed run restores the pretrained and tuned weights
            pretrain_layerwise(self.model, self.train_data, epochs=pretrain_epochs, seed=config.seed,
                               device=self.device, log=self.log)  # fmt: skip
        self.autocast, self.amp = autocast_for(config.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == "fp16" else None

    def _build_loaders(self, train_full: TensorDataset) -> None:
        """The training loader (seeded order and augmentation, this process's share) and the evaluation loaders."""
        config = self.config
        batch_size = len(self.train_data) if config.batch_size == "full" else config.batch_size
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer or 'full', got {config.batch_size!r}")
        if config.batch_size == "full":  # full-batch gradient descent must split over processes too
            batch_size = -(-batch_size // self.world.size) * self.world.size
        build = build_box_augment if self.task.name == "detection" else build_augment  # boxes move with pixels
        augment = build(config.augment, input_size=train_full.input_size, mean=train_full.mean)
        share = {"rank": self.world.rank, "world_size": self.world.size, "device": self.device}
        self.train_loader = make_loader(
            self.train_data, batch_size, shuffle=True, seed=config.seed, augment=augment, **share
        )
        eval_batch = max(256, batch_size) // self.world.size * self.world.size
        self.eval_loaders = {
            split: make_loader(data, eval_batch, shuffle=False, seed=0, augment=None, **share)
            for split, data in (("val", self.val_data), ("test", self.test_data))
            if data is not None
        }

    def _build_optimizer(self) -> None:
        """The optimizer, the learning-rate schedule (a function of the step), penalties and gradient clipping."""
        config = self.config
        if config.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {config.epochs}")
        steps_per_epoch = len(self.train_loader)
        self.total_steps = config.epochs * steps_per_epoch
        self.optimizer = create_optimizer(
            self.model.parameters(),
            config.optimizer,
            lr=config.lr,
            momentum=config.momentum if config.optimizer == "sgd" else 0.0,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
        )
        self.schedule = create_schedule(
            config.schedule,
            total_steps=self.total_steps,
            warmup_steps=round(config.warmup * steps_per_epoch),
            step_size=max(1, round(config.step_size * steps_per_epoch)),
            milestones=[round(m * steps_per_epoch) for m in config.milestones],
            gamma=config.gamma,
            min_factor=config.min_lr / config.lr,
        )
        self.penalized = penalized_parameters(self.model) if (config.l1 or config.l2) else []
        self.params = [p for p in self.model.parameters() if p.requires_grad]  # walked once, not every step
        self.grad_buffer = GradientBuffer(self.params) if GradientBuffer.supports(self.params) else None
        self.clip = make_clip(config, self.grad_buffer if self.grad_buffer is not None else self.params)

    def _wrap_model(self) -> None:
        """What the forward pass runs: the model, wrapped for data parallelism and compiled when asked for."""
        self.forward_model: nn.Module = self.model
        if self.world.size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if self.config.compile:
            self.forward_model = torch.compile(self.forward_model)

    def _init_progress(self) -> None:
        """The run's progress as a fresh run starts it: step 0, no history, no best epoch, empty running totals."""
        self.state = TrainState(self.model, self.optimizer, is_main=self.world.is_main)
        self.writer = CheckpointWriter()
        self.saved_at = 0.0  # when this process last wrote last.pt at an epoch's end (0: not yet)
        self.saved_step: int | None = None  # the step of the state last.pt holds (None: no last.pt yet)
        self.pending_best: dict[str, Any] | None = None
        self.painter: Painter | None = None  # fit() starts one when the run draws its pictures
        self.rehearsed = False  # the painter has drawn the run's kinds of figure once (_rehearse)
        self.history: list[dict[str, Any]] = []
        self.monitor = f"val_{self.task.monitor}"  # the validation number that picks the best epoch
        self.best: dict[str, Any] = {"epoch": None}  # and {monitor: its best value} once an epoch improved it
        self.bad_epochs = 0
        self.epoch_totals = EpochTotals()

    def _open_run(self, checkpoint: dict[str, Any] | None, *, resumed: bool) -> None:
        """Restore the checkpoint, or write a new run's config.json and run.json; then the history files and the
        callbacks that write or print."""
        config = self.config
        if resumed and self.world.is_main:
            remove_stale_temporaries(self.run_dir)
        if checkpoint is not None:
            self._restore(checkpoint)
        elif self.writes:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_run_files(self.run_dir, config, self.device, self.world.size)
        self.state.run_dir = self.run_dir
        self.history_files = HistoryWriter(self.run_dir) if self.writes else None
        if config.tensorboard and self.writes:
            self.callbacks.append(TensorBoardLogger(self.run_dir / "tensorboard"))
        if config.diagnose:  # a resumed run's diagnostics cover the part it trains itself
            self.callbacks.append(DiagnosticsCallback(every=config.diagnose_every, out=self.log))

    def release(self, *, discard: bool = False) -> None:
        """Let other processes write the run directory (the lock also ends with this process). `discard` removes
        a new run folder that setup left holding nothing."""
        if self.lock is not None:
            self.lock.release(discard=discard)

    # ----- checkpoints
    def _checkpoint_state(self) -> dict[str, Any]:
        self._count_correct()
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "epoch": self.state.epoch,
            "step": self.state.step,
            "loader": self.train_loader.state_dict(),
            "epoch_totals": self.epoch_totals.as_list(),
            "history": self.history,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
            "rng": gather_objects(rng_state(), self.world),
            "world_size": self.world.size,
            "config": self.config.to_dict(),
            "loss_reference": self.guard.reference,
        }

    def _save(self, name: str, held: dict[str, Any] | None = None) -> None:
        """Checkpoint the current state, or `held`, a snapshot taken earlier (written as it is)."""
        if self.run_dir is None:  # in memory: nothing is written
            return
        state = self._checkpoint_state() if held is None else held  # every rank joins the gather of random states
        if self.world.is_main:
            self.writer.save(self.run_dir / "checkpoints" / name, state, copy=held is None)
            if name == "last.pt":
                self.saved_step = state["step"]

    def _restore(self, ckpt: dict[str, Any]) -> None:
        if ckpt["world_size"] != self.world.size:
            raise ConfigError(f"the run was checkpointed with {ckpt['world_size']} process(es); resume it with as many")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scaler is not None and ckpt["scaler"] is not None:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state.epoch, self.state.step = ckpt["epoch"], ckpt["step"]
        self.saved_step = ckpt["step"]
        self.train_loader.load_state_dict(ckpt["loader"])
        self.epoch_totals = EpochTotals.from_list(ckpt["epoch_totals"])
        self.history, self.best, self.bad_epochs = list(ckpt["history"]), ckpt["best"], ckpt["bad_epochs"]
        # checkpoints written before the divergence guard hold no reference: the first epoch's loss stands in
        first = self.history[0]["train_loss"] if self.history else None
        self.guard.reference = ckpt.get("loss_reference", first)
        set_rng_state(ckpt["rng"][self.world.rank])

    # ----- the loop
    def _emit(self, hook: str) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self.state)

    def _step(self, batch) -> None:
        config, state = self.config, self.state
        self._emit("on_step_start")
        for group in self.optimizer.param_groups:
            group["lr"] = config.lr * self.schedule(state.step)
        with self.autocast:
            output = self.forward_model(batch.inputs.contiguous(memory_format=self.memory_format))
        # The loss summed over the global batch and divided by its size, times the world size that DDP's gradient
        # averaging divides by again: each process divides its sum by `share` = global batch / world size, which
        # is its batch mean (one operator) when the processes hold equal shares.
        n, global_size = batch.inputs.shape[0], batch.global_size
        share = global_size / self.world.size
        reduction = "mean" if n * self.world.size == global_size else "sum"
        data_loss = self.task.data_loss(output, batch, reduction)
        if reduction == "sum":
            data_loss = data_loss / share
        penalty = self._penalty()
        loss = data_loss if penalty is None else data_loss + penalty
        if self.grad_buffer is not None:
            self.grad_buffer.zero_()
        else:
            self.optimizer.zero_grad(set_to_none=True)
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        self._emit("on_after_backward")
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        grad_norm = self.clip()
        parts = [loss, grad_norm] + ([data_loss, penalty] if penalty is not None else [])
        numbers = host_values(parts, one_transfer=self.device.type != "cpu")
        loss_value, norm_value = numbers[:2]
        data_value, penalty_value = numbers[2:] if penalty is not None else (loss_value, 0.0)
        self._check_divergence(loss_value, norm_value)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        state.step += 1
        totals = self.epoch_totals
        totals.data_loss += data_value * share
        totals.penalty += penalty_value * n
        totals.samples += n
        if self.task.observe(output, batch):
            self._count_correct()
        state.metrics.update(loss=loss_value, grad_norm=norm_value, lr=self.optimizer.param_groups[0]["lr"])
        self._emit("on_step_end")

    def _check_divergence(self, loss: float, grad_norm: float) -> None:
        """Stop before the update when the loss or gradient is not finite or the loss passed the guard's limit
        (`cnnlab._divergence`); under data parallelism every process stops in the same step."""
        state = self.state
        where = {"step": state.step + 1, "epoch": state.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
        detail = lambda: f"largest gradient: {largest_gradient(self.model)}"  # noqa: E731
        try:
            if self.scaler is None or math.isfinite(loss):  # an fp16 grad scaler skips non-finite steps itself
                finite = math.isfinite(grad_norm) or self.scaler is not None
                self.guard.check(loss, gradient_finite=finite, detail=detail, **where)
        except TrainingDiverged:
            broadcast_flag(True, self.world, self.device)
            raise
        if broadcast_flag(False, self.world, self.device):
            raise TrainingDiverged(f"step {where['step']} (epoch {where['epoch']}): training diverged in another "
                                   "process (its rank prints why)")  # fmt: skip

    def _count_correct(self) -> None:
        self.epoch_totals.correct += self.task.count()

    def running_accuracy(self) -> float:
        """Training accuracy of the epoch so far, over the batches counted yet (NaN before the first count)."""
        counted = self.epoch_totals.samples - self.task.waiting
        return self.epoch_totals.correct / counted if counted else math.nan

    def _progress_values(self) -> dict[str, float]:
        self._count_correct()  # asked for only when the bar is redrawn (twice a second): the accuracy is up to date
        metrics = self.state.metrics
        if self.task.running is None:
            return {"loss": metrics["loss"], "lr": metrics["lr"]}
        return {"loss": metrics["loss"], "acc": self.running_accuracy(), "lr": metrics["lr"]}

    def _penalty(self) -> torch.Tensor | None:
        """λ₁·Σ|w| + λ₂·½Σw² over conv and FC weights, or None without penalties."""
        config, penalty = self.config, None
        if config.l1:
            penalty = config.l1 * l1_penalty(self.penalized)
        if config.l2:
            l2 = config.l2 * l2_penalty(self.penalized)
            penalty = l2 if penalty is None else penalty + l2
        return penalty

    def _end_epoch(self, started: float) -> bool:
        """Evaluate, record, checkpoint; returns True when early stopping ends the run."""
        config, state = self.config, self.state
        self._count_correct()
        totals = self.epoch_totals
        if self.world.size > 1:
            summed = torch.tensor(totals.as_list(), dtype=torch.float64, device=self.device)
            totals = EpochTotals.from_list(all_reduce_sum(summed, self.world).tolist())
        n = totals.samples
        row: dict[str, Any] = {
            "epoch": state.epoch + 1,
            "step": state.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": totals.data_loss / n,
            "train_penalty": totals.penalty / n,
        }
        if self.task.running is not None:
            row["train_accuracy"] = totals.correct / n
        if "val" in self.eval_loaders:
            row.update({f"val_{k}": v for k, v in self._evaluate("val").items()})
        row["seconds"] = time.perf_counter() - started
        self.history.append(row)
        state.epoch += 1
        self.epoch_totals = EpochTotals()
        state.metrics.update({k: v for k, v in row.items() if isinstance(v, float)})

        key, value = self.monitor, row.get(self.monitor, math.nan)
        best = self.best.get(key, -math.inf if self.task.maximize else math.inf)
        improved = math.isfinite(value) and (value > best if self.task.maximize else value < best)
        if improved:
            self.best = {key: value, "epoch": row["epoch"]}
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        stop = bool(config.early_stopping) and self.bad_epochs >= config.early_stopping
        if improved and self.run_dir is not None:  # kept until the next checkpoint is due, then written before last.pt
            self.pending_best = snapshot(self._checkpoint_state())
        final = stop or state.epoch >= config.epochs
        due = final or not self.saved_at or time.perf_counter() - self.saved_at >= config.checkpoint_interval
        if broadcast_flag(due, self.world, self.device):  # one clock decides for every process
            if self.pending_best is not None:
                self._save("best.pt", self.pending_best)
                self.pending_best = None
            self._save("last.pt")
            self.saved_at = time.perf_counter()
        if self.history_files is not None:
            self.history_files.write(self.history)
        if self.painter is not None and not final and not self.rehearsed:
            self._rehearse()
        text = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
        self.log(text)
        self._emit("on_epoch_end")
        return stop

    def _last_checkpoint(self) -> str | None:
        """'RUN/checkpoints/last.pt (step S)', the run's last good state, or None when it has none on disk."""
        last = self.run_dir / "checkpoints" / "last.pt" if self.run_dir is not None else None
        if self.saved_step is None or last is None or not last.is_file():
            return None
        return f"{last} (step {self.saved_step})"

    def _evaluate(self, split: str, *, keep: bool = False) -> dict[str, float]:
        return self.task.evaluate(self.model, self.eval_loaders[split], world=self.world, autocast=self.autocast,
                                  memory_format=self.memory_format, keep=keep)  # fmt: skip

    def _loop(self, stop: bool) -> None:
        config, state = self.config, self.state
        progress = Progress(config.progress and self.world.is_main)
        try:
            while state.epoch < config.epochs and not stop:
                epoch_started = time.perf_counter()
                progress.start(
                    len(self.train_loader), self.train_loader.position, f"epoch {state.epoch + 1}/{config.epochs}"
                )
                for batch in self.train_loader:
                    self._step(batch)
                    progress.update(1, self._progress_values)
                    if config.checkpoint_every and state.step % config.checkpoint_every == 0:
                        self._save("last.pt")
                progress.close()
                stop = self._end_epoch(epoch_started)
                stop = broadcast_flag(stop, self.world, self.device)
        finally:
            progress.close()

    def fit(self) -> RunResult:
        """Train to the last epoch (or early stop), test, export, draw; the run directory's lock ends with it."""
        self.painting = self.writes and self.config.plots
        try:
            self.painter = Painter() if self.painting else None  # it warms matplotlib up while the run trains
        except OSError:  # no process to spare: the pictures are drawn here
            self.painter = None
        try:
            return self._fit()
        finally:
            self._stop_painting()
            self.release()

    def _fit(self) -> RunResult:
        config, state = self.config, self.state
        started = time.perf_counter()
        self._emit("on_train_start")
        stop = bool(config.early_stopping) and self.bad_epochs >= config.early_stopping
        self.model.train()
        try:
            self._loop(stop)
            self.writer.wait()  # the last checkpoint is complete before the run reports
            self._paint_curves()
        except (TrainingDiverged, KeyboardInterrupt) as exc:
            if self.pending_best is not None:  # the best epoch so far is a good state (_save writes on rank 0)
                self._save("best.pt", self.pending_best)
            self.writer.wait()
            last = self._last_checkpoint()
            if self.run_dir is not None and isinstance(exc, TrainingDiverged):
                where = f"the last good checkpoint is {last}" if last else "no checkpoint was written before it"
                exc.args = (f"{exc}; {where}",)
                self._paint_diverged_run()
            elif self.run_dir is not None:  # Ctrl-C: one line saying how to go on
                where = f"from its checkpoint at step {self.saved_step}" if last else "from the start: no checkpoint"
                raise RunInterrupted(
                    f"interrupted after step {state.step} (epoch {state.epoch + 1}); continue the run with "
                    f"'cnnlab train --resume {self.run_dir}' ({where})"
                ) from exc
            raise
        except (RunWriteError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            if isinstance(exc, OSError):  # a history file: the checkpoints say where the run stands
                last = self._last_checkpoint()
                kept = f"the last checkpoint {last} is intact" if last else "no checkpoint was written yet"
                exc = RunWriteError(f"cannot write {exc.filename}: the disk is full; {kept}")
            raise RunWriteError(
                f"{exc}; make room, then continue the run with 'cnnlab train --resume {self.run_dir}'"
            ) from exc
        finally:
            self.writer.wait()  # the last checkpoint is complete before the run fails

        test = self._evaluate("test", keep=self.painting and self.world.size == 1)  # the pictures reuse its outputs
        result = RunResult(
            run_dir=self.run_dir,
            test_loss=test["loss"],
            test_accuracy=test.get("accuracy", math.nan),
            best_epoch=self.best["epoch"],
            epochs=state.epoch,
            steps=state.step,
            seconds=time.perf_counter() - started,
            history=tuple(self.history),
            model=self.model,
            test_metrics=test,
        )
        if self.writes:
            try:
                self._paint_test()  # the test split's figures go to the painter, which draws them meanwhile
                self._write_results(result, test)
                self._finish_painting()
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                last = self._last_checkpoint()
                raise RunWriteError(
                    f"cannot write {exc.filename or 'the results'}: the disk is full; the trained state is in {last}; "
                    f"make room, then 'cnnlab train --resume {self.run_dir}' writes the results"
                ) from exc
        self._emit("on_train_end")
        return result

    # ----- pictures (pictures.py): matplotlib's figures in a painter process beside the run, the image grids here
    def _view(self, *, diverged: str | None = None, test: bool = False):
        from .pictures import RunView, ending_of, task_of

        evaluated = self.task.evaluated if self.world.size == 1 else None  # the test split's (rank order ≠ data order)
        return RunView(self.config, task_of(self.test_data), self.history, self.best["epoch"],
                       ending_of(self.config, self.state.epoch, diverged=diverged),
                       model=self.model if test else None, test=self.test_data if test else None,
                       evaluated=evaluated)  # fmt: skip

    def _paint_curves(self, *, diverged: str | None = None) -> None:
        """Send curves.png to the painter: at the end of the last epoch, so that it is drawn during the test."""
        if self.painting:
            from .pictures import curves_spec, draw

            draw({"curves.png": curves_spec(self._view(diverged=diverged))}, self.run_dir, self.painter)

    def _rehearse(self) -> None:
        """After this process's first epoch, the painter draws and keeps the kinds of figure the run ends with: the
        final ones are then drawn into them, their axes and ticks made, and the run waits less for them."""
        from .pictures import rehearsal_specs

        self.rehearsed = True
        for _, name, args in rehearsal_specs(self._view(test=True)):
            self.painter.draw(None, name, args)

    def _paint_test(self) -> None:
        """The final model's pictures on the test split (a painter's figures are written when `_finish_painting`
        has waited for it)."""
        if self.painting:
            from .pictures import draw, model_specs

            draw(model_specs(self._view(test=True)), self.run_dir, self.painter)

    def _finish_painting(self) -> None:
        painter, self.painter = self.painter, None
        if painter is not None and (why := painter.finish()) is not None:
            self.log(f"some pictures were not drawn: {why}")

    def _stop_painting(self) -> None:
        if self.painter is not None:
            self.painter.kill()
            self.painter = None

    def _paint_diverged_run(self) -> None:
        """curves.png up to the divergence; a failure to draw it never hides the divergence itself."""
        try:
            self._paint_curves(diverged=f"the loss blew up at step {self.state.step}")
            self._finish_painting()
        except Exception as exc:  # the divergence is the error this run reports
            self.log(f"curves.png was not drawn: {exc}")

    def _write_results(self, result: RunResult, test: dict[str, float]) -> None:
        """model.safetensors and metrics.json, each written atomically."""
        export_safetensors(self.model, self.run_dir / "model.safetensors")
        metrics = {
            "test_accuracy": test.get("accuracy"),  # None for regression and detection, which have none
            "test_loss": result.test_loss,
            **{f"test_{k}": v for k, v in test.items() if k not in ("loss", "accuracy")},
            "best_epoch": result.best_epoch,
            f"best_{self.monitor}": self.best.get(self.monitor) if self.best["epoch"] else None,
            "epochs": result.epochs,
            "steps": result.steps,
            "train_seconds": result.seconds,
        }
        write_json(self.run_dir / "metrics.json", metrics)


def train(
    config: TrainConfig | None = None,
    *,
    resume: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    log: Callable[[str], None] = print,
    data: tuple[TensorDataset, TensorDataset] | None = None,
    in_memory: bool = False,
) -> RunResult:
    """Train `config`, or resume the run in directory `resume` exactly where its last checkpoint left it.

    Returns the test metrics and the trained model; the run directory holds config.json, run.json,
    history.jsonl/csv, metrics.json, checkpoints/last.pt and best.pt, and model.safetensors.

    Args:
        data: (train, test) datasets to use instead of loading `config.data` (the training set is still split
            by `config.val_fraction`).
        in_memory: write nothing; `result.run_dir` is None. For many small runs, such as a study's.
    """
    if resume is not None:
        resume = Path(resume)
        last = resume / "checkpoints" / "last.pt"
        saved = load_training_checkpoint(last)["config"] if last.exists() else None
        if (resume / "config.json").is_file():  # an edited config.json is refused; without a checkpoint it is used
            on_disk = read_run_config(resume, saved=saved)  # (killed before its first checkpoint: start it over)
            saved = on_disk if saved is None else saved
        elif saved is None:
            raise ConfigError(f"{resume} is not a run directory (no checkpoints/last.pt, no config.json)")
        else:  # deleted: the checkpoint holds the whole configuration, which eval, predict and results need
            log(f"restored {restore_run_config(resume, saved)} from {last}")
        config = replace(from_mapping(saved, source=str(resume)), out=str(resume))
    elif config is None:
        config = TrainConfig()
    validate(config)  # before any work: a bad number is one clear error, never a half-made run folder
    if config.engine == "scratch":
        if resume is not None:
            raise ConfigError("the scratch engine writes no checkpoints, so its runs cannot be resumed")
        if data is not None or in_memory:
            raise ConfigError("data= and in_memory= are options of the torch engine, not of the scratch engine")
        return train_scratch(config, log=log)
    if config.engine != "torch":
        raise ConfigError(f"engine must be 'torch' or 'scratch', got {config.engine!r}")
    trainer = None
    try:
        trainer = Trainer(config, resume=resume, callbacks=callbacks, log=log, data=data, in_memory=in_memory)
        if trainer.state.epoch >= config.epochs:
            log(f"{resume} already finished its {config.epochs} epochs; evaluating it again")
        return trainer.fit()
    except KeyboardInterrupt as exc:  # outside the training loop, which says itself where it stopped
        if isinstance(exc, RunInterrupted) or in_memory:
            raise
        raise interruption(trainer.run_dir if trainer is not None else resume) from exc
    finally:
        if trainer is not None:
            trainer.release()
        close_world()
