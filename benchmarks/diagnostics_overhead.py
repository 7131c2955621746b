"""Training time with `Diagnostics` sampling every 10th step, over the same training without it (target ≤ 1.10×).

Two copies of one model, with the same initial weights, train in lockstep on the same batches of the embedded
digits: at every step one copy takes its step without diagnostics and the other with them (attached for the whole
run), in alternating order, each step timed on its own. The ratio is total time with over total time without, so
load from other processes on a shared machine falls on both sides alike. Time is the process's CPU time with one
torch thread (`--wall` for wall-clock time). Each repeat starts again from fresh copies; the median is reported.

    .venv/bin/python benchmarks/diagnostics_overhead.py                  # mlp20-bn, lenet5, resnet20
    .venv/bin/python benchmarks/diagnostics_overhead.py --model resnet20 --steps 400 --repeats 5
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

import cnnlab
from cnnlab.data import load_digits
from cnnlab.diagnostics import Diagnostics

MODELS = {
    "mlp20-bn": lambda: cnnlab.create("mlp", depth=20, act="relu", norm="batch", input_size=8),
    "mlp20-sigmoid": lambda: cnnlab.create("mlp", depth=20, act="sigmoid", input_size=8),
    "lenet5": lambda: cnnlab.create("lenet5", input_size=8),
    "resnet20": lambda: cnnlab.create("resnet20", in_channels=1),
}


def step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, clock) -> float:
    """Seconds for one plain training step."""
    start = clock()
    optimizer.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    return clock() - start


def lockstep(initial: nn.Module, batches, every: int, clock) -> tuple[float, float]:
    """Seconds without and with diagnostics for the same training, the two copies stepping in turn."""
    plain, watched = copy.deepcopy(initial), copy.deepcopy(initial)
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for m in (plain, watched)]
    seconds = [0.0, 0.0]
    with Diagnostics(watched, optimizers[1], every=every) as diag:
        for i, (x, y) in enumerate(batches):
            for side in (0, 1) if i % 2 == 0 else (1, 0):
                seconds[side] += step((plain, watched)[side], optimizers[side], x, y, clock)
        start = clock()
        diag.records  # noqa: B018 — bring the numbers to the host, as the end of a run does
        seconds[1] += clock() - start
    return seconds[0], seconds[1]


def measure(name: str, steps: int, repeats: int, every: int, batch_size: int, clock) -> None:
    torch.manual_seed(0)
    data = load_digits("train")
    images = (data.images - data.images.mean()) / data.images.std()
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(steps):
        idx = torch.randint(0, len(data), (batch_size,), generator=g)
        batches.append((images[idx], data.targets[idx]))
    initial = MODELS[name]()
    lockstep(initial, batches[: 2 * every], every, clock)  # warm-up: allocator, first-call costs
    runs = [lockstep(initial, batches, every, clock) for _ in range(repeats)]
    ratios = [watched / plain for plain, watched in runs]
    plain_ms = statistics.median(p for p, _ in runs) / steps * 1e3
    watched_ms = statistics.median(w for _, w in runs) / steps * 1e3
    print(
        f"{name:14s} {steps} steps, batch {batch_size}: plain {plain_ms:6.2f} ms/step, "
        f"with diagnostics every {every} {watched_ms:6.2f} ms/step, ratio {statistics.median(ratios):.3f}× "
        f"(median of {repeats}; range {min(ratios):.3f}–{max(ratios):.3f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", choices=sorted(MODELS), help="repeatable; default: three")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: least disturbed by others)")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of process CPU time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.wall else time.process_time
    kind = "wall-clock" if args.wall else "CPU"
    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU, {kind} time", flush=True)
    for name in args.model or ["mlp20-bn", "lenet5", "resnet20"]:
        measure(name, args.steps, args.repeats, args.every, args.batch_size, clock)


if __name__ == "__main__":
    main()
