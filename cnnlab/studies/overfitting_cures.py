"""overfitting-cures: each classic cure for overfitting, alone, against a network that overfits.

Claim: overfitting is cured by more data or data augmentation, by regularization (dropout, BatchNorm, an L1 or an
L2 penalty), by fewer parameters, and by weight decay.

Question: on a training set small enough that a network fits it perfectly, which cures, each applied alone at a
strength fixed in advance, shrink the gap between training and test accuracy — without buying it with a lower test
accuracy?

Design: the baseline is an MLP with 2 hidden layers of 128 ReLU units, no normalization or dropout, trained with
Adam (lr 2e-3, cosine decay, batch 64) on 512 shapes of 16×16 pixels (difficulty 0; the same images for every arm
and seed), 40 epochs (quick) or 80 (full). An MLP, not a small CNN: at a budget of about a second per run the MLP
fits its training set almost perfectly and its test accuracy varies little between seeds, while a CNN narrow enough
for that budget stays undertrained. Each other arm changes one thing; its strength is a standard value or a stated
rule, never tuned on the outcome:
- `augment`: random crops after zero padding of 1/8 of the side, plus horizontal flips ('crop:2,flip' at 16 px:
  He et al. 2016's CIFAR recipe of 4 px at 32 px; every shape class is mirror-symmetric as a class).
- `dropout`: p = 0.5 after every hidden layer (Hinton et al. 2012).
- `batchnorm`: BatchNorm in every hidden layer (Ioffe & Szegedy 2015).
- `l2`: an explicit penalty λ₂/2·Σw² with λ₂ = 5e-4, the value of AlexNet and VGG; under Adam it is rescaled like
  any gradient (coupled).
- `l1`: λ₁·Σ|w| matched to the L2 arm by the rule of `l1-vs-l2`: λ₁ = λ₂·E|w₀|, the same pull on a weight of
  average initial size.
- `weight_decay`: AdamW's decoupled decay (AdamW with no decay is Adam, so this arm changes only the decay; with SGD
  weight decay would be the L2 arm again). Strength: Loshchilov & Hutter's (2019) normalized weight decay,
  λ = λ_norm·√(b / (B·T)) per step of the schedule with λ_norm = 0.05, b the batch, B the training images, T the
  epochs; PyTorch multiplies the decay by the learning rate, so it receives λ / lr, and decays every parameter,
  biases included.
- `half_width`: 64 hidden units instead of 128 (about half the parameters).
The seed sets init, order, augmentation and dropout. Measured: training accuracy (evaluation mode, all training
images), test accuracy, and their gap, each cure against the baseline paired by seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._base import Context, Results, Study, Table, Verdict
from ._common import accuracy, fit, shapes_data
from ._registry import register_study
from .l1_vs_l2 import matched_l1
from .stats import NEGATIVE, NEGLIGIBLE, POSITIVE, UNCLEAR, effect, mean_std

CURES = ("augment", "dropout", "batchnorm", "l1", "l2", "weight_decay", "half_width")
ARMS = ("baseline", *CURES)
OVERFIT_TRAIN = 0.95  # the baseline must fit ≥ 95% of its training images …
OVERFIT_GAP = 0.15  # … and lose ≥ 15 points on the test set, or there is no overfitting to cure
MIN_GAP_CUT = 0.03  # a cure must shrink the train–test gap by ≥ 3 points to count
MIN_TEST_LOSS = 0.02  # a test-accuracy drop of ≥ 2 points means the gap closed by underfitting, not a cure
DROPOUT = 0.5  # Hinton et al. 2012
L2 = 5e-4  # AlexNet (Krizhevsky et al. 2012), VGG (Simonyan & Zisserman 2015)
WD_NORM = 0.05  # normalized weight decay for AdamW (Loshchilov & Hutter 2019)
LR, BATCH, DATA_SEED = 2e-3, 64, 11  # Adam lr per step; batch in images; the shapes stream every arm sees

PROFILES = {
    "quick": {"n_train": 512, "n_test": 1000, "image_size": 16, "width": 128, "depth": 2, "epochs": 40},
    "full": {"n_train": 512, "n_test": 2000, "image_size": 16, "width": 128, "depth": 2, "epochs": 80},
}


def _data(ctx: Context):
    return shapes_data(ctx["n_train"], ctx["n_test"], difficulty=0.0, image_size=ctx["image_size"], seed=DATA_SEED)


def decoupled_decay(n_train: int, epochs: int, batch: int = BATCH, lr: float = LR) -> float:
    """PyTorch AdamW's weight_decay for the normalized decay λ_norm·√(b / (B·T)) of Loshchilov & Hutter (2019)."""
    return WD_NORM * math.sqrt(batch / (n_train * epochs)) / lr


