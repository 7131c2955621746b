"""Time to accuracy on real data: LeNet-5 on MNIST, trained on the first 8,000 images of the MNIST test set and
tested on the last 2,000, through the `cnnlab train` CLI against a bare hand-written PyTorch script.

Both run as fresh processes (interpreter and torch import included), with the same model (LeNet-5, ReLU, max
pooling, MNIST's 28×28 padded to 32×32), optimizer (Adam), cosine schedule, batch, epochs and seed; the bare
script reads the IDX files itself. Targets: cnnlab ≥ 98.8% test accuracy in ≤ 1.1× the bare script's time.

    python benchmarks/time_to_accuracy.py [--data-dir ../shared/data/mnist-t10k] [--epochs 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
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


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist-t10k"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not Path(args.data_dir, "t10k-images-idx3-ubyte.gz").is_file():
        sys.exit(f"MNIST test set not found in {args.data_dir}; pass --data-dir")
    times: dict[str, list[float]] = {"bare": [], "cnnlab": []}
    accuracy: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            bare = [sys.executable, "-c", BARE, args.data_dir, str(args.epochs), str(BATCH), str(LR), str(SEED)]
            cli = [
                sys.executable, "-m", "cnnlab", "train", "lenet5", "--data", "mnist", "--data-dir", args.data_dir,
                "--train-split", "test[:8000]", "--test-split", "test[8000:]", "--val-fraction", "0",
                "--epochs", str(args.epochs), "--batch-size", str(BATCH), "--optimizer", "adam", "--lr", str(LR),
                "--schedule", "cos", "--act", "relu", "--kw", "pool=max", "--seed", str(SEED),
                "--no-progress", "--out", f"{tmp}/run{r}",
            ]  # fmt: skip
            for name in ("bare", "cnnlab") if r % 2 == 0 else ("cnnlab", "bare"):
                seconds, out = timed(bare if name == "bare" else cli)
                times[name].append(seconds)
                if name == "bare":
                    accuracy["bare"] = float(out.strip().splitlines()[-1])
                else:
                    accuracy["cnnlab"] = json.loads(Path(f"{tmp}/run{r}/metrics.json").read_text())["test_accuracy"]
    bare_t, ours_t = statistics.median(times["bare"]), statistics.median(times["cnnlab"])
    print(f"LeNet-5, MNIST t10k 8,000 / 2,000, {args.epochs} epochs, batch {BATCH}, Adam {LR}, {args.repeats} repeats")
    print(f"bare script  {bare_t:6.2f} s  test accuracy {accuracy['bare']:.4f}")
    print(f"cnnlab CLI   {ours_t:6.2f} s  test accuracy {accuracy['cnnlab']:.4f}  (target ≥ 0.988)")
    print(f"time ratio cnnlab / bare = {ours_t / bare_t:.3f}  (target ≤ 1.10)")


if __name__ == "__main__":
    main()
