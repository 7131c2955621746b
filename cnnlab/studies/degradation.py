"""degradation: a plain net made deeper than it needs trains worse; the same net with shortcuts does not.

Claim: when a network is deeper than the task needs, its extra layers would have to learn the identity mapping,
which stacked nonlinear layers find hard; so the deeper network ends with a *higher training error* than the
shallower one (degradation). Since the error is on the training data, this is not overfitting, and with BatchNorm
it is not vanishing gradients either; residual connections, which make the identity trivial (all weights of a
block at zero), remove it.

Question: under one schedule, with BatchNorm in every net, is the final training error of a deep plain CIFAR-style
net higher than that of a shallow one, while the deep residual net is not worse than the shallow residual net? And
does the gradient still reach the first layer of the deep plain net (ratio of the first conv's relative gradient
‖∇W‖/‖W‖ to the last conv's), so that vanishing gradients cannot explain the gap?

Design: arms `plain-shallow`, `plain-deep`, `resnet-shallow`, `resnet-deep`: the CIFAR ResNet of He et al. (2016,
§4.2; 3×3 stem, three stages of n basic blocks, global average pool, FC, 6n + 2 layers) with option-A shortcuts
(identity, zero-padded where channels double) or without them. Shortcuts add no parameters, so plain and residual
nets of one depth start from the same weights under one seed. Held fixed: the data (the same images for every arm
and seed), BatchNorm and ReLU everywhere, He initialization, SGD (momentum 0.9, lr 0.1, cosine decay to 0, no
weight decay), batch size, epochs. The seed sets the initial weights and the data order.
- quick: embedded 8×8 digits (1,442 training images), depths 8 and 20 at widths 4-8-16, 5 epochs of batch 64.
  Depth 56 does not fit: a thin 56-layer net costs tens of ms per step on one CPU thread, and a few dozen steps do
  not train even the residual net, which would leave the comparison saying nothing about shortcuts.
- full: digits (MNIST 8,000 / 2,000 with --data-dir), depths 20 and 56 at widths 16-32-64 (the paper's ResNet-20
  and ResNet-56 and their plain twins), 20 epochs of batch 64.
Training error and loss are measured on the whole training set after training, in eval mode (the trainer's final
evaluation, given the training set); test error is shown beside it. The per-step training loss gives the curves.
The mechanism (extra layers failing to learn the identity) is not measured directly; the study measures its
consequence and the two alternative explanations (overfitting, vanishing gradients).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
from torch import nn

from ..engine import Callback, TrainState
from ._base import Context, Results, Study, Table, Verdict
from ._common import StepRecorder, accuracy, digit_data, fit
from ._registry import register_study
from .stats import POSITIVE, effect, mean_std

ARMS = ("plain-shallow", "plain-deep", "resnet-shallow", "resnet-deep")
MIN_GAP = 0.03  # a degradation that matters: 3 points more final training error for the deeper net
TRAINS_LOSS = math.log(10) / 4  # the deep residual net "trains" if every seed's final loss is ≤ ¼ of chance's ln 10
VANISH_RATIO = 0.1  # gradients "vanish" if the first conv's relative gradient is < 1/10 of the last conv's
GRAD_EVERY = 5  # optimizer steps between gradient-ratio samples

PROFILES = {
    "quick": {"depths": [8, 20], "widths": [4, 8, 16], "epochs": 5, "batch_size": 64, "lr": 0.1, "curve_every": 5},
    "full": {"depths": [20, 56], "widths": [16, 32, 64], "epochs": 20, "batch_size": 64, "lr": 0.1, "curve_every": 20},
}


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


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    train, test = digit_data(ctx)
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
        "loss_curve": _chunk_means(steps.loss, ctx["curve_every"]),
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


STUDY = register_study(
    Study(
        id="degradation",
        title="Degradation: deeper plain nets train worse",
        topic="ResNet: the degradation problem",
        claim="A network deeper than it needs must have its extra layers learn the identity, which stacked nonlinear "
        "layers do badly; so the deeper plain net ends with a higher training error (not overfitting, not vanishing "
        "gradients), and residual connections, which make the identity trivial, remove the degradation.",
        question="With BatchNorm and one schedule for all, is a deep plain CIFAR-style net's final training error "
        "higher than a shallow one's while the deep ResNet's is not, and does the gradient still reach the deep "
        "plain net's first layer?",
        design="Arms: plain and residual (option-A shortcuts, same parameters and initial weights) CIFAR nets at two "
        "depths. BatchNorm, He init, SGD momentum 0.9 lr 0.1 cosine, no weight decay. Quick: 8 and 20 layers at "
        "widths 4-8-16, 8×8 digits, 5 epochs of batch 64; full: 20 and 56 layers at 16-32-64, digits or MNIST, 20 "
        "epochs of batch 64. Training error and loss on the whole training set after training (eval mode).",
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
    )
)