def arm_config(arm: str, ctx: Context) -> dict[str, Any]:
    """The training configuration of `arm`: the baseline's with one change."""
    config: dict[str, Any] = {
        "model": "mlp",
        "norm": "none",
        "dropout": 0.0,
        "model_kwargs": {"depth": ctx["depth"], "width": ctx["width"]},
        "epochs": ctx["epochs"],
        "batch_size": BATCH,
        "lr": LR,
        "optimizer": "adam",
        "schedule": "cos",
    }
    if arm == "augment":
        config["augment"] = f"crop:{ctx['image_size'] // 8},flip"
    elif arm == "dropout":
        config["dropout"] = DROPOUT
    elif arm == "batchnorm":
        config["norm"] = "batch"
    elif arm == "l2":
        config["l2"] = L2
    elif arm == "l1":
        train, _ = _data(ctx)
        config["l1"] = matched_l1(L2, train, **{k: config[k] for k in ("model", "norm", "dropout", "model_kwargs")})
    elif arm == "weight_decay":
        config["optimizer"] = "adamw"
        config["weight_decay"] = decoupled_decay(ctx["n_train"], ctx["epochs"])
    elif arm == "half_width":
        config["model_kwargs"] = {"depth": ctx["depth"], "width": ctx["width"] // 2}
    elif arm != "baseline":
        raise ValueError(f"overfitting-cures has no arm {arm!r}; its arms: {', '.join(ARMS)}")
    return config


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    train, test = _data(ctx)
    config = arm_config(arm, ctx)
    result = fit(ctx, seed, (train, test), **config)
    train_acc = accuracy(result.model, train)
    return {
        "train_accuracy": train_acc,
        "test_accuracy": result.test_accuracy,
        "gap": train_acc - result.test_accuracy,
        "params": sum(p.numel() for p in result.model.parameters()),
        "l1": config.get("l1", 0.0),
        "weight_decay": config.get("weight_decay", 0.0),
    }


def reading(r: Results, cure: str) -> tuple[str, Any, Any]:
    """('cured' | 'not cured' | 'underfit' | 'unclear', gap effect, test effect) of `cure` against the baseline."""
    gap = effect(r.values(cure, "gap"), r.values("baseline", "gap"), MIN_GAP_CUT)
    test = effect(r.values(cure, "test_accuracy"), r.values("baseline", "test_accuracy"), MIN_TEST_LOSS)
    if gap.direction == NEGATIVE:
        return ("underfit" if test.direction == NEGATIVE else "cured"), gap, test
    if gap.direction in (NEGLIGIBLE, POSITIVE):
        return "not cured", gap, test
    assert gap.direction == UNCLEAR
    return "unclear", gap, test


def decide(r: Results) -> Verdict:
    n = len(r.seeds)
    base_train, base_gap = r.values("baseline", "train_accuracy"), r.values("baseline", "gap")
    base = (
        f"baseline train {mean_std(base_train, 100)}%, test {mean_std(r.values('baseline', 'test_accuracy'), 100)}%, "
        f"gap {mean_std(base_gap, 100)} pts"
    )
    if base_train.mean() < OVERFIT_TRAIN or base_gap.mean() < OVERFIT_GAP:
        return Verdict("inconclusive", f"The baseline does not overfit enough to test a cure ({base}; {n} seeds).",
                       f"baseline gap {base_gap.mean() * 100:.0f} pts")  # fmt: skip
    readings = {c: reading(r, c) for c in r.arms if c != "baseline"}
    cured = [c for c, (k, _, _) in readings.items() if k == "cured"]
    failed = [c for c, (k, _, _) in readings.items() if k in ("not cured", "underfit")]

    def describe(cures: list[str]) -> str:
        return ", ".join(f"{c} {readings[c][1].interval.format(100, unit=' pts')}" for c in cures) or "none"

    unclear = [c for c, (k, _, _) in readings.items() if k == "unclear"]
    underfit = [c for c, (k, _, _) in readings.items() if k == "underfit"]
    detail = (
        f"gap change vs baseline (paired, {n} seeds) — cut the gap: {describe(cured)}; did not: {describe(failed)}"
        + (f" (of these, {', '.join(underfit)} closed it only by losing test accuracy)" if underfit else "")
        + (f"; unclear: {describe(unclear)}" if unclear else "")
        + f"; {base}"
    )
    short = f"{len(cured)}/{len(readings)} cures cut the gap"
    if len(cured) == len(readings):
        return Verdict("supported", f"Every cure shrank the train–test gap: {detail}.", short)
    if cured and failed:
        return Verdict("nuanced", f"Only some cures shrank the gap: {detail}.", short)
    if len(failed) == len(readings):
        return Verdict("refuted", f"No cure shrank the gap by {MIN_GAP_CUT * 100:.0f} points: {detail}.", short)
    return Verdict("inconclusive", f"Too noisy to sort the cures at this budget: {detail}.", short)


def _ranked(r: Results) -> list[str]:
    cures = [a for a in r.arms if a != "baseline"]
    return sorted(cures, key=lambda c: float(np.mean(r.values(c, "gap") - r.values("baseline", "gap"))))


def table(r: Results) -> Table:
    base = [mean_std(r.values("baseline", k), 100) for k in ("train_accuracy", "test_accuracy", "gap")]
    rows = [("baseline", f"{int(r.first('baseline', 'params')):,}", *base, "—", "—", "—")]
    for cure in _ranked(r):
        kind, gap, test = reading(r, cure)
        rows.append((
            cure,
            f"{int(r.first(cure, 'params')):,}",
            mean_std(r.values(cure, "train_accuracy"), 100),
            mean_std(r.values(cure, "test_accuracy"), 100),
            mean_std(r.values(cure, "gap"), 100),
            gap.interval.format(100),
            test.interval.format(100),
            kind,
        ))  # fmt: skip
    columns = ("arm", "params", "train acc %", "test acc %", "gap pts", "Δgap pts vs baseline", "Δtest pts vs baseline",
               "reading")  # fmt: skip
    return Table(columns, tuple(rows))


def _dot_plot(r: Results, key: str, xlabel: str, title: str, threshold: float):
    import matplotlib.pyplot as plt

    cures = _ranked(r)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, cure in enumerate(cures):
        _, gap, test = reading(r, cure)
        iv = (gap if key == "gap" else test).interval
        diffs = (r.values(cure, key) - r.values("baseline", key)) * 100
        first = i == 0
        ax.scatter(diffs, [i] * len(diffs), color="C0", alpha=0.6, s=18, zorder=3, label="seed" if first else None)
        low, high = max(iv.low, -1.0), min(iv.high, 1.0)  # a NaN seed makes the interval infinite
        ax.plot([low * 100, high * 100], [i, i], color="C1", lw=2, label="mean, 95% CI" if first else None)
        ax.scatter([iv.mean * 100], [i], color="C1", marker="|", s=150, zorder=4)
    ax.axvline(0, color="grey", lw=0.8)
    ax.axvspan(-threshold * 100, threshold * 100, color="grey", alpha=0.12, lw=0,
               label=f"±{threshold * 100:.0f} pts: too small to matter")  # fmt: skip
    ax.set_yticks(range(len(cures)), cures)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def figure(r: Results):
    gap = _dot_plot(r, "gap", "change of the train–test gap vs baseline (points)",
                    "Train–test gap: each cure against the baseline", MIN_GAP_CUT)  # fmt: skip
    test = _dot_plot(r, "test_accuracy", "change of test accuracy vs baseline (points)",
                     "Test accuracy: each cure against the baseline", MIN_TEST_LOSS)  # fmt: skip
    return [gap, test]


STUDY = register_study(
    Study(
        id="overfitting-cures",
        title="Cures for overfitting, one at a time",
        topic="Overfitting: augmentation, regularization, fewer parameters, weight decay",
        claim="Overfitting is cured by more data or data augmentation, by regularization (dropout, BatchNorm, L1, "
        "L2), by fewer parameters, and by weight decay.",
        question="On a training set an MLP fits perfectly, which cures — each alone, at a strength fixed "
        "in advance — shrink the train–test accuracy gap without lowering test accuracy?",
        design="Baseline: MLP 2×128 without BatchNorm or dropout, Adam lr 2e-3, cosine, batch 64; 512 shapes of "
        "16 px at difficulty 0, the same for every arm and seed; 40 epochs (quick) or 80 (full). Cures, one per arm: "
        "crop (1/8 of the side) + flip; dropout 0.5; BatchNorm; "
        "L2 penalty 5e-4; L1 penalty matched to it (λ₁ = λ₂·E|w₀|); AdamW decoupled decay at normalized "
        "λ_norm = 0.05; half the width.",
        rule=f"The baseline must overfit (training accuracy ≥ {OVERFIT_TRAIN * 100:.0f}%, gap ≥ "
        f"{OVERFIT_GAP * 100:.0f} points), else inconclusive. A cure cures when the paired 95% CI of its gap change "
        f"lies below 0 with a mean cut ≥ {MIN_GAP_CUT * 100:.0f} points and its test accuracy is not lower by ≥ "
        f"{MIN_TEST_LOSS * 100:.0f} points (CI below 0); it does not cure when the gap change is negligible or "
        "positive, or the gap closed only by losing test accuracy. Supported if every cure cures, nuanced if some do "
        "and some do not, refuted if none does, otherwise inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
    )
)
