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
/ 355 test, 6 epochs, quick; MNIST 8,000 / 2,000 with --data-dir, width 128, 10 epochs, full), equal optimizer
steps for every arm; 5 seeds in both (units dead after epoch 1 are few, so their recovered share is noisy from seed
to seed). The seed sets the initial weights and the data order. The whole training split is the probe batch: it
is passed through the net before training and after every epoch (a unit silent on only part of the data still gets
gradient from the rest). On it a unit is *dead* when its output is exactly 0 for every image and *stuck* when its
output is ≤ 0 for every image (for ReLU the two are the same; a Leaky ReLU or ELU unit can be stuck, but it still
passes a gradient). *Recovered*: of the units stuck after epoch 1, the share not stuck at the end; for ReLU it is
pooled over every rate whose runs finished (units dead after epoch 1 are few at any one rate). A run whose loss or
gradient becomes non-finite stops before that update; its *final* state is the net its last finite update left,
probed then (a unit whose output is not finite counts as neither dead nor stuck), so a diverged run is counted, not
dropped. The dying is judged at the top rate of the grid, lr 1.0, where the updates are largest and the claim
lives, against lr 0.01, on every seed's final state. Full profile: 75 units of about 10 s, ≈ 13 core-minutes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..engine import Callback, TrainingDiverged, TrainState
from ._activation import activation_outputs, init_for, unit_masks, whole
from ._base import Anchor, Context, Results, Revision, Study, Table, Verdict
from ._common import digit_data, fit
from ._nets import combine, part
from ._registry import register_study
from .evidence import reaches, requirement
from .stats import NEGLIGIBLE, effect, mean_std

ACTS = ("relu", "leaky_relu", "elu")
LRS = (0.01, 0.03, 0.1, 0.3, 1.0)  # plain-SGD learning rates, fixed before any run
ARMS = tuple(f"{act}-{lr:g}" for act in ACTS for lr in LRS)
LOW = LRS[0]  # the gentle rate
HIGH = LRS[-1]  # the large-update rate at which the claim is judged (fixed with the grid)
REFERENCE = "relu-0.1"  # a ReLU net at an ordinary rate: it must learn the task (competence)
COMPETENT = 0.92  # its test accuracy (basis: cnnlab's default MLP recipe, see the requirement)
BORN_DEAD = 0.10  # premise: He init leaves fewer than 10% of the ReLU units dead before any update
MIN_DEAD = 0.10  # a difference of at least 10% of the hidden units counts as more units dead (or stuck)
MIN_RECOVERY = 0.10  # "never recovers" holds if the recovered share is shown to stay below 10%
_SGD = {"optimizer": "sgd", "momentum": 0.0, "schedule": "constant", "batch_size": 64}

