"""activation-depth: does the ReLU family keep gradients alive in deep nets, and do they then train faster?

Claim: ReLU (and its relatives Leaky ReLU and ELU) relieves vanishing gradients — its derivative is 1 wherever it
is active, where sigmoid's is at most 1/4 — so deep networks with it train faster than with sigmoid or tanh.

Question: in MLPs of 5, 10 and 20 hidden layers, (1) how much smaller is the input-side layer's gradient than the
output layer's, early in training, for each activation, and (2) how fast does each reach good test accuracy?

Design: 15 arms, activation × depth: sigmoid, tanh, relu, leaky_relu (slope 0.01), elu × 5, 10, 20 hidden layers
of 32 units, each with the initialization its activation expects (He for the ReLU family, Xavier for sigmoid and
tanh). Held fixed: the data (embedded 8×8 digits, 1,442 train / 355 test; MNIST 8,000 / 2,000 in the full profile
with --data-dir, width 64), SGD with momentum 0.9 at a constant lr 0.02, batch 64; 6 epochs quick (138 steps),
2 full (250 steps). SGD, not Adam: Adam divides each gradient by its own running size, which hides how small a
layer's gradient is; with SGD a layer moves in proportion to it. The seed sets the initial weights and the data
order. cnnlab's diagnostics record every layer's gradient norm every 10th step; the *gradient ratio* is the first
(input-side) linear layer's gradient norm over the last (output) layer's, and a run's value is the median of
log10(ratio) over the steps sampled in its first 50. Test accuracy is measured every 5 steps (quick; 10 full);
*speed* is the mean test accuracy over those checks (the area under the learning curve, higher = faster), and the
first step that reaches 90% is shown. A run whose loss becomes non-finite counts at chance (10%) from then on.
The decision is taken at the deepest depth, where vanishing gradients are said to bite; the shallower depths show
the trend.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..diagnostics import depth_ratio
from ..engine import DiagnosticsCallback, TrainingDiverged
from ._activation import RELU_FAMILY, SATURATING, AccuracyCurve, init_for, steps_to, whole
from ._base import Context, Results, Study, Table, Verdict
from ._common import digit_data, fit
from ._nets import combine, part
from ._registry import register_study
from .stats import effect, mean_std

ACTS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
DEPTHS = (5, 10, 20)
ARMS = tuple(f"{act}-{depth}" for depth in DEPTHS for act in ACTS)
DECIDE_DEPTH = DEPTHS[-1]
MIN_DECADES = 1.0  # the ReLU family's gradient ratio must lie ≥ 10× closer to 1 (in log10) to count as relief
MIN_SPEED = 0.05  # the ReLU family's mean test accuracy over the run must be ≥ 5 points higher to count as faster
TARGET_ACC = 0.90  # shown: first step at 90% test accuracy
EARLY_STEPS = 50  # the gradient ratio is the median over the sampled steps 0..50
EVERY = 10  # diagnostics sample every 10th optimizer step
CHANCE = 0.1  # ten classes: the accuracy a diverged run counts at
_SGD = {"optimizer": "sgd", "lr": 0.02, "momentum": 0.9, "schedule": "constant", "batch_size": 64}

PROFILES = {
    "quick": {"epochs": 6, "width": 32, "check_every": 5},
    "full": {"epochs": 2, "width": 64, "check_every": 10},
}


def split_arm(arm: str) -> tuple[str, int]:
    act, depth = arm.rsplit("-", 1)
    return act, int(depth)


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    act, depth = split_arm(arm)
    train, test = digit_data(ctx)
    curve = AccuracyCurve(*whole(test), every=ctx["check_every"])
    diag = DiagnosticsCallback(every=EVERY, out=None)
    epochs = ctx["epochs"]
    total = epochs * math.ceil(len(train) / _SGD["batch_size"])
    diverged = False
    try:
        fit(ctx, seed, (train, test), callbacks=[curve, diag], model="mlp", act=act, init=init_for(act), epochs=epochs,
            model_kwargs={"depth": depth, "width": ctx["width"]}, **_SGD)  # fmt: skip
    except TrainingDiverged:
        diverged = True
    checks = list(range(0, total + 1, ctx["check_every"]))  # every planned check, the start included
    accuracy = curve.accuracy + [CHANCE] * (len(checks) - len(curve.accuracy))
    by_step: dict[int, list] = {}
    for record in diag.diagnostics.records:
        by_step.setdefault(record.step, []).append(record)
    # depth_fraction 0: one layer at each end, the first hidden linear layer and the output layer
    ratios = {step: depth_ratio(rows, depth_fraction=0.0) for step, rows in sorted(by_step.items())}
    early = [math.log10(v) for s, v in ratios.items() if s <= EARLY_STEPS and v is not None and v > 0]
    init = ratios.get(0)
    return {
        "log_ratio": float(np.median(early)) if early else math.nan,
        "log_ratio_init": math.log10(init) if init else math.nan,
        "speed": float(np.mean(accuracy)),
        "steps_to_90": steps_to(curve.steps, curve.accuracy, TARGET_ACC),
        "final_accuracy": accuracy[-1],
        "diverged": diverged,
        "checks": checks,
        "accuracy": accuracy,
    }


def _family(r: Results, key: str, depth: int, transform=np.asarray) -> np.ndarray:
    """Per seed, the mean of `key` (after `transform`) over the ReLU family at `depth`: (n_seeds,)."""
    return np.mean([transform(r.values(f"{act}-{depth}", key)) for act in RELU_FAMILY], axis=0)


def decide(r: Results) -> Verdict:
    d = DECIDE_DEPTH
    fam_grad = _family(r, "log_ratio", d, np.abs)
    fam_speed = _family(r, "speed", d)
    parts, lines = {}, []
    for act in SATURATING:
        grad = effect(np.abs(r.values(f"{act}-{d}", "log_ratio")), fam_grad, MIN_DECADES)
        speed = effect(fam_speed, r.values(f"{act}-{d}", "speed"), MIN_SPEED)
        parts[f"gradient relief over {act}"] = part(grad.direction)
        parts[f"faster than {act}"] = part(speed.direction)
        lines.append(
            f"{act}: |log10 ratio| {mean_std(np.abs(r.values(f'{act}-{d}', 'log_ratio')), 1, 2)} (family closer to 1 "
            f"by {grad.interval.format(1, 2, ' decades')}), mean accuracy "
            f"{mean_std(r.values(f'{act}-{d}', 'speed'), 100)}% (family ahead by "
            f"{speed.interval.format(100, unit=' pts')})"
        )
    kind = combine(list(parts.values()))
    numbers = (
        f"at {d} hidden layers the ReLU family (relu, leaky_relu, elu averaged per seed) has |log10 gradient ratio| "
        f"{mean_std(fam_grad, 1, 2)} and mean test accuracy over the run {mean_std(fam_speed, 100)}%; "
        + "; ".join(lines)
        + f"; {len(r.seeds)} seeds"
    )
    states = ", ".join(f"{name}: {state}" for name, state in parts.items())
    lead = {
        "supported": "The ReLU family kept gradients flowing and trained faster than sigmoid and tanh",
        "refuted": "The ReLU family neither relieved vanishing gradients nor trained faster",
        "nuanced": f"The claim holds only in part ({states})",
        "inconclusive": f"Too noisy to decide at this budget ({states})",
    }[kind]
    gaps = [fam_speed.mean() - r.values(f"{a}-{d}", "speed").mean() for a in SATURATING]
    short = f"depth {d}: accuracy gap {gaps[0] * 100:+.0f} (σ) / {gaps[1] * 100:+.0f} (tanh) pts"
    return Verdict(kind, f"{lead}: {numbers}.", short)


def _steps(values: np.ndarray, cap: int) -> str:
    reached = values[np.isfinite(values)]
    if reached.size == 0:
        return f"> {cap}"
    text = f"{np.median(reached):.0f}"
    return text if reached.size == values.size else f"{text} ({reached.size}/{values.size} reached)"


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        act, depth = split_arm(arm)
        cap = r.first(arm, "checks")[-1]
        diverged = int(np.nansum(r.values(arm, "diverged")))
        rows.append((act, str(depth), mean_std(r.values(arm, "log_ratio_init"), 1, 2),
                     mean_std(r.values(arm, "log_ratio"), 1, 2), mean_std(r.values(arm, "speed"), 100),
                     _steps(r.values(arm, "steps_to_90"), cap), mean_std(r.values(arm, "final_accuracy"), 100),
                     str(diverged)))  # fmt: skip
    return Table(("activation", "hidden layers", "log10 grad ratio at init", "log10 grad ratio, steps 0–50",
                  "mean test acc. over run %", "steps to 90%", "final test acc. %", "diverged runs"),
                 tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    figs = []
    for key, ylabel, title in (
        ("log_ratio", "log10(first-layer / last-layer gradient norm)", "Gradient ratio across depth, steps 0–50"),
        ("speed", "mean test accuracy over the run (%)", "Training speed: area under the test-accuracy curve"),
    ):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for i, act in enumerate(ACTS):
            offsets = np.array(DEPTHS) * (1 + 0.03 * (i - 2))  # spread the activations apart at each depth
            means = []
            for depth, x in zip(DEPTHS, offsets, strict=True):
                v = r.values(f"{act}-{depth}", key) * (100 if key == "speed" else 1)
                ax.scatter([x] * len(v), v, color=f"C{i}", s=12, alpha=0.7)
                means.append(np.nanmean(v))
            ax.plot(offsets, means, color=f"C{i}", label=act, lw=1.2)
        if key == "log_ratio":
            ax.axhline(0, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(DEPTHS, [str(d) for d in DEPTHS])
        ax.set_xlabel("hidden layers")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs.append(fig)
    return figs


STUDY = register_study(
    Study(
        id="activation-depth",
        title="ReLU against vanishing gradients",
        topic="Activation functions: ReLU and vanishing gradients",
        claim="ReLU and its relatives (Leaky ReLU, ELU) relieve vanishing gradients, so deep networks built with them "
        "train faster than with sigmoid or tanh.",
        question="In MLPs of 5, 10 and 20 hidden layers on handwritten digits, how small is the first layer's "
        "gradient against the last layer's early in training, and how fast does test accuracy rise, for sigmoid, "
        "tanh, ReLU, Leaky ReLU and ELU?",
        design="15 arms: 5 activations × 5/10/20 hidden layers of 32 units, He init for the ReLU family, Xavier for "
        "sigmoid and tanh. SGD momentum 0.9, constant lr 0.02, batch 64; quick 6 epochs on the embedded 8×8 digits, "
        "full 2 epochs on MNIST 8,000 with width 64. Gradient ratio from cnnlab's diagnostics (median over steps "
        "0–50); speed = mean test accuracy over checks every 5 (10) steps.",
        rule=f"At {DECIDE_DEPTH} hidden layers, four parts against sigmoid and against tanh: gradient relief holds if "
        f"the ReLU family's |log10 gradient ratio| (mean of its three activations per seed) is ≥ {MIN_DECADES:g} "
        f"decade smaller (95% CI of the paired difference above 0); faster holds if its mean test accuracy over the "
        f"run is ≥ {MIN_SPEED * 100:.0f} points higher. A part fails if its effect is negligible or reversed. "
        "Supported if all hold, refuted if all fail, nuanced if some hold and some fail, otherwise inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
    )
)
