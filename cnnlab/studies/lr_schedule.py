"""lr-schedule: a constant learning rate against step and cosine decay, with and without a noise floor.

Claim: decaying the learning rate over training (cosine decay, as a training recipe's `lr_decay_type: cos`) ends
training at a better and steadier point than keeping the rate constant.

Why it should hold, and where: with a constant rate, SGD does not settle at a minimum but keeps jumping around it,
in a stationary spread whose size grows with the rate and with the gradient noise (Mandt, Hoffman & Blei, 2017);
decaying the rate shrinks that spread, so the run ends lower and steadier (Loshchilov & Hutter, 2017; He et al.,
2019, where cosine decay beats step decay on ImageNet). The mechanism needs a *noise floor*: per-sample gradients
that do not all vanish at the minimum. A net that can fit every training sample (the task is interpolated) has no
such floor — each sample's gradient goes to 0 at the optimum, and so does SGD's noise (Ma, Bassily & Belkin, 2018) —
and decay then has nothing to remove. Both regimes are measured, because that difference is the point.

Question: with each arm at its own tuned peak rate and the same epochs, does cosine decay end with a lower full
training loss and a smaller step-to-step spread of the training loss than a constant rate, without losing test
accuracy, in a regime with a noise floor; and does it still end lower where the task is interpolated? Where does a
step decay land?

Design: two regimes on the same digits (the same images for every arm and seed). *floor*: an MLP with two hidden
layers of 8 ReLU units, too small to fit every training image, so its loss has a floor above 0; arms `floor-constant`,
`floor-step` (×0.1 every ⌈epochs/3⌉ epochs: twice) and `floor-cos` (cosine from the peak to 0). *interp*: two hidden
layers of 64 units, which fit every training image (training loss ≈ 1e-3); arms `interp-constant` and `interp-cos`
(its step arm is left out for budget: the claim is cosine against constant). Held fixed: SGD with momentum 0.9,
batch 64, epochs per profile. Fair rates (Choi et al., 2019): each arm's peak rate is the value of a fixed grid
(0.01, 0.03, 0.1, 0.3) that gives it the lowest final full training loss on a tuning seed that is not a measured
seed; the table shows the chosen rates. The budget is equal epochs (equal samples and steps) for every arm: the
claim is about where a run of a given length ends. The seed sets the initial weights (the same in every arm of a
regime) and the sample order. Measured: test accuracy, the full training loss at the end, and the noise of the last
steps: the standard deviation of the per-step (mini-batch) training loss over the last 20% of steps. Budget per
regime: the floor regime runs longer, because its constant rate must reach its floor within the run for the premise
to hold. Quick: the embedded 8×8 digits, 30 epochs (floor) and 20 (interp); full: MNIST 8,000 / 2,000 (--data-dir),
40 and 30 epochs, 5 seeds — 5 arms × (4 tuning + 5 measured) runs of 10–20 s, about 20 core-minutes with the tuning
repeated in each of two workers (estimated from the quick units scaled by steps).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._base import Anchor, Context, Results, Revision, Study, Table, Verdict
from ._common import StepRecorder, digit_data, fit, shared
from ._gradient import full_loss, log_ratio, pick_lr, sci, train_tensors
from ._nets import FAILS, HOLDS, combine, part
from ._registry import register_study
from .evidence import reaches, requirement
from .stats import NEGATIVE, effect, mean_std

VERSION = 2
ARMS = ("floor-constant", "floor-step", "floor-cos", "interp-constant", "interp-cos")
REGIMES = ("floor", "interp")
MIN_NOISE_RATIO = 1.5  # the constant rate's end-of-run loss spread must be ≥ 1.5× cosine's to count as unsteadier
MIN_LOSS_RATIO = 1.5  # and its final full training loss ≥ 1.5× cosine's to count as a worse end point
MIN_ACC = 0.01  # cosine must not lose ≥ 1 point of test accuracy (a guard, not a requirement to gain)
TAIL = 0.2  # the last 20% of steps (and of epochs, for the premise)
LR_GRID = (0.01, 0.03, 0.1, 0.3)  # peak rates per step (SGD, momentum 0.9)
TUNE_SEED = 999  # the seed of the runs that pick each arm's peak rate; never one of the measured seeds
FLOOR_MIN_LOSS = 0.01  # nats: a floor lies ≥ 10× above the ≈ 1e-3 the interpolating net reaches
FLOOR_MAX_FALL = 0.2  # the constant arm's loss falls by < 20% between the last two fifths of its epochs: flat

PROFILES = {  # the floor regime runs longer: its constant rate must reach its floor (the premise) within the run
    "quick": {"epochs": {"floor": 30, "interp": 20}, "width": {"floor": 8, "interp": 64}},
    "full": {"epochs": {"floor": 40, "interp": 30}, "width": {"floor": 8, "interp": 64}},
}


def parse_arm(arm: str) -> tuple[str, str]:
    """'floor-cos' -> ('floor', 'cos')."""
    regime, schedule = arm.split("-", 1)
    return regime, schedule


def _config(epochs: int, width: int, schedule: str, lr: float) -> dict[str, Any]:
    return {"model": "mlp", "act": "relu", "model_kwargs": {"depth": 2, "width": width}, "epochs": epochs,
            "batch_size": 64, "optimizer": "sgd", "momentum": 0.9, "lr": lr, "schedule": schedule,
            "step_size": math.ceil(epochs / 3), "gamma": 0.1}  # fmt: skip


def _peak_lr(ctx: Context, schedule: str, epochs: int, width: int) -> float:
    """The grid rate with the lowest final full training loss on the tuning seed: tuned once per study cache
    (`_common.shared`), whichever worker and measured seed asks first."""
    data = digit_data(ctx)
    x, y = train_tensors(data[0], ctx.device)

    def final_train_loss(lr: float) -> float:
        return full_loss(fit(ctx, TUNE_SEED, data, **_config(epochs, width, schedule, lr)).model, x, y)

    config = {"study": "lr-schedule", "version": VERSION, "schedule": schedule, "epochs": epochs, "width": width,
              "grid": LR_GRID}  # fmt: skip
    return shared(ctx, "tuning", config, TUNE_SEED, lambda: {"lr": pick_lr(LR_GRID, final_train_loss)})["lr"]


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    regime, schedule = parse_arm(arm)
    width, epochs = ctx["width"][regime], ctx["epochs"][regime]
    data = digit_data(ctx)
    lr = _peak_lr(ctx, schedule, epochs, width)
    steps = StepRecorder()
    result = fit(ctx, seed, data, callbacks=[steps], **_config(epochs, width, schedule, lr))
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


def floor_fall(r: Results, arm: str = "floor-constant") -> float:
    """1 − (mean epoch loss over the last fifth of epochs) / (mean over the fifth before), on the mean curve over
    seeds: about 0 on a floor, near 1 while the loss still falls several-fold (NaN if a run diverged)."""
    curve = r.series(arm, "epoch_loss").mean(axis=0)
    k = max(1, round(len(curve) * TAIL))
    if len(curve) < 2 * k or not np.isfinite(curve).all():
        return math.nan
    return float(1 - curve[-k:].mean() / curve[-2 * k : -k].mean())


def _floor_premise(r: Results) -> tuple[bool, str]:
    fall = floor_fall(r)
    final = float(np.mean(r.values("floor-constant", "final_loss")))
    met = math.isfinite(fall) and fall < FLOOR_MAX_FALL and final >= FLOOR_MIN_LOSS
    return met, (f"the constant rate's loss (floor regime) fell by {fall:.0%} between the last two fifths of its "
                 f"epochs and ended at {final:.3f} nats")  # fmt: skip


def _gain(r: Results, regime: str, key: str, min_ratio: float):
    """Paired log(constant / cos) of `key` in `regime`: positive when cosine ends lower."""
    return effect(np.log(r.values(f"{regime}-constant", key)), np.log(r.values(f"{regime}-cos", key)),
                  float(np.log(min_ratio)))  # fmt: skip


def decide(r: Results) -> Verdict:
    noise = _gain(r, "floor", "tail_noise", MIN_NOISE_RATIO)
    lower = _gain(r, "floor", "final_loss", MIN_LOSS_RATIO)
    acc = effect(r.values("floor-cos", "test_accuracy"), r.values("floor-constant", "test_accuracy"), MIN_ACC)
    interp = _gain(r, "interp", "final_loss", MIN_LOSS_RATIO)
    parts = {"steadier end": part(noise.direction), "lower final loss": part(lower.direction)}
    if acc.direction == NEGATIVE:
        parts["test accuracy"] = FAILS
    floor_kind = combine(list(parts.values()))
    interp_part = part(interp.direction)

    def lr(arm: str) -> str:
        return f"{r.first(arm, 'peak_lr'):g}"

    acc_of = {arm: mean_std(r.values(arm, "test_accuracy"), 100) for arm in r.arms}
    numbers = (
        f"with a noise floor (peak lr constant {lr('floor-constant')}, cos {lr('floor-cos')}), the last "
        f"{TAIL * 100:.0f}% of steps' loss spread was {sci(r.values('floor-constant', 'tail_noise'))} (constant) vs "
        f"{sci(r.values('floor-cos', 'tail_noise'))} (cos), paired log-ratio {noise.interval.format(1, 2)}; final "
        f"training loss {sci(r.values('floor-constant', 'final_loss'))} vs {sci(r.values('floor-cos', 'final_loss'))}"
        f", log-ratio {lower.interval.format(1, 2)}; test accuracy {acc_of['floor-constant']}% vs "
        f"{acc_of['floor-cos']}% (cos − constant {acc.interval.format(100, 1, ' pts')}); step decay "
        f"{sci(r.values('floor-step', 'final_loss'))} final loss, {acc_of['floor-step']}%. Interpolated (peak lr "
        f"{lr('interp-constant')} and {lr('interp-cos')}): final training loss "
        f"{sci(r.values('interp-constant', 'final_loss'))} (constant) vs {sci(r.values('interp-cos', 'final_loss'))}"
        f" (cos), log-ratio {interp.interval.format(1, 2)}; {len(r.seeds)} seeds"
    )
    ratio = np.exp(log_ratio(r.values("floor-constant", "final_loss"), r.values("floor-cos", "final_loss")).mean())
    short = f"floor: loss ×{ratio:.1f} constant/cos; interp {interp.mean:+.1f} log"
    held = [name for name, p in parts.items() if p == HOLDS]
    failed = [name for name, p in parts.items() if p == FAILS]
    if floor_kind == "supported" and interp_part == FAILS:
        return Verdict("nuanced", "Cosine decay ended lower and steadier where SGD has a noise floor, but not where "
                       f"the task is interpolated: {numbers}.", short)  # fmt: skip
    if floor_kind == "supported":
        rest = "and also" if interp_part == HOLDS else "(undecided"
        tail = "where the task is interpolated" + ("" if interp_part == HOLDS else ")")
        return Verdict("supported", f"Cosine decay ended lower and steadier with a noise floor {rest} {tail}: "
                       f"{numbers}.", short)  # fmt: skip
    if floor_kind == "refuted":
        return Verdict("refuted", f"Even with a noise floor, cosine decay ended neither lower nor steadier than a "
                       f"constant rate: {numbers}.", short)  # fmt: skip
    if floor_kind == "nuanced":
        return Verdict("nuanced", f"With a noise floor, cosine decay won on {', '.join(held)} but not on "
                       f"{', '.join(failed)}: {numbers}.", short)  # fmt: skip
    return Verdict("inconclusive", f"Too noisy to decide at this budget: {numbers}.", short)


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        rows.append((arm, f"{r.first(arm, 'peak_lr'):g}", mean_std(r.values(arm, "test_accuracy"), 100),
                     sci(r.values(arm, "final_loss")), sci(r.values(arm, "tail_noise"))))  # fmt: skip
    return Table(("arm", "peak lr (tuned)", "test accuracy %", "final training loss",
                  f"loss std, last {TAIL * 100:.0f}%"), tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=False)
    for ax, regime in zip(axes, REGIMES, strict=True):
        for i, arm in enumerate(a for a in r.arms if a.startswith(regime)):
            ys = r.series(arm, "epoch_loss")
            epochs = np.arange(1, ys.shape[1] + 1)
            for k in range(len(r.seeds)):
                label = f"{parse_arm(arm)[1]} (lr {r.first(arm, 'peak_lr'):g})" if k == 0 else None
                ax.plot(epochs, ys[k], color=f"C{i}", alpha=0.7, lw=1, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title("noise floor (8-unit MLP)" if regime == "floor" else "interpolated (64-unit MLP)")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("training loss (nats, log)")
    fig.suptitle("Training loss per epoch under each schedule")
    fig.tight_layout()

    fig2, ax2 = plt.subplots(figsize=(6, 3.2))
    for i, arm in enumerate(r.arms):
        vals = r.values(arm, "tail_noise")
        ax2.scatter([i] * len(vals), vals, color="C0", zorder=3)
        ax2.bar(i, vals.mean(), color="C0", alpha=0.3)
    ax2.set_xticks(range(len(r.arms)), list(r.arms), fontsize=8)
    ax2.set_yscale("log")
    ax2.set_ylabel(f"std of step loss, last {TAIL * 100:.0f}% (nats)")
    ax2.set_title("How much the loss still jumps at the end")
    fig2.tight_layout()
    return [fig, fig2]


# --- what the verdict rests on -------------------------------------------------------------------------------------

COMPETENCE_DIGITS = reaches(
    "competence", {"interp-constant": "the 64-unit MLP (constant rate)", "floor-constant": "the 8-unit MLP"},
    "test_accuracy", at_least=0.90, profiles=("quick", "full"),
    basis="the mlp's default recipe reaches 97.5 / 97.2% on the 8×8 digits (docs/training.md); LeNet-5 reaches "
    "98.85% on the MNIST 8,000 / 2,000 split (benchmarks/README.md). 90% leaves 7–9 points for plain SGD, a "
    "constant rate and the 8-unit net, which is meant to underfit; chance is 10%",
)  # fmt: skip
PREMISE_FLOOR = requirement(
    "premise",
    f"in the floor regime the constant rate's training loss has flattened (falls by < {FLOOR_MAX_FALL:.0%} between "
    f"the last two fifths of its epochs) at ≥ {FLOOR_MIN_LOSS} nats, above 0: a noise floor",
    "the interpolating net reaches ≈ 1e-3 nats in the same epochs, falling several-fold per fifth of its epochs; a "
    "loss that stays flat ten times higher is held up by gradient noise, the condition decay acts on",
    _floor_premise,
)


def _compare_he(r: Results) -> tuple[str, bool | None]:
    gain = _gain(r, "floor", "final_loss", MIN_LOSS_RATIO)
    step, cos = r.values("floor-step", "final_loss"), r.values("floor-cos", "final_loss")
    here = (f"with a noise floor, cosine {mean_std(r.values('floor-cos', 'test_accuracy'), 100)}% vs step "
            f"{mean_std(r.values('floor-step', 'test_accuracy'), 100)}% test accuracy; final loss {sci(cos)} vs "
            f"{sci(step)}; cos vs constant log-ratio {gain.interval.format(1, 2)}")  # fmt: skip
    d = r.values("floor-cos", "test_accuracy") - r.values("floor-step", "test_accuracy")
    return here, bool(np.mean(d) >= 0)


def _compare_ma(r: Results) -> tuple[str, bool | None]:
    interp = _gain(r, "interp", "final_loss", MIN_LOSS_RATIO)
    loss = r.values("interp-constant", "final_loss")
    here = (f"the interpolating net's constant-rate loss ended at {sci(loss)} nats; constant/cos log-ratio "
            f"{interp.interval.format(1, 2)}")  # fmt: skip
    return here, bool(np.mean(loss) < FLOOR_MIN_LOSS and interp.direction != "positive")


def _compare_mandt(r: Results) -> tuple[str, bool | None]:
    noise = _gain(r, "floor", "tail_noise", MIN_NOISE_RATIO)
    here = f"with a noise floor, constant/cos spread of the last steps' loss: log-ratio {noise.interval.format(1, 2)}"
    return here, bool(noise.mean > 0)


LITERATURE = (
    Anchor(
        "He, Zhang, Zhang, Zhang, Xie & Li (2019), Bag of Tricks for Image Classification with CNNs",
        "Fig. 3 (learning-rate schedule), read from the figure",
        "ResNet-50 on ImageNet, 120 epochs, SGD momentum 0.9, batch 1024 (lr 0.4), step decay ×0.1 at epochs 30, 60, "
        "90 vs cosine decay",
        "cosine decay trails step decay early but ends ahead of it in top-1 validation accuracy (read from the "
        "figure; the paper's ablation counts it among the tricks that add accuracy)",
        _compare_he,
        "a 2-layer MLP on digits in 20–30 epochs, not a ResNet-50 on ImageNet in 120; our test sets resolve about "
        "1 point over 3–5 seeds",
    ),
    Anchor(
        "Mandt, Hoffman & Blei (2017), Stochastic Gradient Descent as Approximate Bayesian Inference",
        "Section 3 (constant-rate SGD as a stationary process)",
        "constant-rate SGD near a minimum, in theory and on linear regression, logistic regression and small nets",
        "with a constant rate SGD reaches a stationary distribution around the optimum whose covariance grows with "
        "the rate over the batch size; only decaying the rate shrinks it",
        _compare_mandt,
        "their analysis assumes gradient noise at the optimum, which our noise-floor regime has by design and the "
        "interpolating one lacks",
    ),
    Anchor(
        "Ma, Bassily & Belkin (2018), The Power of Interpolation",
        "Theorem 1 and Section 4",
        "over-parametrized models that fit every training sample, SGD with a constant rate",
        "when every sample is fitted, per-sample gradients vanish at the optimum and constant-rate SGD converges "
        "exponentially fast, with no noise floor for decay to remove",
        _compare_ma,
        "their result is asymptotic for exact interpolation; our 64-unit MLP fits the digits to ≈ 1e-3 nats, not 0",
    ),
)

REVISIONS = (
    Revision(
        2,
        "Two regimes instead of one: an 8-unit MLP that cannot fit every digit (a noise floor; constant, step and "
        "cosine) beside the 64-unit MLP that fits them all (constant and cosine; step left out for budget). Each "
        "arm's peak rate is tuned on the fixed grid with the tuning seed (before: one rate, tuned for the constant "
        "arm, for all). A premise checks that the floor regime's constant rate plateaus above 0, and the rule "
        "judges the claim there, reading the interpolating regime as the nuance. The floor regime runs 30 epochs in "
        "quick (40 in full), the interpolating one 20 (30).",
        "every arm ended at a training loss of ≈ 1e-3: the task was interpolated, where SGD's noise vanishes at the "
        "optimum (Ma, Bassily & Belkin, 2018) and decay has nothing to remove, so the claim was tested outside the "
        "regime in which it is made; one rate tuned for one arm was not a fair comparison (Choi et al., 2019). A first "
        "try with 20 epochs in both regimes left the floor's constant rate still falling (by 25% between the last two "
        "fifths: premise absent), so the floor regime was lengthened to 30 epochs (40 in full)",
        "refuted, quick: spread ×0.4 constant/cos (seeds 0–2), ×0.3 (seeds 100–102)",
        "inconclusive, quick (seeds 0–2): premise absent — the floor regime's constant rate still fell by 41% "
        "between the last two fifths of its 30 epochs (0.054 nats at the end); the rule alone reads nuanced (floor: "
        "final loss ×2.5 and spread ×2.6 constant/cos; interpolated: cosine ends 4× higher, 1.4e-3 vs 3.2e-4). "
        "Full: not yet measured (the reference run)",
    ),
)


STUDY = register_study(
    Study(
        id="lr-schedule",
        title="Constant, step and cosine learning rates",
        topic="Gradient descent: learning-rate decay",
        claim="Decaying the learning rate over training (cosine decay) ends training at a better, steadier point "
        "than a constant learning rate.",
        question="With each arm at its own tuned peak rate and the same epochs, does cosine decay end with a lower "
        "training loss and a smaller spread of the last steps' loss than a constant rate where SGD has a noise "
        "floor, and does it still end lower where the task is interpolated?",
        design="Two regimes on the same digits. Noise floor: MLP 64-8-8-10, too small to fit every image; constant, "
        "step (×0.1 every ⌈epochs/3⌉ epochs) and cos (to 0). Interpolated: MLP 64-64-64-10 (training loss ≈ 1e-3); "
        "constant and cos. SGD momentum 0.9, batch 64, equal epochs for all (equal samples and steps). Each arm's "
        "peak rate: the grid value (0.01, 0.03, 0.1, 0.3) with its lowest final training loss on tuning seed 999. "
        "Quick: 8×8 digits, 30 epochs (floor) / 20 (interp); full: MNIST 8,000 / 2,000, 40 / 30 epochs, 5 seeds "
        "(≈ 20 core-minutes).",
        rule=f"Judged in the noise-floor regime, in two parts. Steadier: the constant rate's spread (std of the "
        f"per-step loss over the last {TAIL * 100:.0f}% of steps) is ≥ {MIN_NOISE_RATIO}× cosine's (paired "
        f"log-ratio, 95% CI above 0). Lower: its final full training loss is ≥ {MIN_LOSS_RATIO}× cosine's (same "
        f"test). A part fails when its effect is negligible or reversed; if cosine loses ≥ {MIN_ACC * 100:.0f} "
        "test-accuracy point (CI below 0) that is a failed third part. If both parts hold: nuanced when the "
        "interpolated regime's final-loss gain is negligible or reversed (decay helps only with a noise floor), "
        "supported otherwise. Refuted if every part fails, nuanced if some hold and some fail, else inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        version=VERSION,
        requirements=(COMPETENCE_DIGITS, PREMISE_FLOOR),
        literature=LITERATURE,
        revisions=REVISIONS,
    )
)