PROFILES = {
    "quick": {"epochs": 6, "width": 64, "depth": 4},
    "full": {"epochs": 10, "width": 128, "depth": 4},
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
        self.model = state.model  # probed again after a diverged run stops (`final`)
        self.masks.append(unit_masks(activation_outputs(state.model, self.x)))

    def final(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(dead, stuck) masks of the net as it is now: after the last finite update of a diverged run."""
        return unit_masks(activation_outputs(self.model, self.x))

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
    dead_final, stuck_final = probe.final() if diverged else probe.masks[-1]
    stuck_mid, back = recovered(probe.masks[1][1], probe.masks[-1][1]) if finished else (math.nan, math.nan)
    return {
        "dead": dead,
        "stuck": stuck,
        "dead_init": dead[0],
        "dead_end": dead[-1] if finished else math.nan,
        "dead_final": float(dead_final.float().mean()),  # the end, or the last finite state of a diverged run
        "stuck_final": float(stuck_final.float().mean()),
        "stuck_end": stuck[-1] if finished else math.nan,
        "stuck_mid": stuck_mid,
        "recovered_units": back,
        "recovered": back / stuck_mid if finished and stuck_mid else math.nan,
        "test_accuracy": accuracy,
        "diverged": diverged,
    }


def diverged_count(r: Results, arm: str) -> int:
    return int(np.nansum(r.values(arm, "diverged")))


def decide(r: Results) -> Verdict:
    high = HIGH
    relu_hi, relu_lo = r.values(f"relu-{high:g}", "dead_final"), r.values(f"relu-{LOW:g}", "dead_final")
    leaky_hi = r.values(f"leaky_relu-{high:g}", "stuck_final")
    back = pooled_recovery(r)
    dying = effect(relu_hi, relu_lo, MIN_DEAD)
    staying = effect(back, np.zeros_like(back), MIN_RECOVERY)
    leaky = effect(relu_hi, leaky_hi, MIN_DEAD)
    parts = {
        "large updates kill ReLUs": part(dying.direction),
        "dead ReLUs stay dead": part(staying.direction, holds_if=(NEGLIGIBLE,)),
        "Leaky ReLU keeps units alive": part(leaky.direction),
    }
    kind = combine(list(parts.values()))
    n = len(r.seeds)
    relu_div, leaky_div = diverged_count(r, f"relu-{high:g}"), diverged_count(r, f"leaky_relu-{high:g}")
    diverged = (f"; {relu_div} of {n} ReLU and {leaky_div} of {n} Leaky ReLU runs at lr {high:g} diverged and count "
                "with the net their last finite update left")  # fmt: skip
    numbers = (
        f"dead ReLU units in the final net {mean_std(relu_lo, 100)}% at lr {LOW:g} vs {mean_std(relu_hi, 100)}% at lr "
        f"{high:g}, the top of the grid (paired difference "
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
        cells = [_cell(r.values(arm, key)) for key in ("dead_init", "dead_final", "stuck_final", "recovered",
                                                       "test_accuracy")]  # fmt: skip
        rows.append((act, f"{lr:g}", *cells, str(int(np.nansum(r.values(arm, "diverged"))))))
    return Table(("activation", "lr", "dead % at init", "dead % final", "stuck % final",
                  "stuck after epoch 1 that recovered %", "test accuracy %", "diverged runs"), tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    figs = []
    for key, ylabel, title in (
        ("stuck_final", "units stuck at 0 or below (%)", "Units stuck on the flat side vs learning rate (ReLU: dead)"),
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


def _born_alive(r: Results) -> tuple[bool, str]:
    dead = float(np.mean([r.values(f"relu-{lr:g}", "dead_init").mean() for lr in LRS]))
    return dead < BORN_DEAD, f"He init left {dead * 100:.1f}% of the ReLU units dead before any update"


def _cs231n(r: Results) -> tuple[str, bool | None]:
    dead = r.values(f"relu-{HIGH:g}", "dead_final")
    return f"{mean_std(dead, 100)}% of the ReLU units dead at lr {HIGH:g}", bool(np.mean(dead) >= MIN_DEAD)


def _maas(r: Results) -> tuple[str, bool | None]:
    relu, leaky = r.values(REFERENCE, "test_accuracy"), r.values("leaky_relu-0.1", "test_accuracy")
    gap = float(np.mean(leaky - relu))
    return f"at lr 0.1 Leaky ReLU − ReLU test accuracy {gap * 100:+.1f} pts", bool(abs(gap) <= 0.02)


REQUIREMENTS = (
    reaches("competence", {REFERENCE: "the ReLU MLP at lr 0.1"}, "test_accuracy", at_least=COMPETENT,
            basis="cnnlab's default MLP recipe (Adam 1e-3, 10 epochs) reaches 97.2–97.5% on the 8×8 digits and 96.9% "
            "on MNIST 8,000 / 2,000; 92% leaves 5 points for plain SGD at a constant rate"),
    requirement("premise", f"He init leaves < {BORN_DEAD:.0%} of the ReLU units dead before any update (mean over "
                "rates and seeds)", "the claim is about units killed by updates; a deep narrow ReLU net can be born "
                "with dead units (Lu et al. 2019), which would confound them", _born_alive),
)  # fmt: skip

LITERATURE = (
    Anchor("Karpathy et al., Stanford CS231n course notes, Neural Networks Part 1", "section on activation "
           "functions (ReLU)", "any ReLU network trained with too high a learning rate", "as much as 40% of a network "
           "can be dead (never active on the whole training set) if the learning rate is set too high",
           _cs231n, "a 4-hidden-layer MLP on digits; the notes give no setting, only an upper figure"),
    Anchor("Maas, Hannun & Ng (2013), Rectifier nonlinearities improve neural network acoustic models",
           "results (Switchboard word error rates)", "deep MLP acoustic models, leaky slope 0.01",
           "leaky rectifiers trained about as well as plain rectifiers: the zero-gradient region did not hurt the "
           "final error (read qualitatively)", _maas, "digits at a moderate rate, not speech; 6–10 epochs"),
)  # fmt: skip

REVISIONS = (
    Revision(1, "the dying judged at the largest rate of the grid at which no ReLU run diverged", "a run whose loss "
             "blows up was taken to leave no net to count dead units in", "not recorded",
             "refuted, quick: dead at lr 0.3: 0% ReLU vs 1% Leaky (seeds 0–2 and 100–102 alike)"),
    Revision(1, "the recovered share pooled over every rate whose runs finished", "units dead after epoch 1 are few "
             "at any one rate", "not recorded", "as above"),
    Revision(1, "5 seeds in the quick profile (3 is the default)", "the recovered share is noisy from seed to seed",
             "not recorded", "as above"),
    Revision(2, "the dying and Leaky parts judged at the top rate of the grid, lr 1.0, on every seed: a diverged run "
             "counts with the net its last finite update left (was: at the largest rate without a diverged ReLU "
             "run); full profile 10 epochs (was 4); competence (ReLU at lr 0.1) and premise (few units dead at "
             "init)", "the old choice excluded lr 1.0, where the runs that finished had 36% dead units: the regime "
             "in which the claim lives; dropping diverged runs hid them", "refuted, quick: dead at lr 0.3: 0% ReLU vs "
             "1% Leaky (seeds 0–2 and 100–102 alike)", "nuanced, quick (5 seeds, competence met): dead at lr 1: "
             "64% ReLU vs 40% Leaky (4 of 5 ReLU runs diverged); full: not yet measured (the reference run)"),
)  # fmt: skip


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
        "He init, batch 64, equal steps for all arms; quick 6 epochs on the embedded 8×8 digits, full 10 epochs on "
        "MNIST 8,000 with width 128 (≈ 13 core-minutes); 5 seeds. Dead (output 0) and stuck (output ≤ 0) units "
        "measured on the whole training split before training, after every epoch and, for a run that diverged, in "
        "the net its last finite update left.",
        rule=f"Judged at the top rate of the grid, lr {HIGH:g}, on every seed's final net (a diverged run counts with "
        f"its last finite state). Three parts: large updates kill ReLUs if the dead share at lr {HIGH:g} exceeds that "
        f"at lr {LOW:g} by ≥ {MIN_DEAD * 100:.0f} points (95% CI of the paired difference above 0); dead ReLUs stay "
        f"dead if the share of units dead after epoch 1 at any finished rate (pooled) that recover is shown to be "
        f"within {MIN_RECOVERY * 100:.0f}% (fails if it is larger); Leaky ReLU keeps units alive if ReLU's dead share "
        f"at lr {HIGH:g} exceeds Leaky ReLU's stuck share by ≥ {MIN_DEAD * 100:.0f} points. Supported if all hold, "
        "refuted if all fail, nuanced if some hold and some fail, otherwise inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        seeds={"quick": 5, "full": 5},
        version=2,
        requirements=REQUIREMENTS,
        literature=LITERATURE,
        revisions=REVISIONS,
    )
)
