"""degradation: a plain net made deeper than it needs trains worse; the same net with shortcuts does not.

Claim: when a network is deeper than the task needs, its extra layers would have to learn the identity mapping,
which stacked nonlinear layers find hard; so the deeper network ends with a *higher training error* than the
shallower one (degradation). Since the error is on the training data, this is not overfitting, and with BatchNorm
it is not vanishing gradients either; residual connections, which make the identity trivial (all weights of a
block at zero), remove it.

Question: under one schedule, with BatchNorm in every net, trained until the training loss stops moving, is the
final training error of a deep plain CIFAR-style net higher than that of a shallow one, while the deep residual net
is not worse than the shallow residual net? And does the gradient still reach the first layer of the deep plain net
(ratio of the first conv's relative gradient ‖∇W‖/‖W‖ to the last conv's), so that vanishing gradients cannot
explain the gap?

The canonical demonstration is He et al. (2016, Fig. 1 and Fig. 6 left): on CIFAR-10, plain-56 ends its 64k
iterations with a higher training error than plain-20, ResNet-56 with a lower one than ResNet-20. This study copies
it at CPU scale.

Design: arms `plain-shallow`, `plain-deep`, `resnet-shallow`, `resnet-deep`: the CIFAR ResNet of He et al. (2016,
§4.2; 3×3 stem, three stages of n basic blocks, global average pool, FC, 6n + 2 layers) with option-A shortcuts
(identity, zero-padded where channels double) or without them. Shortcuts add no parameters, so plain and residual
nets of one depth start from the same weights under one seed. Held fixed: the data (the same images for every arm
and seed), BatchNorm and ReLU everywhere, He initialization, SGD (momentum 0.9, lr 0.1, cosine decay to 0, no
weight decay), batch size, epochs. Budget equality: equal epochs, hence equal samples and steps, for every arm — the
claim is about what each depth reaches after the same training, and the deep nets cost more CPU time per step. One
rate for all arms: all four are the same family with BatchNorm, and lr 0.1 is He et al.'s rate for every depth. The
seed sets the initial weights and the data order.
- quick: embedded 8×8 digits (1,442 training images), depths 8 and 20 at widths 4-8-16, 5 epochs of batch 64
  (about 115 steps). This is early training: the cheapest arm needs about 12 epochs to fit these images, and four
  arms × three seeds at that length cost about four times the quick budget, so the convergence requirement below
  fails and the quick verdict is inconclusive ("undertrained") by construction; its numbers show the early gap.
- full: procedural shapes at 16 px (2,000 training / 1,000 test images, default difficulty), depths 20 and 56 at
  widths 8-16-32 (the paper's pair, at half its widths), 50 epochs of batch 64 (1,600 steps). Shapes rather than
  MNIST: the digits are fitted by any depth, and the claim needs a training set the shallow net fits with effort.
  Sizing: plain-20 trained 30 epochs on 4,000 of these images (1,890 steps, 64.5 ms of CPU per step) reached 2.1%
  training error but its loss still fell 39% over the last 20% of epochs, so the full profile trades images for
  epochs. One full plain-56 unit took 248 s of CPU on one thread (1,600 steps). Estimated compute: about 60
  core-minutes (per seed 2 × 248 s + 2 × 110 s). Whether every arm converges at this length is not known before the
  reference run; if not, the verdict is undertrained.
Training error and loss are measured on the whole training set after training, in eval mode (the trainer's final
evaluation, given the training set); test error is shown beside it. The per-step training loss gives the curves, the
per-epoch one the convergence check.

What the verdict rests on: every arm converged (its per-epoch training loss moved < 10% over the last 20% of epochs,
or ended below 0.01 nats), the shallow plain net fitted its training set (≤ 5% training error on digits, ≤ 10% on
shapes), and the deep plain net started from the shallow one's loss (first-step losses within 0.25 nats), so that a
higher final error is degradation and not a worse start. The mechanism (extra layers failing to learn the identity)
is not measured directly; the study measures its consequence and the two alternative explanations (overfitting,
vanishing gradients).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
from torch import nn

from ..engine import Callback, TrainState
from . import evidence
from ._base import Anchor, Context, Results, Revision, Study, Table, Verdict
from ._common import StepRecorder, accuracy, digit_data, fit, shapes_data
from ._registry import register_study
from .stats import NEGATIVE, NEGLIGIBLE, POSITIVE, effect, mean_std

ARMS = ("plain-shallow", "plain-deep", "resnet-shallow", "resnet-deep")
MIN_GAP = 0.03  # a degradation that matters: 3 points more final training error for the deeper net
TRAINS_LOSS = math.log(10) / 4  # the deep residual net "trains" if every seed's final loss is ≤ ¼ of chance's ln 10
VANISH_RATIO = 0.1  # gradients "vanish" if the first conv's relative gradient is < 1/10 of the last conv's
GRAD_EVERY = 5  # optimizer steps between gradient-ratio samples
CONVERGED = 0.10  # converged: the per-epoch training loss moved < 10% over the last 20% of epochs …
FITTED_LOSS = 0.01  # … or ended below 0.01 nats (< 0.5% of chance's ln 10: the training set is fitted)
SAME_START = 0.25  # nats: the deep plain net's first loss within this of the shallow one's (≈ 10% of ln 10)
SHALLOW_ERR = {"quick": 0.05, "full": 0.10}  # the shallow plain net's final training error must be at most this
SHAPES_SEED = 0  # draws the shapes images, the same for every arm and seed

PROFILES = {
    "quick": {"data": "digits", "depths": [8, 20], "widths": [4, 8, 16], "epochs": 5, "batch_size": 64, "lr": 0.1,
              "curve_every": 5},
    "full": {"data": "shapes", "image_size": 16, "n_train": 2000, "n_test": 1000, "depths": [20, 56],
             "widths": [8, 16, 32], "epochs": 50, "batch_size": 64, "lr": 0.1, "curve_every": 25},
}  # fmt: skip


class GradientRatio(Callback):
    """Every `every` steps, after the backward pass: (‖∇W‖/‖W‖ of the first conv) / (the same of the last conv)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.ratios: list[float] = []
        self._first: nn.Conv2d | None = None
        self._last: nn.Conv2d | None = None

    def on_train_start(self, state: TrainState) -> None:
        convs = [m for m in state.model.modules() if isinstance(m, nn.Conv2d)]
        self._first, self._last = convs[0], convs[-1]

    def on_after_backward(self, state: TrainState) -> None:
        if state.step % self.every == 0:
            self.ratios.append(_relative_grad(self._first) / _relative_grad(self._last))


