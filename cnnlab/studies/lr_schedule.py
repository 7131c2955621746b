"""lr-schedule: a constant learning rate against step and cosine decay.

Claim: decaying the learning rate over training (cosine decay, as a training recipe's `lr_decay_type: cos`) ends
training at a better and steadier point than keeping the rate constant.

Question: with the same peak rate and the same epochs, does cosine decay end with a lower full training loss and a
smaller step-to-step spread of the training loss than a constant rate, without losing test accuracy? Where does a
step decay land?

Design: arms `constant`, `step` (×0.1 every ⌈epochs/3⌉ epochs: twice) and `cos` (cosine from the peak to 0). Held
fixed: data (the digits, the same images for every arm and seed), an MLP with two hidden layers of 64 ReLU units,
SGD with momentum 0.9, batch 64, epochs per profile, and the peak rate. The peak rate is the rate of a fixed grid
(0.01, 0.03, 0.1, 0.3) at which the *constant* arm ends with the lowest training loss on a separate tuning seed:
the choice favours the constant rate, so a win for decay is not the artefact of a constant rate set too high.
The seed sets the initial weights (the same in every arm) and the sample order. Measured: test accuracy, the full
training loss at the end, and the noise of the last steps: the standard deviation of the per-step (mini-batch)
training loss over the last 20% of steps.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from ._base import Context, Results, Study, Table, Verdict
from ._common import StepRecorder, digit_data, fit
from ._gradient import full_loss, log_ratio, pick_lr, sci, train_tensors
from ._nets import FAILS, HOLDS, combine, part
from ._registry import register_study
from .stats import NEGATIVE, effect, mean_std

ARMS = ("constant", "step", "cos")
MIN_NOISE_RATIO = 1.5  # the constant rate's end-of-run loss spread must be ≥ 1.5× cosine's to count as unsteadier
MIN_LOSS_RATIO = 1.5  # and its final full training loss ≥ 1.5× cosine's to count as a worse end point
MIN_ACC = 0.01  # cosine must not lose ≥ 1 point of test accuracy (a guard, not a requirement to gain)
TAIL = 0.2  # the last 20% of steps
LR_GRID = (0.01, 0.03, 0.1, 0.3)  # peak rates per step (SGD, momentum 0.9)
TUNE_SEED = 999  # the seed of the runs that pick the peak rate; never one of the measured seeds

PROFILES = {
    "quick": {"epochs": 20, "width": 64},
    "full": {"epochs": 30, "width": 64},
}


def _config(ctx: Context, schedule: str, lr: float) -> dict[str, Any]:
    e = ctx["epochs"]
    return {"model": "mlp", "act": "relu", "model_kwargs": {"depth": 2, "width": ctx["width"]}, "epochs": e,
            "batch_size": 64, "optimizer": "sgd", "momentum": 0.9, "lr": lr, "schedule": schedule,
            "step_size": math.ceil(e / 3), "gamma": 0.1}  # fmt: skip


@lru_cache(maxsize=4)
def _peak_lr(epochs: int, width: int, data_dir: str | None, device: str) -> float:
    ctx = Context("tune", {"epochs": epochs, "width": width}, device=device, data_dir=data_dir)
    data = digit_data(ctx)

    def final_train_loss(lr: float) -> float:
        return fit(ctx, TUNE_SEED, data, **_config(ctx, "constant", lr)).history[-1]["train_loss"]

    return pick_lr(LR_GRID, final_train_loss)


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    data = digit_data(ctx)
    lr = _peak_lr(ctx["epochs"], ctx["width"], ctx.data_dir, ctx.device)
    steps = StepRecorder()
    result = fit(ctx, seed, data, callbacks=[steps], **_config(ctx, arm, lr))
    x, y = train_tensors(data[0], ctx.device)
    loss = np.asarray(steps.loss)
    tail = loss[int(len(loss) * (1 - TAIL)) :]
    return {
        "peak_lr": lr,
        "test_accuracy": result.test_accuracy,
        "final_loss": full_loss(result.model, x, y),
        "tail_noise": float(tail.std(ddof=1)),
        "epoch_loss": [row["train_loss"] for row in result.history],
        "epoch_lr": [row["lr"] for row in result.history],
    }


def decide(r: Results) -> Verdict:
    noise = effect(np.log(r.values("constant", "tail_noise")), np.log(r.values("cos", "tail_noise")),
                   float(np.log(MIN_NOISE_RATIO)))  # fmt: skip
    lower = effect(np.log(r.values("constant", "final_loss")), np.log(r.values("cos", "final_loss")),
                   float(np.log(MIN_LOSS_RATIO)))  # fmt: skip
    acc = effect(r.values("cos", "test_accuracy"), r.values("constant", "test_accuracy"), MIN_ACC)
    parts = {"steadier end": part(noise.direction), "lower final loss": part(lower.direction)}
    if acc.direction == NEGATIVE:
        parts["test accuracy"] = FAILS
    ratio = np.exp(log_ratio(r.values("constant", "tail_noise"), r.values("cos", "tail_noise")).mean())
    acc_of = {arm: mean_std(r.values(arm, "test_accuracy"), 100) for arm in ARMS}
    numbers = (
        f"at peak lr {r.first('cos', 'peak_lr'):g}, the last {TAIL * 100:.0f}% of steps' loss spread was "
        f"{sci(r.values('constant', 'tail_noise'))} (constant) vs {sci(r.values('cos', 'tail_noise'))} "
        f"(cos), paired log-ratio {noise.interval.format(1, 2)}; final training loss "
        f"{sci(r.values('constant', 'final_loss'))} vs {sci(r.values('cos', 'final_loss'))}, "
        f"log-ratio {lower.interval.format(1, 2)}; test accuracy {acc_of['constant']}% vs {acc_of['cos']}% "
        f"(cos − constant {acc.interval.format(100, 1, ' pts')}); "
        f"step decay {sci(r.values('step', 'tail_noise'))} spread, "
        f"{acc_of['step']}%; {len(r.seeds)} seeds"
    )
    short = f"spread ×{ratio:.1f} constant/cos"
    kind = combine(list(parts.values()))
    held = [name for name, p in parts.items() if p == HOLDS]
    failed = [name for name, p in parts.items() if p == FAILS]
    if kind == "supported":
        sentence = f"Cosine decay ended lower and steadier than a constant rate: {numbers}."
    elif kind == "refuted":
        sentence = f"Cosine decay ended neither lower nor steadier than a constant rate: {numbers}."
    elif kind == "nuanced":
        sentence = f"Cosine decay won on {', '.join(held)} but not on {', '.join(failed)}: {numbers}."
    else:
        sentence = f"Too noisy to decide at this budget: {numbers}."
    return Verdict(kind, sentence, short)


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        rows.append((arm, f"{r.first(arm, 'peak_lr'):g}", mean_std(r.values(arm, "test_accuracy"), 100),
                     sci(r.values(arm, "final_loss")), sci(r.values(arm, "tail_noise"))))  # fmt: skip
    return Table(("arm", "peak lr", "test accuracy %", "final training loss", f"loss std, last {TAIL * 100:.0f}%"),
                 tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, (ax, lr_ax) = plt.subplots(2, 1, figsize=(6, 4.2), sharex=True, height_ratios=(3, 1))
    for i, arm in enumerate(r.arms):
        ys = r.series(arm, "epoch_loss")
        epochs = np.arange(1, ys.shape[1] + 1)
        for k in range(len(r.seeds)):
            ax.plot(epochs, ys[k], color=f"C{i}", alpha=0.7, lw=1, label=arm if k == 0 else None)
        lr_ax.plot(epochs, r.series(arm, "epoch_lr")[0], color=f"C{i}", lw=1)
    ax.set_yscale("log")
    ax.set_ylabel("training loss (nats, log)")
    ax.set_title("Training loss per epoch under three schedules")
    ax.legend()
    lr_ax.set_ylabel("lr at epoch end")
    lr_ax.set_yscale("log")
    lr_ax.set_xlabel("epoch")
    fig.tight_layout()

    fig2, ax2 = plt.subplots(figsize=(5, 3.2))
    for i, arm in enumerate(r.arms):
        vals = r.values(arm, "tail_noise")
        ax2.scatter([i] * len(vals), vals, color="C0", zorder=3)
        ax2.bar(i, vals.mean(), color="C0", alpha=0.3)
    ax2.set_xticks(range(len(r.arms)), list(r.arms))
    ax2.set_yscale("log")
    ax2.set_ylabel(f"std of step loss, last {TAIL * 100:.0f}% (nats)")
    ax2.set_title("How much the loss still jumps at the end")
    fig2.tight_layout()
    return [fig, fig2]


STUDY = register_study(
    Study(
        id="lr-schedule",
        title="Constant, step and cosine learning rates",
        topic="Gradient descent: learning-rate decay",
        claim="Decaying the learning rate over training (cosine decay) ends training at a better, steadier point "
        "than a constant learning rate.",
        question="At the same peak rate and epochs, does cosine decay end with a lower training loss and a smaller "
        "spread of the last steps' loss than a constant rate, without losing test accuracy?",
        design="Arms: constant, step (×0.1 every ⌈epochs/3⌉ epochs), cos (to 0). Same digits images, MLP "
        "64-64-64-10, SGD momentum 0.9, batch 64; peak rate = the grid value (0.01, 0.03, 0.1, 0.3) that gives "
        "the constant arm its lowest final training loss on a separate tuning seed. Quick 20 epochs; full 30 "
        "epochs (MNIST 8,000 with --data-dir).",
        rule=f"Two parts. Steadier: the constant rate's spread (std of the per-step loss over the last "
        f"{TAIL * 100:.0f}% of steps) is ≥ {MIN_NOISE_RATIO}× cosine's (paired log-ratio, 95% CI above 0). Lower: "
        f"its final full training loss is ≥ {MIN_LOSS_RATIO}× cosine's (same test). A part fails when its effect is "
        f"negligible or reversed; if cosine loses ≥ {MIN_ACC * 100:.0f} test-accuracy point (CI below 0) that is a "
        "failed third part. Supported if all hold, refuted if all fail, nuanced if some hold and some fail, "
        "otherwise inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
    )
)
