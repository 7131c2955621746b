"""Training time with `Diagnostics` sampling every 10th step, over the same training without it (target ≤ 1.10×).

Both runs train the same model from the same initial weights on the same batches of the embedded digits, in the
same process; repeats alternate which goes first, and the reported ratio is the median of the paired ratios.
Time is the process's CPU time (one torch thread by default), which other processes on a shared machine disturb
far less than wall-clock time; `--wall` measures wall-clock time instead.

    .venv/bin/python benchmarks/diagnostics_overhead.py                  # mlp20-bn, lenet5, resnet20
    .venv/bin/python benchmarks/diagnostics_overhead.py --model mlp20-bn --steps 400 --repeats 7
"""

from __future__ import annotations

import argparse
import contextlib
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


def train(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], every: int | None, clock) -> float:
    """Seconds for one pass over `batches` with SGD, with diagnostics every `every` steps (None: without)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    watch = contextlib.nullcontext() if every is None else Diagnostics(model, optimizer, every=every)
    start = clock()
    with watch:
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        if every is not None:
            watch.records  # noqa: B018 — fetch the recorded numbers, as a real run does at its end
    return clock() - start


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
    train(copy.deepcopy(initial), batches[:every], every, clock)  # warm-up: allocator, first-call costs
    train(copy.deepcopy(initial), batches[:every], None, clock)
    plain, diag = [], []
    for r in range(repeats):
        order = (None, every) if r % 2 == 0 else (every, None)
        for mode in order:
            seconds = train(copy.deepcopy(initial), batches, mode, clock)
            (plain if mode is None else diag).append(seconds)
    ratios = [d / p for d, p in zip(diag, plain, strict=True)]
    print(
        f"{name:14s} {steps} steps, batch {batch_size}: plain {statistics.median(plain) / steps * 1e3:7.2f} ms/step, "
        f"with diagnostics every {every} {statistics.median(diag) / steps * 1e3:7.2f} ms/step, "
        f"ratio {statistics.median(ratios):.3f}× (median of {repeats}; range {min(ratios):.3f}–{max(ratios):.3f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", choices=sorted(MODELS), help="repeatable; default: three")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: least disturbed by others)")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of process CPU time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.wall else time.process_time
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), CPU, {'wall-clock' if args.wall else 'CPU'} time",
        flush=True,
    )
    for name in args.model or ["mlp20-bn", "lenet5", "resnet20"]:
        measure(name, args.steps, args.repeats, args.every, args.batch_size, clock)


if __name__ == "__main__":
    main()