def _relative_grad(conv: nn.Conv2d) -> float:
    return float(conv.weight.grad.norm() / conv.weight.detach().norm())


def _chunk_means(values: list[float], size: int) -> list[float]:
    """Mean of every `size` consecutive values (the last chunk may be shorter): a per-step curve, thinned."""
    return [float(np.mean(values[i : i + size])) for i in range(0, len(values), size)]


def _data(ctx: Context):
    """(train, test): the digits, or procedural shapes at `image_size` px (classification, default difficulty)."""
    if ctx["data"] == "shapes":
        return shapes_data(ctx["n_train"], ctx["n_test"], image_size=ctx["image_size"], seed=SHAPES_SEED)
    return digit_data(ctx)


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    train, test = _data(ctx)
    shallow, deep = ctx["depths"]
    model_kwargs = {
        "depth": deep if arm.endswith("deep") else shallow,
        "widths": tuple(ctx["widths"]),
        "residual": "zero_pad" if arm.startswith("resnet") else "none",
        "in_channels": train.images.shape[1],
        "input_size": tuple(train.images.shape[-2:]),
    }
    steps, grads = StepRecorder(), GradientRatio(GRAD_EVERY)
    # (train, train): the trainer's final evaluation, in eval mode, then measures the training set itself
    result = fit(ctx, seed, (train, train), callbacks=[steps, grads], model="cifar_resnet",
                 model_kwargs=model_kwargs, epochs=ctx["epochs"], batch_size=ctx["batch_size"], lr=ctx["lr"],
                 optimizer="sgd", momentum=0.9, schedule="cos", weight_decay=0.0)  # fmt: skip
    return {
        "layers": model_kwargs["depth"],
        "train_error": 1.0 - result.test_accuracy,
        "train_loss": result.test_loss,
        "test_error": 1.0 - accuracy(result.model, test),
        "grad_ratio": statistics.median(grads.ratios),
        "grad_ratio_init": grads.ratios[0],
        "steps": result.steps,
        "first_loss": steps.loss[0],  # the first batch's loss, before any update
        "loss_curve": _chunk_means(steps.loss, ctx["curve_every"]),
        "epoch_train_loss": [h["train_loss"] for h in result.history],  # train mode, mean over the epoch's steps
        "epoch_train_error": [1.0 - h["train_accuracy"] for h in result.history],
    }


