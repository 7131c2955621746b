"""Engine overhead: cnnlab's trainer against a bare hand-written PyTorch loop doing the same work.

Same model (LeNet-5, ReLU/max), data (embedded digits, no validation hold-out), batch (64), steps, optimizer (Adam),
cosine schedule, channels_last, and a final test evaluation in both. cnnlab additionally runs its progress bar,
history files, per-step gradient norm and finiteness checks, end-of-epoch checkpoints and the weight export.

This machine's speed drifts by ±10% from run to run, more than the overhead being measured, so the two run in
alternating pairs on one thread (the overhead is Python-side work; a second thread only adds noise), and the median
of the per-pair ratios is reported, of wall time and of CPU time. A second measure times the trainer's step against
the bare step on one batch in 40 alternating rounds: the per-step work the trainer adds. Target: ratio ≤ 1.02.

    python benchmarks/engine_overhead.py [--epochs 20] [--repeats 15]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from cnnlab import create
from cnnlab.data import load_digits
from cnnlab.engine import TrainConfig, Trainer, train

BATCH, LR = 64, 3e-3


def bare_loop(epochs: int, seed: int) -> float:
    """What a careful user writes by hand; returns the test accuracy."""
    torch.manual_seed(seed)
    train_data, test_data = load_digits("train"), load_digits("test")
    mean, std = train_data.mean[0], train_data.std[0]
    x_train, y_train = (train_data.images - mean) / std, train_data.targets
    model = create("lenet5", input_size=8, act="relu", pool="max").to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps_per_epoch = -(-len(x_train) // BATCH)
    total, step = epochs * steps_per_epoch, 0
    for _ in range(epochs):
        order = torch.randperm(len(x_train))
        for i in range(steps_per_epoch):
            index = order[i * BATCH : (i + 1) * BATCH]
            x, y = x_train[index].contiguous(memory_format=torch.channels_last), y_train[index]
            for g in opt.param_groups:
                g["lr"] = LR * (1 + math.cos(math.pi * step / total)) / 2
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    model.eval()
    with torch.no_grad():
        logits = model((test_data.images - mean) / std)
        return (logits.argmax(1) == test_data.targets).float().mean().item()


def per_step_ratio(out: str, rounds: int = 40, steps: int = 30) -> tuple[float, float, float]:
    """CPU time of the trainer's step against the bare step on the same batch and model, in alternating rounds:
    the trainer's added per-step work, without the run's fixed costs (files, evaluation, export)."""
    config = TrainConfig(
        model="lenet5", data="digits", val_fraction=0.0, epochs=20, batch_size=BATCH, optimizer="adam", lr=LR,
        act="relu", model_kwargs={"pool": "max"}, out=out,
    )  # fmt: skip
    trainer = Trainer(config, log=lambda _: None)
    batch = next(iter(trainer.train_loader))
    model = trainer.model
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def bare_step() -> None:
        for g in opt.param_groups:
            g["lr"] = LR * (1 + math.cos(math.pi * 3 / 100)) / 2
        loss = F.cross_entropy(model(batch.inputs.contiguous(memory_format=torch.channels_last)), batch.targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def cnnlab_step() -> None:
        trainer._step(batch.inputs, batch.targets, batch.global_size)

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
    ratios.sort()
    return statistics.median(ratios), ratios[rounds // 4], ratios[(3 * rounds) // 4]


def cnnlab_run(epochs: int, seed: int, out: str) -> float:
    config = TrainConfig(
        model="lenet5", data="digits", val_fraction=0.0, epochs=epochs, batch_size=BATCH, optimizer="adam",
        lr=LR, schedule="cos", act="relu", model_kwargs={"pool": "max"}, seed=seed, out=out,
    )  # fmt: skip
    return train(config, log=lambda _: None).test_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    wall: dict[str, list[float]] = {"bare": [], "cnnlab": []}
    cpu: dict[str, list[float]] = {"bare": [], "cnnlab": []}
    accuracy = {}
    with tempfile.TemporaryDirectory() as tmp:
        bare_loop(1, 0), cnnlab_run(1, 0, f"{tmp}/warmup")  # warm up kernels and imports
        for r in range(args.repeats):
            for name in ("bare", "cnnlab") if r % 2 == 0 else ("cnnlab", "bare"):
                start, start_cpu = time.perf_counter(), time.process_time()
                if name == "bare":
                    accuracy[name] = bare_loop(args.epochs, 0)
                else:
                    accuracy[name] = cnnlab_run(args.epochs, 0, f"{tmp}/{r}")
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)

    def ratios(times: dict[str, list[float]]) -> tuple[float, float, float]:
        pairs = sorted(c / b for c, b in zip(times["cnnlab"], times["bare"], strict=True))
        return statistics.median(pairs), pairs[len(pairs) // 4], pairs[(3 * len(pairs)) // 4]

    print(f"torch {torch.__version__}, 1 thread, {args.epochs} epochs × {args.repeats} alternating pairs")
    print(f"bare loop   {statistics.median(wall['bare']):7.3f} s  (test accuracy {accuracy['bare']:.4f})")
    print(f"cnnlab      {statistics.median(wall['cnnlab']):7.3f} s  (test accuracy {accuracy['cnnlab']:.4f})")
    for name, times in (("wall", wall), ("CPU", cpu)):
        mid, low, high = ratios(times)
        print(f"whole runs, ratio cnnlab / bare, {name} time: {mid:.3f} (quartiles {low:.3f}–{high:.3f})")
    with tempfile.TemporaryDirectory() as tmp:
        mid, low, high = per_step_ratio(f"{tmp}/steps")
    print(f"per training step, ratio cnnlab / bare, CPU time: {mid:.3f} (quartiles {low:.3f}–{high:.3f})")
    print("target ≤ 1.02")


if __name__ == "__main__":
    main()
