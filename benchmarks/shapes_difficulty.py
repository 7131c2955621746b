"""How hard is `shapes`? Test accuracy of a linear classifier and of a small CNN at each difficulty.

A plain PyTorch loop (Adam, cross-entropy) on the embedded generator: the linear model sees the normalized pixels,
the CNN is three conv-BN-ReLU-pool stages (16-32-64 channels) and a linear head. The issue asks that the linear
model stay well below the CNN at the default difficulty (0.5), so that model choices matter.

Also times building 10,000 samples against a baseline measured in the same run: decoding the same 10,000 images
from PNG with Pillow (what an image-folder loader pays).

    .venv/bin/python benchmarks/shapes_difficulty.py            # the README's table
    .venv/bin/python benchmarks/shapes_difficulty.py --quick    # a smaller run, a few minutes
"""

from __future__ import annotations

import argparse
import io
import time

import torch
from torch import nn

from cnnlab.data import load_dataset


def small_cnn(num_classes: int) -> nn.Module:
    def stage(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(
        *stage(3, 16), *stage(16, 32), *stage(32, 64), nn.Flatten(), nn.Linear(64 * 4 * 4, num_classes)
    )


def linear(num_classes: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, num_classes))  # (N, 3, 32, 32) -> (N, 3072)


def fit(model: nn.Module, train, test, *, epochs: int, seed: int) -> float:
    """Train with Adam (lr 1e-3, batch 128) and return the test accuracy."""
    torch.manual_seed(seed)
    mean = torch.tensor(train.mean).view(1, -1, 1, 1)
    std = torch.tensor(train.std).view(1, -1, 1, 1)
    x, y = (train.images - mean) / std, train.targets
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=g).split(128):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(b).argmax(1) for b in ((test.images - mean) / std).split(512)])
    return (pred == test.targets).float().mean().item()


def build_time(n: int) -> tuple[float, float]:
    """Seconds to generate n samples, and to decode the same n images from in-memory PNG files."""
    from PIL import Image

    start = time.perf_counter()
    data = load_dataset("shapes", n_train=n)
    generate = time.perf_counter() - start
    pixels = (data.images * 255).round().byte().permute(0, 2, 3, 1).numpy()  # (N, C, H, W) -> (N, H, W, C)
    files = []
    for image in pixels:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        files.append(buf.getvalue())
    start = time.perf_counter()
    for blob in files:
        Image.open(io.BytesIO(blob)).convert("RGB").load()
    return generate, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--difficulties", default="0,0.25,0.5,0.75,1")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3,000 training images, 5 epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: comparable with Pillow's decoding)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.n_train, args.epochs = 3000, 5

    generate, decode = build_time(10_000)
    print(f"build 10,000 shapes: {generate:.2f} s; decode 10,000 PNGs: {decode:.2f} s; ratio {generate / decode:.2f}")
    print(f"n_train={args.n_train}, n_test=2000, epochs={args.epochs}, seed={args.seed}, threads={args.threads}")
    print("| difficulty | linear | small CNN | CNN − linear |")
    print("|---:|---:|---:|---:|")
    for d in (float(v) for v in args.difficulties.split(",")):
        kw = {"difficulty": d, "n_train": args.n_train, "seed": args.seed}
        train, test = load_dataset("shapes", "train", **kw), load_dataset("shapes", "test", **kw)
        lin = fit(linear(10), train, test, epochs=args.epochs, seed=args.seed)
        cnn = fit(small_cnn(10), train, test, epochs=args.epochs, seed=args.seed)
        print(f"| {d:g} | {lin:.3f} | {cnn:.3f} | {cnn - lin:+.3f} |", flush=True)


if __name__ == "__main__":
    main()