def _geo_mean(values: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(values))))


def decide(r: Results) -> Verdict:
    err = {arm: r.values(arm, "train_error") for arm in ARMS}
    plain = effect(err["plain-deep"], err["plain-shallow"], MIN_GAP)
    resnet = effect(err["resnet-deep"], err["resnet-shallow"], MIN_GAP)
    deep_loss = r.values("resnet-deep", "train_loss")
    ratio = _geo_mean(r.values("plain-deep", "grad_ratio"))
    shallow, deep = r.first("plain-shallow", "layers"), r.first("plain-deep", "layers")
    numbers = (
        f"final training error plain-{shallow} {mean_std(err['plain-shallow'], 100)}% vs plain-{deep} "
        f"{mean_std(err['plain-deep'], 100)}% (paired {plain.interval.format(100, unit=' pts')}), ResNet-{shallow} "
        f"{mean_std(err['resnet-shallow'], 100)}% vs ResNet-{deep} {mean_std(err['resnet-deep'], 100)}% (paired "
        f"{resnet.interval.format(100, unit=' pts')}); plain-{deep}'s first/last relative gradient "
        f"{ratio:.2g} (geometric mean); {len(r.seeds)} seeds"
    )
    short = f"plain {plain.mean * 100:+.1f} pts, ResNet {resnet.mean * 100:+.1f} pts"
    if plain.interval.high < MIN_GAP:
        return Verdict("refuted", f"The deeper plain net trained about as well as the shallow one or better (no "
                       f"degradation of ≥ {MIN_GAP * 100:.0f} pts): {numbers}.", short)  # fmt: skip
    if not np.all(deep_loss <= TRAINS_LOSS):
        return Verdict("inconclusive", f"ResNet-{deep} did not train (final training loss "
                       f"{mean_std(deep_loss, 1, 2)}, bar {TRAINS_LOSS:.2f}), so the budget cannot show what "
                       f"shortcuts do: {numbers}.", short)  # fmt: skip
    if plain.direction == POSITIVE and resnet.interval.high < MIN_GAP:
        if ratio < VANISH_RATIO:
            return Verdict("nuanced", f"Degradation appeared and shortcuts removed it, but the deep plain net's "
                           f"gradient reached its first layer weakened below {VANISH_RATIO:g}, so vanishing "
                           f"gradients are not ruled out: {numbers}.", short)  # fmt: skip
        return Verdict("supported", f"The deeper plain net trained worse, the deeper ResNet did not, and the "
                       f"gradient did not vanish: {numbers}.", short)  # fmt: skip
    if plain.direction == POSITIVE and resnet.direction == POSITIVE:
        return Verdict("nuanced", f"Degradation appeared, but the deeper ResNet degraded too, so shortcuts did not "
                       f"remove it: {numbers}.", short)  # fmt: skip
    return Verdict("inconclusive", f"Too noisy to decide at this budget: {numbers}.", short)


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        rows.append((
            arm,
            str(r.first(arm, "layers")),
            mean_std(r.values(arm, "train_error"), 100),
            mean_std(r.values(arm, "train_loss"), 1, 3),
            mean_std(r.values(arm, "test_error"), 100),
            f"{_geo_mean(r.values(arm, 'grad_ratio_init')):.2g}",
            f"{_geo_mean(r.values(arm, 'grad_ratio')):.2g}",
        ))  # fmt: skip
    columns = ("arm", "layers", "train error %", "train loss", "test error %", "grad ratio first/last at init",
               "grad ratio first/last (median)")  # fmt: skip
    return Table(columns, tuple(rows))


