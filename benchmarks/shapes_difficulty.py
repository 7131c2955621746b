"""How hard is `shapes`? Test accuracy of a linear classifier and of a small CNN at each difficulty.

A plain PyTorch loop (Adam, cross-entropy) over cnnlab's loaders: the linear model sees the normalized pixels, the
small CNN is three conv-BN-ReLU-pool stages (16-32-64 channels) and a linear head. The linear model should stay
well below the CNN at the default difficulty (0.5), and deeper or better-regularized nets should be able to show
their advantage there: a second table trains a deeper CNN (two convs per stage) and both with augmentation.

Also times building 10,000 samples against a baseline measured in the same run: decoding the same 10,000 images
from PNG with Pillow (what an image-folder loader pays).

    .venv/bin/python benchmarks/shapes_difficulty.py            # the tables in benchmarks/README.md
    .venv/bin/python benchmarks/shapes_difficulty.py --quick    # a smaller run, a few minutes
"""

from __future__ import annotations

import argparse
import io
import time

import torch
from torch import nn

from cnnlab import create
from cnnlab.data import build_augment, load_dataset, make_loader

AUGMENT = "crop:2,flip"  # all ten shapes keep their class under a mirror image


def cnn(num_classes: int, *, convs: int = 1) -> nn.Module:
    """The zoo's small_cnn: three stages of `convs` conv-BN-ReLU units (16, 32, 64 channels), each closed by 2×2 max
    pooling, then one fully connected layer."""
    return create("small_cnn", num_classes=num_classes, convs=convs)


def linear(num_classes: int) -> nn.Module:
    """Softmax regression on the pixels: the zoo's mlp without hidden layers."""
    return create("mlp", depth=0, num_classes=num_classes, in_channels=3, input_size=32)


def fit(model: nn.Module, train, test, *, epochs: int, seed: int, augment: str | None = None) -> float:
    """Train with Adam (lr 1e-3, batch 128) on cnnlab's loaders and return the test accuracy."""
    torch.manual_seed(seed)
    aug = build_augment(augment, input_size=train.input_size, mean=train.mean)
    loader = make_loader(train, 128, shuffle=True, seed=seed, augment=aug, device="cpu")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for batch in loader:
            loss = nn.functional.cross_entropy(model(batch.inputs), batch.targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for batch in make_loader(test, 500, shuffle=False, seed=0, augment=None, device="cpu"):
            correct += int((model(batch.inputs).argmax(1) == batch.targets).sum())
    return correct / len(test)


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
    parser.add_argument("--no-variants", dest="variants", action="store_false", help="skip the model/augment table")
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
    data = {}
    for d in (float(v) for v in args.difficulties.split(",")):
        kw = {"difficulty": d, "n_train": args.n_train, "seed": args.seed}
        data[d] = load_dataset("shapes", "train", **kw), load_dataset("shapes", "test", **kw)
        lin = fit(linear(10), *data[d], epochs=args.epochs, seed=args.seed)
        small = fit(cnn(10), *data[d], epochs=args.epochs, seed=args.seed)
        print(f"| {d:g} | {lin:.3f} | {small:.3f} | {small - lin:+.3f} |", flush=True)
    if args.variants:
        d = 0.5
        train, test = data.get(d) or (
            load_dataset("shapes", split, n_train=args.n_train) for split in ("train", "test")
        )
        print(f"\nat difficulty {d:g}:\n| model | augmentation | test accuracy |\n|---|---|---:|")
        for name, convs, aug in [("small CNN", 1, None), ("small CNN", 1, AUGMENT), ("two convs per stage", 2, None),
                                 ("two convs per stage", 2, AUGMENT)]:  # fmt: skip
            acc = fit(cnn(10, convs=convs), train, test, epochs=args.epochs, seed=args.seed, augment=aug)
            print(f"| {name} | {aug or 'none'} | {acc:.3f} |", flush=True)


if __name__ == "__main__":
    main()
