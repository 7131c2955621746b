"""fc-head: does a classifier that assembles the whole feature map beat one that sees only channel averages?

Claim: convolutions extract local features; fully connected layers reassemble those local features, through their
weight matrix, into the whole picture, and act as the network's classifier.

Question: on shapes, does a flatten + FC head (one weight per channel, position and class: it sees where each local
feature sits) classify better than a global-average-pool + FC head (one weight per channel and class: it sees only
how strongly each feature occurs), and what does each cost in parameters and overfitting (train − test accuracy)?

Design: arms `fc` (the C×3×3 map flattened into one FC layer) and `gap` (each channel averaged, then one FC layer).
Both end in an FC layer, so both use one as the classifier; only the assembly across positions differs. Held fixed:
the convolutional body (small_cnn: three stages of 3×3 conv-BN-ReLU at 8, 16, 32 channels, each followed by a 2×2
max pool), the data (shapes, 24×24 px, difficulty 0.2, data seed 21: the same images for every arm and seed), Adam
at lr 0.01 with cosine decay, batch 64, the epochs per profile. The seed sets the initial weights and the data order.
Train accuracy is measured after training in eval mode, like test accuracy.
"""

from __future__ import annotations

from typing import Any

from ._base import Context, Results, Study, Table, Verdict
from ._common import accuracy, fit, shapes_data
from ._registry import register_study
from .stats import NEGATIVE, NEGLIGIBLE, POSITIVE, effect, mean_std

ARMS = ("fc", "gap")
MIN_GAIN = 0.02  # the smallest test-accuracy difference between the heads that matters: 2 points

PROFILES = {
    "quick": {"n_train": 1500, "n_test": 1000, "image_size": 24, "epochs": 10, "widths": [8, 16, 32]},
    "full": {"n_train": 8000, "n_test": 2000, "image_size": 24, "epochs": 20, "widths": [8, 16, 32]},
}
DIFFICULTY = 0.2
DATA_SEED = 21


def _data(p: Any):
    return shapes_data(p["n_train"], p["n_test"], image_size=p["image_size"], difficulty=DIFFICULTY, seed=DATA_SEED)


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    train, test = _data(ctx)
    kwargs = {"widths": tuple(ctx["widths"]), "head": arm}
    result = fit(ctx, seed, (train, test), model="small_cnn", epochs=ctx["epochs"], batch_size=64, lr=0.01,
                 optimizer="adam", model_kwargs=kwargs)  # fmt: skip
    model = result.model
    train_acc = accuracy(model, train)
    return {
        "test_accuracy": result.test_accuracy,
        "train_accuracy": train_acc,
        "gap": train_acc - result.test_accuracy,
        "params": sum(p.numel() for p in model.parameters()),
        "head_params": sum(p.numel() for p in model.head.parameters()),
    }


def decide(r: Results) -> Verdict:
    gain = effect(r.values("fc", "test_accuracy"), r.values("gap", "test_accuracy"), MIN_GAIN)
    fc, gap = r.values("fc", "test_accuracy"), r.values("gap", "test_accuracy")
    heads = int(r.first("fc", "head_params")), int(r.first("gap", "head_params"))
    numbers = (
        f"flatten + FC {mean_std(fc, 100)}% vs global average pool + FC {mean_std(gap, 100)}% test accuracy (paired "
        f"difference {gain.interval.format(100, unit=' pts')}, {len(r.seeds)} seeds), heads of {heads[0]:,} vs "
        f"{heads[1]:,} parameters, train − test gap {mean_std(r.values('fc', 'gap'), 100)} vs "
        f"{mean_std(r.values('gap', 'gap'), 100)} pts"
    )
    short = f"FC − GAP {gain.mean * 100:+.1f} pts"
    if gain.direction == POSITIVE:
        return Verdict("supported", f"Assembling the whole map in the FC layer classified better: {numbers}.", short)
    if gain.direction == NEGLIGIBLE:
        return Verdict("nuanced", f"An FC layer is the classifier in both heads, but assembling positions added no "
                       f"accuracy: {numbers}.", short)  # fmt: skip
    if gain.direction == NEGATIVE:
        return Verdict("refuted", f"The head that only sees channel averages classified better: {numbers}.", short)
    return Verdict("inconclusive", f"Too noisy to decide at this budget: {numbers}.", short)


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        rows.append((arm, f"{int(r.first(arm, 'params')):,}", f"{int(r.first(arm, 'head_params')):,}",
                     mean_std(r.values(arm, "train_accuracy"), 100), mean_std(r.values(arm, "test_accuracy"), 100),
                     mean_std(r.values(arm, "gap"), 100)))  # fmt: skip
    return Table(("head", "parameters", "head parameters", "train accuracy %", "test accuracy %", "train − test pts"),
                 tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for i, arm in enumerate(r.arms):
        for key, marker, label in (("train_accuracy", "^", "train"), ("test_accuracy", "o", "test")):
            acc = r.values(arm, key) * 100
            ax.scatter([i + (0.12 if key == "test_accuracy" else -0.12)] * len(acc), acc, marker=marker,
                       color="C1" if key == "train_accuracy" else "C0", alpha=0.8, zorder=3,
                       label=label if i == 0 else None)  # fmt: skip
    ax.set_xticks(range(len(r.arms)), ["flatten + FC", "global avg pool + FC"])
    ax.set_xlim(-0.6, len(r.arms) - 0.4)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Shapes: train and test accuracy of the two heads")
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


STUDY = register_study(
    Study(
        id="fc-head",
        title="Fully connected head vs global average pooling",
        topic="Convolution components: the fully connected layer",
        claim="Fully connected layers reassemble the local features found by the convolutions into the whole "
        "picture through their weight matrix, and act as the network's classifier.",
        question="On shapes, how much test accuracy does a flatten + FC head gain over a global-average-pool + FC "
        "head on the same convolutional body, and at what cost in parameters and overfitting?",
        design="Arms: flatten + FC (the 32×3×3 map into one FC layer) and global average pool + FC, on the same "
        "small_cnn body (8-16-32 channels, 2×2 max pools). Same shapes images (24×24 px, difficulty 0.2); Adam "
        "lr 0.01, cosine decay, batch 64; quick 10 epochs on 1,500 images, full 20 epochs on 8,000 images.",
        rule=f"Supported if flatten + FC beats global average pooling by ≥ {MIN_GAIN * 100:.0f} test-accuracy points "
        f"(95% CI of the paired difference above 0); nuanced if the difference is negligible (CI within "
        f"±{MIN_GAIN * 100:.0f} points: both heads classify, assembling positions adds nothing); refuted if global "
        "average pooling is better by that margin; otherwise inconclusive. Parameters and the train − test gap are "
        "reported, not judged.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
    )
)