def figure(r: Results):
    import matplotlib.pyplot as plt

    every = r.params["curve_every"]
    fig1, ax = plt.subplots(figsize=(6, 3.6))
    for c, arm in enumerate(r.arms):
        curves = r.series(arm, "loss_curve")
        steps = (np.arange(curves.shape[1]) + 0.5) * every
        style = "--" if arm.startswith("plain") else "-"
        label = f"{arm.split('-')[0]}-{r.first(arm, 'layers')}"
        ax.plot(steps, curves.mean(0), style, color=f"C{c}", label=label)
        ax.fill_between(steps, curves.min(0), curves.max(0), color=f"C{c}", alpha=0.2, lw=0)
    ax.axhline(math.log(10), color="grey", lw=0.8, ls=":", label="chance (ln 10)")
    ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(f"training loss (nats, mean of {every} steps)")
    ax.set_title("Training loss per step: plain vs residual nets at two depths")
    ax.legend(fontsize=8)
    fig1.tight_layout()

    fig2, ax = plt.subplots(figsize=(5.5, 3.4))
    for i, arm in enumerate(r.arms):
        err = r.values(arm, "train_error") * 100
        ax.bar(i, err.mean(), color=f"C{i}", alpha=0.35)
        ax.scatter([i] * len(err), err, color=f"C{i}", zorder=3)
    ax.set_xticks(range(len(r.arms)), [f"{a.split('-')[0]}-{r.first(a, 'layers')}" for a in r.arms])
    ax.set_ylabel("final training error (%)")
    ax.set_title("Final training error per seed, measured on the training set")
    fig2.tight_layout()
    return [fig1, fig2]


def _converged(r: Results) -> tuple[bool, str]:
    parts, met = [], True
    for arm in r.arms:
        curves = r.series(arm, "epoch_train_loss")
        change = evidence.relative_change(curves, 0.2)
        final = float(np.mean(curves[:, -1])) if curves.size else math.nan
        ok = (math.isfinite(change) and change < CONVERGED) or final < FITTED_LOSS
        met = met and ok
        parts.append(f"{_name(r, arm)} {change:.0%} (final {final:.3f} nats)")
    return met, "training loss change over the last 20% of epochs: " + ", ".join(parts)


def _same_start(r: Results) -> tuple[bool, str]:
    shallow, deep = r.values("plain-shallow", "first_loss"), r.values("plain-deep", "first_loss")
    gap = float(np.mean(deep) - np.mean(shallow))
    met = math.isfinite(gap) and abs(gap) <= SAME_START
    return met, (f"first-step loss {_name(r, 'plain-shallow')} {mean_std(shallow, digits=2)} vs "
                 f"{_name(r, 'plain-deep')} {mean_std(deep, digits=2)} nats (gap {gap:+.2f})")  # fmt: skip


def _name(r: Results, arm: str) -> str:
    """'plain-20', 'ResNet-56': an arm by its net and depth."""
    kind = "plain" if arm.startswith("plain") else "ResNet"
    return f"{kind}-{r.first(arm, 'layers')}"


