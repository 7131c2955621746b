"""Engine overhead: cnnlab's trainer against a bare hand-written PyTorch loop doing the same work.

Same model (LeNet-5, ReLU/max), data (embedded digits, no validation hold-out), batch (64), steps, optimizer (Adam),
cosine schedule, channels_last, and a final test evaluation in both. cnnlab additionally runs its progress bar
(drawn, to an in-memory terminal), per-epoch log lines, history files, per-step loss, gradient norm, accuracy and
finiteness checks, end-of-epoch checkpoints and the weight export.

This machine's speed drifts by ±10–20% within seconds, more than the overhead being measured, so the two runs go
in lockstep: a callback of the cnnlab run advances the bare loop by one step after each of cnnlab's steps, and
each side's time is summed over its own segments. Drift then hits both alike. The checkpoint cnnlab writes on a
background thread is waited for inside cnnlab's time, as if written synchronously (a conservative count). One
thread (the overhead is Python-side work; a second thread only adds noise). A second measure times the trainer's
step against the bare step on one batch: the per-step work the trainer adds (gradient norm, accuracy, finiteness
check, running totals), and a third runs the trainer with the bare step in place of its own: the cost of
everything else. Target: ratio ≤ 1.02.

    python benchmarks/engine_overhead.py [--epochs 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import statistics
import tempfile
import time
from collections.abc import Generator

import torch
import torch.nn.functional as F

from cnnlab import create
from cnnlab.data import load_digits
from cnnlab.engine import Callback, TrainConfig, Trainer

BATCH, LR = 64, 3e-3


def plain_step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, lr: float) -> None:
    """One hand-written training step: set the learning rate, forward, loss, backward, update."""
    for g in opt.param_groups:
        g["lr"] = lr
    loss = F.cross_entropy(model(x.contiguous(memory_format=torch.channels_last)), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def bare_loop(epochs: int, seed: int) -> Generator[None, None, float]:
    """What a careful user writes by hand, yielding after every step; returns the test accuracy."""
    order_rng = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # leave the global random state to the cnnlab run beside it
        torch.manual_seed(seed)
        model = create("lenet5", input_size=8, act="relu", pool="max").to(memory_format=torch.channels_last)
    train_data, test_data = load_digits("train"), load_digits("test")
    mean, std = train_data.mean[0], train_data.std[0]
    x_train, y_train = (train_data.images - mean) / std, train_data.targets
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps_per_epoch = -(-len(x_train) // BATCH)
    total, step = epochs * steps_per_epoch, 0
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=order_rng)
        for i in range(steps_per_epoch):
            index = order[i * BATCH : (i + 1) * BATCH]
            plain_step(model, opt, x_train[index], y_train[index], LR * (1 + math.cos(math.pi * step / total)) / 2)
            step += 1
            yield
    model.eval()
    with torch.no_grad():
        logits = model((test_data.images - mean) / std)
        return (logits.argmax(1) == test_data.targets).float().mean().item()


class Terminal(io.StringIO):
    """Where the progress bar goes: a terminal as far as tqdm can tell."""

    def isatty(self) -> bool:
        return True


class Lockstep(Callback):
    """Advances the bare loop by one step after every cnnlab step, timing the bare loop's share."""

    def __init__(self, bare: Generator[None, None, float]):
        self.bare, self.trainer = bare, None
        self.wall = self.cpu = 0.0
        self.accuracy = math.nan

    def advance(self) -> bool:
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            next(self.bare)
            done = False
        except StopIteration as stop:
            self.accuracy, done = stop.value, True
        self.wall += time.perf_counter() - start
        self.cpu += time.process_time() - start_cpu
        return done

    def on_step_end(self, state) -> None:
        self.trainer.writer.wait()  # a background checkpoint write counts as cnnlab's time
        self.advance()


class PlainStepTrainer(Trainer):
    """The trainer with the bare loop's step in place of its own (no gradient norm, accuracy or finiteness check):
    what the rest of the trainer (loader, epochs, checkpoints, history, log, evaluation, export) costs."""

    def _step(self, batch) -> None:
        lr = self.config.lr * self.schedule(self.state.step)
        plain_step(self.model, self.optimizer, batch.inputs, batch.targets, lr)
        self.state.step += 1
        self.epoch_totals[3] += batch.targets.shape[0]
        self.state.metrics.update(loss=math.nan, lr=self.optimizer.param_groups[0]["lr"])
        self._emit("on_step_end")


