"""Time to accuracy on real data: LeNet-5 on MNIST, trained on the first 8,000 images of the MNIST test set and
tested on the last 2,000, through the `cnnlab train` CLI against a bare hand-written PyTorch script.

Both run as fresh processes (interpreter and torch import included), with the same model (LeNet-5, ReLU, max
pooling, MNIST's 28×28 padded to 32×32), optimizer (Adam), cosine schedule, batch, epochs and seed; the bare
script reads the IDX files itself. Targets: cnnlab ≥ 98.8% test accuracy in ≤ 1.1× the bare script's time.

This machine's speed drifts by ±10–20% between runs seconds apart (and its two cores differ by as much when two
copies of one script run side by side), so the two run *interleaved*: in turns of 50 ms, each frozen with SIGSTOP
while the other runs, with the default threads. Drift then hits both alike, and each one's time is the sum of its
turns. Then they run one by one, alternating, as a user would run them. Each pair gives a ratio; the median of
the pairs is reported, of time and of CPU time (user + system, from the kernel's accounting).

    python benchmarks/time_to_accuracy.py [--data-dir ../shared/data/mnist-t10k] [--epochs 8] [--repeats 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH, LR, SEED = 64, 3e-3, 0

BARE = r"""
import gzip, math, sys, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
data_dir, epochs, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lr, seed = float(sys.argv[4]), int(sys.argv[5])
torch.manual_seed(seed)
def idx(name, offset):
    with gzip.open(f"{data_dir}/{name}", "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)
x = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255)
y = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
x = (x - 0.1307) / 0.3081
x_train, y_train, x_test, y_test = x[:8000], y[:8000], x[8000:], y[8000:]
model = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
).to(memory_format=torch.channels_last)
opt = torch.optim.Adam(model.parameters(), lr=lr)
steps = -(-len(x_train) // batch)
total, step = epochs * steps, 0
for _ in range(epochs):
    order = torch.randperm(len(x_train))
    for i in range(steps):
        index = order[i * batch : (i + 1) * batch]
        for g in opt.param_groups:
            g["lr"] = lr * (1 + math.cos(math.pi * step / total)) / 2
        loss = F.cross_entropy(model(x_train[index].contiguous(memory_format=torch.channels_last)), y_train[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
model.eval()
with torch.no_grad():
    print((model(x_test).argmax(1) == y_test).float().mean().item())
"""


def commands(data_dir: str, epochs: int, out: str) -> dict[str, list[str]]:
    bare = [sys.executable, "-c", BARE, data_dir, str(epochs), str(BATCH), str(LR), str(SEED)]
    cli = [
        sys.executable, "-m", "cnnlab", "train", "lenet5", "--data", "mnist", "--data-dir", data_dir,
        "--train-split", "test[:8000]", "--test-split", "test[8000:]", "--val-fraction", "0",
        "--epochs", str(epochs), "--batch-size", str(BATCH), "--optimizer", "adam", "--lr", str(LR),
        "--schedule", "cos", "--act", "relu", "--kw", "pool=max", "--seed", str(SEED), "--no-progress", "--out", out,
    ]  # fmt: skip
    return {"bare": bare, "cnnlab": cli}


def run_interleaved(cmds: dict[str, list[str]], tmp: str, slice_s: float = 0.05) -> dict[str, tuple[float, float, str]]:
    """Run the commands in turns of `slice_s` seconds, each frozen (SIGSTOP) while another runs; default threads.

    Every command then meets the same machine, whatever its drift, at the grain of a tenth of a second. A command's
    time is the sum of its own turns (interpreter start and exit included); its CPU time is the kernel's count.
    Returns (seconds, CPU seconds, stdout) per command.
    """
    procs, outs, pidfds, spent = {}, {}, {}, {}
    for name, cmd in cmds.items():
        outs[name] = open(f"{tmp}/{name}.out", "w+")  # noqa: SIM115 (closed below)
        # the shell stops itself before it becomes the command: nothing runs before its first turn
        procs[name] = subprocess.Popen(
            ["/bin/sh", "-c", 'kill -STOP $$; exec "$@"', "sh", *cmd], cwd=ROOT, stdout=outs[name],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.waitpid(procs[name].pid, os.WUNTRACED)
        pidfds[name] = os.pidfd_open(procs[name].pid)
        spent[name] = 0.0
    results: dict[str, tuple[float, float, str]] = {}
    turn = 0
    while len(results) < len(cmds):
        waiting = [name for name in cmds if name not in results]
        name = waiting[turn % len(waiting)]
        turn += 1
        pid = procs[name].pid
        os.kill(pid, signal.SIGCONT)
        start = time.perf_counter()
        if select.select([pidfds[name]], [], [], slice_s)[0]:  # it ended within its turn
            _, status, usage = os.wait4(pid, 0)
        else:
            os.kill(pid, signal.SIGSTOP)
            _, status, usage = os.wait4(pid, os.WUNTRACED)
        spent[name] += time.perf_counter() - start
        if os.WIFSTOPPED(status):
            continue
        procs[name].returncode = code = os.waitstatus_to_exitcode(status)
        os.close(pidfds[name])
        if code != 0:
            raise SystemExit(f"{name} failed with exit code {code}: {' '.join(cmds[name])}")
        outs[name].seek(0)
        results[name] = (spent[name], usage.ru_utime + usage.ru_stime, outs[name].read())
        outs[name].close()
    return results


def run_alone(cmd: list[str]) -> tuple[float, float, str]:
    """Run with the default threads; (wall, CPU seconds, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return time.perf_counter() - start, cpu, out


def summary(ratios: list[float]) -> str:
    ratios = sorted(ratios)
    return f"{statistics.median(ratios):.3f} (median; range {ratios[0]:.3f}–{ratios[-1]:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist-t10k"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=4, help="pairs of each kind (interleaved, then one by one)")
    args = parser.parse_args()
    if not Path(args.data_dir, "t10k-images-idx3-ubyte.gz").is_file():
        sys.exit(f"MNIST test set not found in {args.data_dir}; pass --data-dir")
    interleaved: dict[str, list[tuple[float, float]]] = {"bare": [], "cnnlab": []}
    alone: dict[str, list[tuple[float, float]]] = {"bare": [], "cnnlab": []}
    accuracy: dict[str, float] = {}

    def record(times: dict, name: str, wall: float, cpu: float, out: str, run_dir: str) -> None:
        times[name].append((wall, cpu))
        if name == "bare":
            accuracy["bare"] = float(out.strip().splitlines()[-1])
        else:
            accuracy["cnnlab"] = json.loads(Path(run_dir, "metrics.json").read_text())["test_accuracy"]

    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            run_dir = f"{tmp}/interleaved{r}"
            for name, (wall, cpu, out) in run_interleaved(commands(args.data_dir, args.epochs, run_dir), tmp).items():
                record(interleaved, name, wall, cpu, out, run_dir)
        for r in range(args.repeats):
            run_dir = f"{tmp}/alone{r}"
            cmds = commands(args.data_dir, args.epochs, run_dir)
            for name in ("bare", "cnnlab") if r % 2 == 0 else ("cnnlab", "bare"):
                record(alone, name, *run_alone(cmds[name]), run_dir)

    print(f"LeNet-5, MNIST t10k 8,000 / 2,000, {args.epochs} epochs, batch {BATCH}, Adam {LR}, fresh processes")
    print(f"test accuracy: bare script {accuracy['bare']:.4f}, cnnlab CLI {accuracy['cnnlab']:.4f}  (target ≥ 0.988)")
    for label, times in (("interleaved in 50-ms turns", interleaved), ("one by one, default threads", alone)):
        if not times["bare"]:
            continue
        bare_wall = statistics.median(t[0] for t in times["bare"])
        ours_wall = statistics.median(t[0] for t in times["cnnlab"])
        print(f"{label}: bare {bare_wall:.2f} s, cnnlab {ours_wall:.2f} s (medians of {len(times['bare'])})")
        for i, kind in ((0, "wall"), (1, "CPU")):
            pairs = [c[i] / b[i] for b, c in zip(times["bare"], times["cnnlab"], strict=True)]
            print(f"  time ratio cnnlab / bare, {kind}: {summary(pairs)}")
    print("target: time ratio ≤ 1.10")


if __name__ == "__main__":
    main()
