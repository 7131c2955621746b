"""batchnorm: does BatchNorm speed training up, widen the stable learning rates and let deeper nets train?

Claim: normalizing each layer's inputs by the statistics of the mini-batch (BatchNorm) makes training converge
faster and makes it more stable, so that larger learning rates and deeper networks can be trained; it is also said
to reduce overfitting.

Question: with and without BatchNorm, (1) how many SGD steps does a small CNN need to reach 90% validation accuracy
on handwritten digits, each at its own best learning rate of a fixed grid; (2) what is the largest learning rate of
that grid at which it still trains; (3) how deep can a plain MLP be on a fixed depth grid and still train?

Design: arms `none` and `batch` (BatchNorm after every hidden conv or linear layer). Each run is one seed of one arm
and walks two fixed grids:
- learning rates 0.01, 0.03, 0.1, 0.3, 1, 3 (SGD, momentum 0.9, constant rate, batch 32) for `small_cnn` with
  16 and 32 channels (He initialization). A learning rate is *stable* when the loss stays finite and the last
  epoch's training accuracy reaches 80%. The walk goes up the grid and stops at the first unstable rate above a
  stable one; the largest stable rate is the last stable one. Every few steps the validation accuracy is measured
  (eval mode: BatchNorm uses its running statistics) until it reaches 90%. Fair rates (Choi et al., 2019): each
  arm's rate for the speed part is the grid rate with the fewest steps to 90% on a tuning seed that is not a
  measured seed (ties to the smaller rate); the arm's *steps to 90%* on a measured seed are those at that rate. A
  run that never gets there, or is unstable there, counts its total steps plus one check interval, a lower bound
  that understates the slower arm's slowness. The budget is equal epochs (equal samples and steps) for both arms.
- depths 2, 4, 8, 16, 32 hidden layers of 64 units for `mlp` with ReLU at SGD lr 0.1 (momentum 0.9, constant).
  The MLP keeps PyTorch's default initialization (weight variance 1/(3·fan_in)), as a plain net built without
  care would: a signal through ReLU layers then shrinks with depth, which is what normalization is said to cure;
  with He initialization the plain depth limit would lie higher. A depth *trains* under the same rule as a
  learning rate (finite loss, last-epoch training accuracy ≥ 80%); the walk stops at the first depth that fails.
Held fixed: the data (the training split less a validation hold-out drawn once with data seed 0; the same images
for every arm and seed), everything but the norm. The seed sets initial weights and data order. Quick: embedded
8×8 digits, 300 held out, 3 epochs per run; full: MNIST (8,000 train / 2,000 test with --data-dir), 1,000 held
out, 5 epochs. The third claim, less overfitting, is not judged: a 355-image test set and 3 seeds resolve no
one-point generalization difference, and at a fixed epoch budget test accuracy mixes generalization with how far
each arm converged. The table still shows each arm's test accuracy at the learning rate it validates best at.
Competence: BatchNorm's net, at the rate it validates best at, must classify the test digits well. Full: 5 seeds
plus the tuning seed, each a walk over up to 6 rates and 5 depths of 5 epochs on MNIST 8,000: some 25 core-minutes
(estimated from the quick units scaled by steps).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..engine import Callback, TrainingDiverged, TrainState
from ._base import Anchor, Context, Results, Revision, Study, Table, Verdict
from ._common import accuracy, digit_data, fit, shared
from ._registry import register_study
from .evidence import reaches
from .stats import NEGATIVE, NEGLIGIBLE, POSITIVE, UNCLEAR, effect, mean_std

ARMS = ("none", "batch")
LRS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # SGD learning rates, each about √10 × the last
DEPTHS = (2, 4, 8, 16, 32)  # hidden layers of the plain MLP
TARGET_ACC = 0.90  # "converged": validation accuracy reached
STABLE_ACC = 0.80  # "trains": last-epoch training accuracy reached (chance is 10%) with a finite loss
MIN_SPEEDUP = 1.5  # BatchNorm must need at most 1/1.5 of the steps to count as faster
MIN_GRID_STEPS = 1.0  # the largest stable lr or depth must move by at least one grid step to matter
DATA_SEED = 0  # draws the validation hold-out, the same for every arm and seed
VERSION = 2
TUNE_SEED = 999  # the seed whose sweep picks each arm's rate for the speed part; never one of the measured seeds

PROFILES = {
    "quick": {"n_val": 300, "epochs": 3, "depth_epochs": 3, "width": 64, "check_every": 6},
    "full": {"n_val": 1000, "epochs": 5, "depth_epochs": 5, "width": 64, "check_every": 20},
}
_SGD = {"optimizer": "sgd", "momentum": 0.9, "schedule": "constant", "batch_size": 32}


def _split(ctx: Context):
    """(train, val, test): the training split less a fixed random hold-out of `n_val` images (at most a quarter,
    for the full profile on the embedded digits)."""
    train, test = digit_data(ctx)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(DATA_SEED))
    n_val = min(ctx["n_val"], len(train) // 4)
    return (train.subset(order[n_val:].sort().values, f"{train.name}-train"),
            train.subset(order[:n_val].sort().values, f"{train.name}-val"), test)  # fmt: skip


class StepsToTarget(Callback):
    """Measures validation accuracy every `every` optimizer steps until it reaches `target`; records that step.

    Also records the validation accuracy of the final weights.
    """

    def __init__(self, val, target: float, every: int) -> None:
        self.val, self.target, self.every = val, target, every
        self.step: int | None = None
        self.final_val: float = math.nan

    def on_step_end(self, state: TrainState) -> None:
        if self.step is None and state.step % self.every == 0 and accuracy(state.model, self.val) >= self.target:
            self.step = state.step

    def on_train_end(self, state: TrainState) -> None:
        self.final_val = accuracy(state.model, self.val)


def _trains(history: tuple[dict[str, Any], ...]) -> bool:
    last = history[-1]
    return math.isfinite(last["train_loss"]) and last["train_accuracy"] >= STABLE_ACC


def _lr_sweep(arm: str, seed: int, ctx: Context, train, val, test) -> dict[str, Any]:
    n = len(LRS)
    out: dict[str, list[Any]] = {k: [None] * n for k in ("stable", "steps", "train_acc", "val_acc", "test_acc")}
    total_steps = ctx["epochs"] * math.ceil(len(train) / _SGD["batch_size"])
    seen_stable = False
    for i, lr in enumerate(LRS):
        watch = StepsToTarget(val, TARGET_ACC, ctx["check_every"])
        try:
            result = fit(ctx, seed, (train, test), callbacks=[watch], model="small_cnn", norm=arm, lr=lr,
                         epochs=ctx["epochs"], model_kwargs={"widths": (16, 32)}, **_SGD)  # fmt: skip
            stable = _trains(result.history)
            out["train_acc"][i] = result.history[-1]["train_accuracy"]
            out["val_acc"][i], out["test_acc"][i] = watch.final_val, result.test_accuracy
        except TrainingDiverged:
            stable = False
        out["stable"][i], out["steps"][i] = stable, watch.step
        if stable:
            seen_stable = True
        elif seen_stable:
            break
    stable_idx = [i for i in range(n) if out["stable"][i]]
    best_val = max(stable_idx, key=lambda i: out["val_acc"][i], default=None)
    numbers = {f"lr_{key}": values for key, values in out.items()}  # one entry per grid lr, None where not run
    numbers["max_lr_index"] = max(stable_idx, default=-1)
    numbers["total_steps"] = total_steps
    numbers["test_accuracy"] = out["test_acc"][best_val] if best_val is not None else math.nan
    return numbers


def fastest_index(sweep: dict[str, Any]) -> int:
    """The grid index of the stable rate with the fewest steps to the target (ties to the smaller rate); the
    best-validating stable rate if none got there, and the smallest rate if none was stable."""
    stable = [i for i, ok in enumerate(sweep["lr_stable"]) if ok]
    reached = [i for i in stable if sweep["lr_steps"][i] is not None]
    if reached:
        return min(reached, key=lambda i: (sweep["lr_steps"][i], i))
    return max(stable, key=lambda i: sweep["lr_val_acc"][i], default=0)


def _tuned_index(ctx: Context, arm: str) -> int:
    """The grid index the tuning seed's sweep picks for `arm`: swept once per study cache (`_common.shared`),
    whichever worker and measured seed asks first."""
    train, val, test = _split(ctx)
    config = {"study": "batchnorm", "version": VERSION, "arm": arm, "params": dict(ctx.params), "grid": LRS}

    def tune() -> dict[str, int]:
        return {"index": fastest_index(_lr_sweep(arm, TUNE_SEED, ctx, train, val, test))}

    return shared(ctx, "tuning", config, TUNE_SEED, tune)["index"]


def _depth_sweep(arm: str, seed: int, ctx: Context, train, test) -> dict[str, Any]:
    train_acc: list[float | None] = [None] * len(DEPTHS)
    deepest = -1
    for i, depth in enumerate(DEPTHS):
        try:
            result = fit(ctx, seed, (train, test), model="mlp", act="relu", norm=arm, lr=0.1,
                         epochs=ctx["depth_epochs"], model_kwargs={"depth": depth, "width": ctx["width"]},
                         **_SGD)  # fmt: skip
            train_acc[i] = result.history[-1]["train_accuracy"]
            ok = _trains(result.history)
        except TrainingDiverged:
            ok = False
        if not ok:
            break
        deepest = i
    return {"depth_train_acc": train_acc, "max_depth_index": deepest}


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    train, val, test = _split(ctx)
    sweep = _lr_sweep(arm, seed, ctx, train, val, test)
    tuned = _tuned_index(ctx, arm)
    steps = sweep["lr_steps"][tuned] if sweep["lr_stable"][tuned] else None
    sweep["tuned_lr"] = LRS[tuned]
    sweep["reached"] = steps is not None
    sweep["steps_to_target"] = steps if steps is not None else sweep["total_steps"] + ctx["check_every"]
    return sweep | _depth_sweep(arm, seed, ctx, train, test)


def _grid_value(grid: tuple[float, ...], index: float) -> str:
    return "none" if index < 0 else f"{grid[int(index)]:g}"


def decide(r: Results) -> Verdict:
    steps_none, steps_bn = r.values("none", "steps_to_target"), r.values("batch", "steps_to_target")
    speed = effect(np.log2(steps_none), np.log2(steps_bn), math.log2(MIN_SPEEDUP))
    lr = effect(r.values("batch", "max_lr_index"), r.values("none", "max_lr_index"), MIN_GRID_STEPS)
    depth = effect(r.values("batch", "max_depth_index"), r.values("none", "max_depth_index"), MIN_GRID_STEPS)
    parts = {"faster convergence": speed, "larger stable learning rate": lr, "deeper trainable net": depth}

    def grid_arms(key: str, grid: tuple[float, ...]) -> str:
        return " vs ".join(
            f"{arm} {'/'.join(_grid_value(grid, v) for v in r.values(arm, key))}" for arm in ("batch", "none")
        )

    numbers = (
        f"steps to {TARGET_ACC:.0%} validation accuracy {mean_std(steps_bn, digits=0)} with BatchNorm vs "
        f"{mean_std(steps_none, digits=0)} without (speed-up ×{2**speed.mean:.2f}, 95% CI ×{2**speed.interval.low:.2f}"
        f" to ×{2**speed.interval.high:.2f}); largest stable lr per seed {grid_arms('max_lr_index', LRS)} (paired "
        f"{lr.interval.format(unit=' grid steps')}); deepest MLP that trains {grid_arms('max_depth_index', DEPTHS)} "
        f"hidden layers (paired {depth.interval.format(unit=' grid steps')}); {len(r.seeds)} seeds"
    )  # fmt: skip
    short = f"×{2**speed.mean:.1f} faster, lr +{lr.mean:.1f}, depth +{depth.mean:.1f} steps"
    held = [name for name, e in parts.items() if e.direction == POSITIVE]
    failed = [name for name, e in parts.items() if e.direction in (NEGLIGIBLE, NEGATIVE)]
    unclear = [name for name, e in parts.items() if e.direction == UNCLEAR]
    if len(held) == len(parts):
        return Verdict("supported", f"BatchNorm trained faster, at larger learning rates and deeper: {numbers}.",
                       short)  # fmt: skip
    if held and failed:
        rest = f"; undecided: {', '.join(unclear)}" if unclear else ""
        return Verdict("nuanced", f"Holds for {', '.join(held)}, not for {', '.join(failed)}{rest}: {numbers}.",
                       short)  # fmt: skip
    if len(failed) == len(parts):
        return Verdict("refuted", f"BatchNorm helped in none of the three ways: {numbers}.", short)
    so_far = f"{', '.join(held).capitalize()} held; too" if held else "Too"
    return Verdict("inconclusive", f"{so_far} noisy to decide {', '.join(unclear)} at this budget: {numbers}.",
                   short)  # fmt: skip


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        rows.append((
            arm,
            f"{r.first(arm, 'tuned_lr'):g}",
            mean_std(r.values(arm, "steps_to_target"), digits=0),
            "/".join(_grid_value(LRS, v) for v in r.values(arm, "max_lr_index")),
            "/".join(_grid_value(DEPTHS, v) for v in r.values(arm, "max_depth_index")),
            mean_std(r.values(arm, "test_accuracy"), 100),
        ))  # fmt: skip
    return Table(("arm", "lr (tuned for speed)", f"steps to {TARGET_ACC:.0%} val acc", "largest stable lr (per seed)",
                  "deepest MLP that trains (per seed)", "test acc % at best-val lr"), tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    runs = [run for arm in r.arms for run in r.runs[arm]]
    never = max(max((s for s in run["lr_steps"] if s is not None), default=0) for run in runs)
    never = max(never, *(run["steps_to_target"] for run in runs))  # a stable run that never got there sits here
    fig1, ax = plt.subplots(figsize=(6, 3.6))
    for c, arm in enumerate(r.arms):
        for k, run in enumerate(r.runs[arm]):
            xs, ys, xs_bad = [], [], []
            for lr, stable, steps in zip(LRS, run["lr_stable"], run["lr_steps"], strict=True):
                if stable is None:
                    continue
                if stable:
                    xs.append(lr)
                    ys.append(steps if steps is not None else never)
                else:
                    xs_bad.append(lr)
            ax.plot(xs, ys, "o-", color=f"C{c}", alpha=0.6, label=arm if k == 0 else None)
            ax.plot(xs_bad, [never * 1.1] * len(xs_bad), "x", color=f"C{c}", alpha=0.8,
                    label=f"{arm}: unstable" if k == 0 and xs_bad else None)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("SGD learning rate")
    ax.set_ylabel(f"steps to {TARGET_ACC:.0%} val. accuracy")
    ax.set_title("Small CNN: steps to 90% and the stable learning rates")
    ax.legend(fontsize=8)
    fig1.tight_layout()

    fig2, ax = plt.subplots(figsize=(6, 3.6))
    for c, arm in enumerate(r.arms):
        for k, run in enumerate(r.runs[arm]):
            pts = [(d, a * 100) for d, a in zip(DEPTHS, run["depth_train_acc"], strict=True) if a is not None]
            if pts:  # a run that diverged at the shallowest depth has none
                ax.plot(*zip(*pts, strict=True), "o-", color=f"C{c}", alpha=0.6, label=arm if k == 0 else None)
    ax.axhline(STABLE_ACC * 100, color="grey", lw=0.8, ls=":", label="'trains' bar")
    ax.set_xscale("log", base=2)
    ax.set_xticks(DEPTHS, [str(d) for d in DEPTHS])
    ax.set_xlabel("hidden layers of the MLP (the walk stops at the first that fails)")
    ax.set_ylabel("last-epoch train accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Plain MLP: how deep still trains, with and without BatchNorm")
    ax.legend(fontsize=8)
    fig2.tight_layout()
    return [fig1, fig2]


# --- what the verdict rests on -------------------------------------------------------------------------------------

COMPETENCE = (
    reaches(
        "competence", {"batch": "the BatchNorm CNN (at its best-validating rate)"}, "test_accuracy", at_least=0.95,
        profiles=("quick",),
        basis="on these 8×8 digits the mlp's default recipe reaches 97.5 / 97.2% and LeNet-5's 98.3–98.9% "
        "(docs/training.md); 95% leaves 2.5 points for a 3-epoch run",
    ),
    reaches(
        "competence", {"batch": "the BatchNorm CNN (at its best-validating rate)"}, "test_accuracy", at_least=0.97,
        profiles=("full",),
        basis="LeNet-5 reaches 98.85% on the same MNIST 8,000 / 2,000 split in 8 epochs (benchmarks/README.md); 97% "
        "leaves about 2 points for a 5-epoch run on 7,000 images",
    ),
)  # fmt: skip


def _compare_ioffe(r: Results) -> tuple[str, bool | None]:
    speed = effect(np.log2(r.values("none", "steps_to_target")), np.log2(r.values("batch", "steps_to_target")),
                   math.log2(MIN_SPEEDUP))  # fmt: skip
    here = f"BatchNorm reached {TARGET_ACC:.0%} validation accuracy ×{2**speed.mean:.2f} faster (each at its tuned lr)"
    if speed.direction == POSITIVE:
        return here, True
    if speed.direction in (NEGLIGIBLE, NEGATIVE):
        return here, False
    return here, None


LITERATURE = (
    Anchor(
        "Ioffe & Szegedy (2015), Batch Normalization",
        "abstract and Section 4.2 (Fig. 2 and 3, read from the figures)",
        "Inception on ImageNet with BatchNorm, its rate raised 5× and 30× (BN-x5, BN-x30), against the original",
        "BatchNorm matches the original Inception's accuracy (72.2% top-1) in 14× fewer training steps, and trains "
        "at rates where the original does not",
        _compare_ioffe,
        "a 2-conv CNN on 8×8 digits (MNIST in full) for a few epochs, not Inception on ImageNet; the grid gives "
        "rates in steps of √10 and the speed-up is read at 90% validation accuracy",
    ),
)

REVISIONS = (
    Revision(
        2,
        "The speed part reads each arm's steps to 90% at the rate tuned on a separate tuning seed (fewest steps "
        "there), instead of the fewest steps over each measured seed's own rates; a competence requirement on the "
        "BatchNorm net and a published anchor were added.",
        "picking the best rate on the seed that is then measured flatters both arms by the luck of that seed; a "
        "tuning seed apart from the measured ones is the fair comparison (Choi et al., 2019)",
        "inconclusive, quick: ×1.6 faster, lr +0.7, depth +1.7 steps (seeds 0–2)",
        "inconclusive, quick (seeds 0–2): ×1.59 faster at the tuned rates (BatchNorm 0.03, none 0.1; 95% CI ×1.16 to "
        "×2.18), deeper +1.7 grid steps, larger stable lr +0.7 (unclear); competence met (BatchNorm 98.2%). Full: not "
        "yet measured (the reference run)",
    ),
)


STUDY = register_study(
    Study(
        id="batchnorm",
        title="BatchNorm: speed, stable learning rates, depth",
        topic="Normalization: BatchNorm",
        claim="BatchNorm makes training converge faster and more stable, so that larger learning rates and deeper "
        "networks train; it is also said to reduce overfitting.",
        question="With and without BatchNorm: SGD steps of a small CNN to 90% validation accuracy on digits (each at "
        "its best learning rate), the largest stable learning rate on a fixed grid, and the deepest plain MLP "
        "that still trains on a fixed depth grid.",
        design="Arms: no norm, BatchNorm after every hidden layer. small_cnn (16-32 channels, He init) on lr grid "
        "0.01–3 (SGD momentum 0.9, constant lr, batch 32); MLP of 64 units, PyTorch's default init, on depth grid "
        "2–32 at lr 0.1. Stable/trains = finite loss and last-epoch train accuracy ≥ 80%. Same images and hold-out "
        "for all; quick: digits, 3 epochs per run; full: MNIST, 5 epochs. Less overfitting is not judged (the test "
        "set cannot resolve it); the table shows test accuracy.",
        rule=f"Three parts, each a paired effect over seeds: faster if steps to {TARGET_ACC:.0%} shrink by ≥ "
        f"×{MIN_SPEEDUP:g} (log ratio, 95% CI above 0); larger stable lr and deeper net if BatchNorm moves them up "
        f"≥ {MIN_GRID_STEPS:g} grid step (CI above 0). Supported if all three hold; nuanced if some hold and others "
        "are negligible or negative; refuted if none holds and all are negligible or negative; else inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        version=VERSION,
        requirements=COMPETENCE,
        literature=LITERATURE,
        revisions=REVISIONS,
    )
)