def lockstep_run(epochs: int, seed: int, out: str, trainer_class: type[Trainer] = Trainer) -> dict[str, float]:
    lock = Lockstep(bare_loop(epochs, seed))
    log = io.StringIO()
    start, start_cpu = time.perf_counter(), time.process_time()
    config = TrainConfig(
        model="lenet5", data="digits", val_fraction=0.0, epochs=epochs, batch_size=BATCH, optimizer="adam",
        lr=LR, schedule="cos", act="relu", model_kwargs={"pool": "max"}, seed=seed, out=out, device="cpu",
    )  # fmt: skip
    with contextlib.redirect_stderr(Terminal()):  # the progress bar is drawn as on a terminal
        trainer = trainer_class(config, callbacks=[lock], log=lambda line: print(line, file=log))
        lock.trainer = trainer
        result = trainer.fit()
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    cnnlab_wall, cnnlab_cpu = wall - lock.wall, cpu - lock.cpu  # minus the bare steps run inside the callback
    while not lock.advance():  # the bare loop's evaluation
        pass
    return {
        "bare_wall": lock.wall,
        "bare_cpu": lock.cpu,
        "cnnlab_wall": cnnlab_wall,
        "cnnlab_cpu": cnnlab_cpu,
        "bare_accuracy": lock.accuracy,
        "cnnlab_accuracy": result.test_accuracy,
    }


def per_step_ratio(out: str, rounds: int = 40, steps: int = 30) -> tuple[float, float, float]:
    """CPU time of the trainer's step against the bare step on the same batch and model, in alternating rounds:
    the trainer's added per-step work, without the run's per-epoch and fixed costs."""
    config = TrainConfig(
        model="lenet5", data="digits", val_fraction=0.0, epochs=20, batch_size=BATCH, optimizer="adam", lr=LR,
        act="relu", model_kwargs={"pool": "max"}, out=out,
    )  # fmt: skip
    trainer = Trainer(config, log=lambda _: None)
    batch = next(iter(trainer.train_loader))
    model = trainer.model
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def bare_step() -> None:
        plain_step(model, opt, batch.inputs, batch.targets, LR * (1 + math.cos(math.pi * 3 / 100)) / 2)

    def cnnlab_step() -> None:
        trainer._step(batch)

    for step in (bare_step, cnnlab_step) * 10:  # warm-up
        step()
    ratios = []
    for r in range(rounds):
        spent = {}
        for name, step in (("bare", bare_step), ("cnnlab", cnnlab_step))[:: 1 if r % 2 == 0 else -1]:
            start = time.process_time()
            for _ in range(steps):
                step()
            spent[name] = time.process_time() - start
        ratios.append(spent["cnnlab"] / spent["bare"])
    return summary(ratios)


def summary(values: list[float]) -> tuple[float, float, float]:
    values = sorted(values)
    return statistics.median(values), values[0], values[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        lockstep_run(1, 0, f"{tmp}/warmup")  # warm up kernels and imports
        plain = []
        for r in range(args.repeats):
            runs.append(lockstep_run(args.epochs, 0, f"{tmp}/{r}"))
            plain.append(lockstep_run(args.epochs, 0, f"{tmp}/plain{r}", PlainStepTrainer))
        step_mid, step_low, step_high = per_step_ratio(f"{tmp}/steps")
    print(f"torch {torch.__version__}, 1 thread, {args.epochs} epochs, {args.repeats} lockstep runs")
    for side in ("bare", "cnnlab"):
        wall = statistics.median(run[f"{side}_wall"] for run in runs)
        print(f"{side:7s} {wall:6.3f} s wall (median)  test accuracy {runs[-1][f'{side}_accuracy']:.4f}")
    for kind in ("wall", "cpu"):
        mid, low, high = summary([run[f"cnnlab_{kind}"] / run[f"bare_{kind}"] for run in runs])
        print(f"whole runs, ratio cnnlab / bare, {kind} time: {mid:.3f} (median; range {low:.3f}–{high:.3f})")
    mid, low, high = summary([run["cnnlab_wall"] / run["bare_wall"] for run in plain])
    print(f"  of which outside the step (the trainer with the bare step), wall time: {mid:.3f} "
          f"(median; range {low:.3f}–{high:.3f})")  # fmt: skip
    print(f"per training step, ratio cnnlab / bare, CPU time: {step_mid:.3f} (median of 40 rounds; "
          f"range {step_low:.3f}–{step_high:.3f})")  # fmt: skip
    print("target ≤ 1.02")


if __name__ == "__main__":
    main()
