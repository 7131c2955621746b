"""dead-relu: do large updates kill ReLU units for good, and does Leaky ReLU keep them alive?

Claim: one too-large gradient update can push a ReLU unit's weights to where its input is negative for every
example; it then outputs 0 and gets no gradient, so it never recovers (a dead ReLU). Leaky ReLU, with a small
non-zero slope for negative inputs, keeps such units alive.

Question: in an MLP trained with plain SGD on a fixed grid of learning rates, what share of ReLU units is dead at
the end, how many of the units dead after the first epoch come back later, and are Leaky ReLU (and ELU) units
stuck on their negative side as often?

Design: arms activation × learning rate: relu, leaky_relu (slope 0.01), elu × lr 0.01, 0.03, 0.1, 0.3, 1.0
(plain SGD, no momentum, constant rate; the grid is fixed in advance, each rate about √10 × the last). Held fixed:
an MLP of 4 hidden layers of 64 units with He initialization, batch 64, the data (embedded 8×8 digits, 1,442 train
/ 355 test; MNIST 8,000 / 2,000 in the full profile with --data-dir, width 128), 6 epochs quick, 4 full; 5 seeds
in both (units dead after epoch 1 are few, so their recovered share is noisy from seed to seed). The seed sets the
initial weights and the data order. The whole training split is the probe batch: it is passed through the net
before training and after every epoch (a unit silent on only part of the data still gets gradient from the rest).
On it a unit is *dead* when its output is exactly 0 for every image and *stuck* when its output is ≤ 0 for every
image (for ReLU the two are the same; a Leaky ReLU or ELU unit can be stuck, but it still passes a gradient).
*Recovered*: of the units stuck after epoch 1, the share not stuck at the end; for ReLU it is pooled over every
rate whose runs finished (units dead after epoch 1 are few at any one rate). A run whose loss becomes non-finite
has no end state (its end numbers are missing, counted as unmeasured). The dying is judged between the smallest
rate of the grid and the largest one at which no ReLU run diverged (a rate that blows the loss up leaves no net to
count dead units in).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..engine import Callback, TrainingDiverged, TrainState
from ._activation import activation_outputs, init_for, unit_masks, whole
from ._base import Context, Results, Study, Table, Verdict
from ._common import digit_data, fit
from ._nets import combine, part
from ._registry import register_study
from .stats import NEGLIGIBLE, effect, mean_std

ACTS = ("relu", "leaky_relu", "elu")
LRS = (0.01, 0.03, 0.1, 0.3, 1.0)  # plain-SGD learning rates, fixed before any run
ARMS = tuple(f"{act}-{lr:g}" for act in ACTS for lr in LRS)
LOW = LRS[0]  # the gentle rate; the high one is chosen by `high_rate`
MIN_DEAD = 0.10  # a difference of at least 10% of the hidden units counts as more units dead (or stuck)
MIN_RECOVERY = 0.10  # "never recovers" holds if the recovered share is shown to stay below 10%
_SGD = {"optimizer": "sgd", "momentum": 0.0, "schedule": "constant", "batch_size": 64}

PROFILES = {
    "quick": {"epochs": 6, "width": 64, "depth": 4},
    "full": {"epochs": 4, "width": 128, "depth": 4},
}


def split_arm(arm: str) -> tuple[str, float]:
    act, lr = arm.rsplit("-", 1)
    return act, float(lr)


class UnitProbe(Callback):
    """(dead, stuck) unit masks on a fixed probe batch before training and after every epoch."""

    def __init__(self, x: torch.Tensor):
        self.x = x
        self.masks: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_train_start(self, state: TrainState) -> None:
        self.masks.append(unit_masks(activation_outputs(state.model, self.x)))

    def on_epoch_end(self, state: TrainState) -> None:
        self.masks.append(unit_masks(activation_outputs(state.model, self.x)))


def recovered(stuck_mid: torch.Tensor, stuck_end: torch.Tensor) -> tuple[int, int]:
    """(units stuck at mid-training, of those the units not stuck at the end)."""
    return int(stuck_mid.sum()), int((stuck_mid & ~stuck_end).sum())


def pooled_recovery(r: Results, act: str = "relu") -> np.ndarray:
    """Per seed, the share of units stuck after epoch 1 that are not stuck at the end, pooled over every rate whose
    run finished: Σ recovered / Σ stuck (NaN for a seed with no stuck unit in any finished run). (n_seeds,)"""
    stuck = np.zeros(len(r.seeds))
    back = np.zeros(len(r.seeds))
    for lr in LRS:
        s, b = r.values(f"{act}-{lr:g}", "stuck_mid"), r.values(f"{act}-{lr:g}", "recovered_units")
        ok = np.isfinite(s) & np.isfinite(b)
        stuck += np.where(ok, s, 0.0)
        back += np.where(ok, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(stuck > 0, back / np.maximum(stuck, 1), np.nan)


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    act, lr = split_arm(arm)
    train, test = digit_data(ctx)
    probe = UnitProbe(whole(train)[0])
    diverged, accuracy = False, math.nan
    try:
        result = fit(ctx, seed, (train, test), callbacks=[probe], model="mlp", act=act, init=init_for(act), lr=lr,
                     epochs=ctx["epochs"], model_kwargs={"depth": ctx["depth"], "width": ctx["width"]},
                     **_SGD)  # fmt: skip
        accuracy = result.test_accuracy
    except TrainingDiverged:
        diverged = True
    dead = [float(d.float().mean()) for d, _ in probe.masks]  # share of all hidden units, per probe
    stuck = [float(s.float().mean()) for _, s in probe.masks]
    finished = not diverged and len(probe.masks) == ctx["epochs"] + 1
    stuck_mid, back = recovered(probe.masks[1][1], probe.masks[-1][1]) if finished else (math.nan, math.nan)
    return {
        "dead": dead,
        "stuck": stuck,
        "dead_init": dead[0],
        "dead_end": dead[-1] if finished else math.nan,
        "stuck_end": stuck[-1] if finished else math.nan,
        "stuck_mid": stuck_mid,
        "recovered_units": back,
        "recovered": back / stuck_mid if finished and stuck_mid else math.nan,
        "test_accuracy": accuracy,
        "diverged": diverged,
    }


def high_rate(r: Results) -> float:
    """The largest rate of the grid at which every ReLU run finished (none diverged); LOW when no other did."""
    finished = [lr for lr in LRS if not np.nansum(r.values(f"relu-{lr:g}", "diverged"))]
    return max(finished, default=LOW)


def decide(r: Results) -> Verdict:
    high = high_rate(r)
    relu_hi, relu_lo = r.values(f"relu-{high:g}", "dead_end"), r.values(f"relu-{LOW:g}", "dead_end")
    leaky_hi = r.values(f"leaky_relu-{high:g}", "stuck_end")
    back = pooled_recovery(r)
    if high == LOW:
        return Verdict("inconclusive", f"Every ReLU run above lr {LOW:g} diverged, so no rate is left to compare "
                       f"with lr {LOW:g} ({len(r.seeds)} seeds).", "no finite high rate")  # fmt: skip
    dying = effect(relu_hi, relu_lo, MIN_DEAD)
    staying = effect(back, np.zeros_like(back), MIN_RECOVERY)
    leaky = effect(relu_hi, leaky_hi, MIN_DEAD)
    parts = {
        "large updates kill ReLUs": part(dying.direction),
        "dead ReLUs stay dead": part(staying.direction, holds_if=(NEGLIGIBLE,)),
        "Leaky ReLU keeps units alive": part(leaky.direction),
    }
    kind = combine(list(parts.values()))
    above = []
    for lr in (lr for lr in LRS if lr > high):
        n = int(np.nansum(r.values(f"relu-{lr:g}", "diverged")))
        dead = r.values(f"relu-{lr:g}", "dead_end")
        dead = dead[np.isfinite(dead)]
        text = f"at lr {lr:g} {n} of {len(r.seeds)} ReLU runs diverged"
        if dead.size:
            text += f", the other {dead.size} ended with {mean_std(dead, 100)}% dead"
        above.append(text)
    diverged = "; " + "; ".join(above) if above else ""
    numbers = (
        f"dead ReLU units at the end {mean_std(relu_lo, 100)}% at lr {LOW:g} vs {mean_std(relu_hi, 100)}% at lr "
        f"{high:g}, the largest rate at which no ReLU run diverged (paired difference "
        f"{dying.interval.format(100, unit=' pts')}){diverged}; of the ReLU units dead after epoch 1 (all rates "
        f"that finished), {mean_std(back, 100)}% came back ({staying.interval.format(100, unit=' pts')}); Leaky "
        f"ReLU units stuck at lr {high:g} {mean_std(leaky_hi, 100)}% (ReLU − Leaky "
        f"{leaky.interval.format(100, unit=' pts')}); {len(r.seeds)} seeds"
    )
    states = ", ".join(f"{name}: {state}" for name, state in parts.items())
    lead = {
        "supported": "Large updates killed ReLU units for good, and Leaky ReLU kept its units alive",
        "refuted": "Large updates did not leave ReLU units dead for good, nor did Leaky ReLU change it",
        "nuanced": f"The claim holds only in part ({states})",
        "inconclusive": f"Too noisy to decide at this budget ({states})",
    }[kind]
    short = f"dead at lr {high:g}: {relu_hi.mean() * 100:.0f}% ReLU vs {leaky_hi.mean() * 100:.0f}% Leaky"
    return Verdict(kind, f"{lead}: {numbers}.", short)


def _cell(values: np.ndarray) -> str:
    """mean ± std (%) of the finished runs, with how many finished when some did not; '—' when none did."""
    done = values[np.isfinite(values)]
    if done.size == 0:
        return "—"
    text = mean_std(done, 100)
    return text if done.size == values.size else f"{text} ({done.size}/{values.size} runs)"


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        act, lr = split_arm(arm)
        cells = [_cell(r.values(arm, key)) for key in ("dead_init", "dead_end", "stuck_end", "recovered",
                                                       "test_accuracy")]  # fmt: skip
        rows.append((act, f"{lr:g}", *cells, str(int(np.nansum(r.values(arm, "diverged"))))))
    return Table(("activation", "lr", "dead % at init", "dead % at end", "stuck % at end",
                  "stuck after epoch 1 that recovered %", "test accuracy %", "diverged runs"), tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    figs = []
    for key, ylabel, title in (
        ("stuck_end", "units stuck at 0 or below (%)", "Units stuck on the flat side vs learning rate (ReLU: dead)"),
        ("test_accuracy", "test accuracy (%)", "Test accuracy vs learning rate"),
    ):
        fig, ax = plt.subplots(figsize=(6, 3.4))
        for i, act in enumerate(ACTS):
            xs = np.array(LRS) * (1 + 0.06 * (i - 1))  # spread the activations apart at each rate
            means = []
            for lr, x in zip(LRS, xs, strict=True):
                v = r.values(f"{act}-{lr:g}", key) * 100
                ax.scatter([x] * len(v), v, color=f"C{i}", s=12, alpha=0.7)
                means.append(np.nanmean(v) if np.isfinite(v).any() else np.nan)
            ax.plot(xs, means, color=f"C{i}", label=act, lw=1.2)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(LRS, [f"{lr:g}" for lr in LRS])
        ax.set_xlabel("learning rate (plain SGD)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        figs.append(fig)
    return figs


STUDY = register_study(
    Study(
        id="dead-relu",
        title="Dead ReLUs and Leaky ReLU",
        topic="Activation functions: dead ReLU, Leaky ReLU",
        claim="A too-large update can push a ReLU unit to where it outputs 0 for every input; it then gets no "
        "gradient and never recovers. Leaky ReLU, with a non-zero slope for negative inputs, keeps units alive.",
        question="Across a fixed grid of SGD learning rates, what share of an MLP's ReLU units end dead on a fixed "
        "probe batch, do the units dead after one epoch come back, and are Leaky ReLU units stuck as often?",
        design="Arms: relu, leaky_relu (0.01), elu × plain-SGD lr 0.01, 0.03, 0.1, 0.3, 1.0 (constant). MLP 4×64, "
        "He init, batch 64; quick 6 epochs on the embedded 8×8 digits, full 4 epochs on MNIST 8,000 with width 128; "
        "5 seeds. "
        "Dead (output 0) and stuck (output ≤ 0) units measured on the whole training split before training and "
        "after every epoch.",
        rule=f"The high rate is the largest of the grid at which no ReLU run diverged. Three parts: large updates "
        f"kill ReLUs if the dead share at the high rate exceeds that at lr {LOW:g} by ≥ {MIN_DEAD * 100:.0f} points "
        f"(95% CI of the paired difference above 0); dead ReLUs stay dead if the share of units dead after epoch 1 at "
        f"any finished rate (pooled) that recover is shown to be within {MIN_RECOVERY * 100:.0f}% (fails if it is "
        f"larger); Leaky ReLU keeps units alive if ReLU's dead share at the high rate exceeds Leaky ReLU's stuck "
        f"share by ≥ {MIN_DEAD * 100:.0f} points. Supported if all hold, refuted if all fail, nuanced if some hold "
        "and some fail, otherwise inconclusive (also when every rate above the lowest diverged).",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        seeds={"quick": 5, "full": 5},
    )
)