def _shallow_fits(profile: str) -> evidence.Requirement:
    basis = {
        "quick": "cnnlab's mlp reaches 97.5% test accuracy on these digits with its default recipe (docs/training.md), "
        "so a competent net fits their training set to well under 3% error; 5% leaves room for the short schedule",
        "full": "resnet20's default recipe reaches 98% test accuracy on shapes at 32 px (docs/training.md): the task "
        "is learnable by a 20-layer net; 10% training error leaves 8 points for 16 px, narrow widths and no shortcuts",
    }[profile]
    return evidence.reaches("competence", {"plain-shallow": "the shallow plain net"}, "train_error",
                            at_most=SHALLOW_ERR[profile], what="final training error", basis=basis,
                            profiles=(profile,))  # fmt: skip


REQUIREMENTS = (
    evidence.requirement(
        "competence",
        f"every arm converged: its per-epoch training loss changed by < {CONVERGED:.0%} over the last 20% of epochs "
        f"(mean over seeds), or ended below {FITTED_LOSS:g} nats (training set fitted)",
        "the claim is about the training error at convergence (He et al. 2016 train 64k iterations); a deep net whose "
        "loss is still falling is slower, not degraded; 10% is the framework's usual plateau bar and 0.01 nats "
        "means p(correct) ≥ 0.99 on average, where a further relative change no longer moves the error",
        _converged,
    ),
    _shallow_fits("quick"),
    _shallow_fits("full"),
    evidence.requirement(
        "premise",
        f"the deep plain net starts from the same loss as the shallow one (first-step losses within {SAME_START:g} "
        "nats, mean over seeds)",
        "both should start at chance, ln 10 = 2.30 nats, under BatchNorm and He init; a deep net starting ≥ 0.25 nats "
        "(about 10% of chance) higher would lose a head start, which is not degradation",
        _same_start,
    ),
)


def _he_fig1(r: Results) -> tuple[str, bool | None]:
    err = {arm: r.values(arm, "train_error") for arm in ARMS}
    plain = effect(err["plain-deep"], err["plain-shallow"], MIN_GAP)
    resnet = effect(err["resnet-deep"], err["resnet-shallow"], MIN_GAP)
    here = (f"{_name(r, 'plain-deep')} − {_name(r, 'plain-shallow')} final training error "
            f"{plain.mean * 100:+.1f} pts, {_name(r, 'resnet-deep')} − {_name(r, 'resnet-shallow')} "
            f"{resnet.mean * 100:+.1f} pts")  # fmt: skip
    if not _converged(r)[0]:
        return f"{here}, before convergence (not comparable with a final error)", None
    if plain.direction == POSITIVE and resnet.direction in (NEGATIVE, NEGLIGIBLE):
        return here, True
    if plain.direction in (NEGATIVE, NEGLIGIBLE):
        return here, False
    return here, None


LITERATURE = (
    Anchor(
        source="He, Zhang, Ren & Sun (2016), Deep Residual Learning for Image Recognition",
        where="Fig. 1, Fig. 6 (left) and Table 6",
        setting="CIFAR-10 (50k/10k, 32 px, crops and flips), plain nets and ResNets of 20, 32, 44, 56 layers at widths "
        "16-32-64, BatchNorm, SGD lr 0.1 momentum 0.9, weight decay 1e-4, batch 128, 64k iterations",
        published="plain-56 ends with a higher training error than plain-20 at convergence while ResNet-56 ends lower "
        "than ResNet-20 (read from the figures); test error ResNet-20 8.75%, ResNet-56 6.97% (Table 6)",
        compare=_he_fig1,
        differs="ours is a CPU-scale copy: 16 px shapes (full) or 8×8 digits (quick), a few thousand images without "
        "augmentation, narrow widths and shallower pairs, so a deep plain net may fit the smaller training set anyway",
    ),
    Anchor(
        source="Srivastava, Greff & Schmidhuber (2015), Training Very Deep Networks (highway networks)",
        where="Fig. 1",
        setting="MNIST and CIFAR-100, plain and highway fully connected nets of 10 to 100 layers, SGD with momentum, "
        "the best of a hyperparameter search per depth",
        published="the plain nets' best training loss worsens from about 20 layers on while the highway nets' does not "
        "(read from the figure)",
        compare=_he_fig1,
        differs="fully connected nets without BatchNorm, each depth tuned separately; ours are convolutional with "
        "BatchNorm and share one schedule",
    ),
)

