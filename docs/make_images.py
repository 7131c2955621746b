"""Draw the pictures of docs/training.md ("Every run draws its pictures") from real runs.

    python docs/make_images.py            # about 10 minutes on one CPU core; rewrites docs/img/run-*.png

Trains, in a temporary folder: LeNet-5 on digits with its default recipe (curves, confusion matrix, mistakes);
tinydet on 2,000 shapes images for 12 epochs (COCO precision-recall curves, predictions); small_cnn on multi-label
shapes with its default recipe (per-class precision-recall curves); three 10-layer MLPs on digits with sigmoid,
ReLU and ReLU + BatchNorm (`cnnlab plot`). Each picture is copied into docs/img at most 900 pixels wide, in 64
colours, to keep the repository small.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image

from cnnlab.cli import main

IMG = Path(__file__).resolve().parent / "img"
WIDTH = 900


def shrink(source: Path, name: str) -> None:
    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > WIDTH:
            image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS)
        image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(IMG / name, optimize=True)
    print(f"docs/img/{name}")


def train(*argv: str) -> None:
    if main(["train", *argv, "--no-progress"]) != 0:
        sys.exit(f"cnnlab train {' '.join(argv)} failed")


def draw(work: Path) -> None:
    train("lenet5", "--data", "digits", "--out", str(work / "lenet5"))
    for name in ("curves", "confusion", "mistakes"):
        shrink(work / "lenet5" / f"{name}.png", f"run-lenet5-{name}.png")
    shapes = ["--data", "shapes", "--data-kw", "n_train=2000", "--data-kw", "n_test=500"]
    train("tinydet", *shapes, "--data-kw", "task=detection", "--epochs", "12", "--out", str(work / "det"))
    for name in ("curves", "pr_curves", "predictions"):
        shrink(work / "det" / f"{name}.png", f"run-tinydet-{name}.png")
    train(
        "small_cnn",
        "--data",
        "shapes",
        "--data-kw",
        "task=multilabel",
        "--data-kw",
        "n_test=500",
        "--out",
        str(work / "ml"),
    )  # fmt: skip  (its default recipe: 10,000 images, 12 epochs)
    shrink(work / "ml" / "pr_curves.png", "run-multilabel-pr_curves.png")
    runs = []
    for act, norm in (("sigmoid", "none"), ("relu", "none"), ("relu", "batch")):
        runs.append(str(work / f"mlp-{act}-{norm}"))
        train("mlp", "--data", "digits", "--kw", "depth=10", "--act", act, "--norm", norm, "--epochs", "10",
              "--optimizer", "sgd", "--lr", "0.05", "--no-plots", "--out", runs[-1])  # fmt: skip
    if main(["plot", *runs, "--out", str(work / "plot.png")]) != 0:
        sys.exit("cnnlab plot failed")
    shrink(work / "plot.png", "run-plot-activations.png")


if __name__ == "__main__":
    torch.set_num_threads(1)
    IMG.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        draw(Path(folder))