REVISIONS = (
    Revision(
        version=2,
        change="The question became the training error at convergence: every run must converge (competence), the "
        "shallow plain net must fit its training set (competence) and the deep plain net must start from the shallow "
        "one's loss (premise). The full profile moved from 20 epochs of MNIST at widths 16-32-64 to 16 px shapes "
        "(2,000 images), widths 8-16-32, 50 epochs; the quick profile keeps its budget and says it is undertrained.",
        why="after about 115 steps the quick profile measured early training speed, not the final training error of "
        "He et al. (2016, Fig. 1); the full profile was sized for a GPU",
        before="supported, quick: plain +10.4 pts, ResNet +0.1 pts (seeds 0–2; seeds 100–102: plain +17.8 pts)",
        after="inconclusive, quick: undertrained — no arm converged (training loss still falling 22–42% over the last "
        "20% of epochs); the rule alone: supported, plain +10.4 pts, ResNet +0.1 pts; shallow net 1.5%, first "
        "losses 2.34 vs 2.34 nats (seeds 0–2); full: not yet measured (the reference run)",
    ),
)


STUDY = register_study(
    Study(
        id="degradation",
        title="Degradation: deeper plain nets train worse",
        topic="ResNet: the degradation problem",
        claim="A network deeper than it needs must have its extra layers learn the identity, which stacked nonlinear "
        "layers do badly; so the deeper plain net ends with a higher training error (not overfitting, not vanishing "
        "gradients), and residual connections, which make the identity trivial, remove the degradation.",
        question="With BatchNorm and one schedule for all, trained to convergence, is a deep plain CIFAR-style net's "
        "final training error higher than a shallow one's while the deep ResNet's is not, and does the gradient "
        "still reach the deep plain net's first layer?",
        design="He et al. (2016, Fig. 1/6) at CPU scale. Arms: plain and residual (option-A shortcuts, same parameters "
        "and initial weights) CIFAR nets at two depths. BatchNorm, He init, SGD momentum 0.9 lr 0.1 cosine, no weight "
        "decay, equal epochs (samples and steps) for all arms. Quick: 8 and 20 layers at widths 4-8-16, 8×8 digits, 5 "
        "epochs of batch 64 — early training, so it cannot meet the convergence requirement. Full: 20 and 56 layers "
        "at 8-16-32, 16 px shapes (2,000 images), 50 epochs of batch 64 (≈ 60 core-minutes). Training error and "
        "loss on the whole training set after training (eval mode); per-epoch training loss for the convergence "
        "check.",
        rule=f"Paired over seeds, gaps of final training error deep − shallow. Refuted if the plain gap's 95% CI lies "
        f"below {MIN_GAP * 100:.0f} pts (no degradation); otherwise inconclusive unless every seed of the deep ResNet "
        f"reaches a training loss ≤ ln 10 / 4. Supported if the plain gap is ≥ {MIN_GAP * 100:.0f} pts (CI above 0), "
        f"the ResNet gap's CI lies below {MIN_GAP * 100:.0f} pts, and the deep plain net's first/last relative "
        f"gradient is ≥ {VANISH_RATIO:g}; nuanced if that gradient ratio is lower (vanishing gradients not excluded) "
        "or if the ResNet degrades as well (its gap ≥ the same margin, CI above 0); otherwise inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        version=2,
        requirements=REQUIREMENTS,
        literature=LITERATURE,
        revisions=REVISIONS,
    )
)
