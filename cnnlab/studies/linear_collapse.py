"""linear-collapse: without a nonlinearity, depth adds nothing.

Claim: a network whose activations are all linear trains easily but cannot learn a complex mapping — however deep,
it computes one linear map; a nonlinear activation (ReLU) lets the same network learn structure a linear model
cannot.

Question: on two interleaved spirals (no line separates them), how much test accuracy does a 4-hidden-layer MLP gain
from ReLU over the identical MLP with linear activations, does the linear MLP do better than softmax regression
(one linear layer), and is its function exactly one affine map (the product of its layers)?

Design: arms `linear` (MLP, 4 hidden layers of 32, no activation), `relu` (the same MLP with ReLU) and `logistic`
(softmax regression: no hidden layer). Held fixed: data (spirals, 1.5 turns, noise 0.03; the same points for every
arm and seed), Adam at lr 0.01, cosine decay, batch 64, epochs per profile. The seed sets the initial weights and
the data order. The collapse is checked by multiplying the linear MLP's layers into A·x + b and comparing it with
the network's output on the test points. Every arm trains for the same epochs on the same points (equal samples
and steps). The ReLU arm is the reference: it must separate the spirals (competence), which a 5-nearest-neighbour
classifier on the same training points does for 100.0% (quick) and 99.9% (full) of the test points, so the
classes are separable up to their noise. Full profile: 3 arms × 5 seeds of a few seconds, ≈ 1 core-minute.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data import make_spirals
from ._base import Anchor, Context, Results, Study, Table, Verdict
from ._common import fit
from ._registry import register_study
from .evidence import reaches
from .stats import NEGATIVE, NEGLIGIBLE, POSITIVE, effect, mean_std

ARMS = ("linear", "relu", "logistic")
MIN_GAIN = 0.10  # ReLU must add at least 10 accuracy points to count as "learns what linear cannot"
SAME_AS_LINEAR = 0.03  # the linear MLP "adds nothing" if it stays within ±3 points of softmax regression
COLLAPSE_TOL = 1e-4  # relative error between the net and its product affine map (float32 arithmetic)
COMPETENT = 0.95  # the ReLU MLP's test accuracy (basis: 5-nearest-neighbour accuracy on the same points, ≥ 99.9%)

PROFILES = {
    "quick": {"n_train": 1000, "n_test": 1000, "epochs": 30, "width": 32, "depth": 4},
    "full": {"n_train": 4000, "n_test": 4000, "epochs": 60, "width": 64, "depth": 4},
}


def _data(p: Any):
    return make_spirals(p["n_train"], seed=7, split=0), make_spirals(p["n_test"], seed=7, split=1)


def product_map(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, b) with model(x) = A·x + b for a net of linear layers only: the layers multiplied out."""
    a, b = None, None
    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            w = layer.weight.detach().double()
            bias = layer.bias.detach().double() if layer.bias is not None else torch.zeros(w.shape[0])
            a, b = (w, bias) if a is None else (w @ a, w @ b + bias)
    return a, b


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    train, test = _data(ctx)
    depth = 0 if arm == "logistic" else ctx["depth"]
    act = "relu" if arm == "relu" else "none"
    result = fit(ctx, seed, (train, test), model="mlp", act=act, epochs=ctx["epochs"], batch_size=64, lr=0.01,
                 optimizer="adam", model_kwargs={"depth": depth, "width": ctx["width"], "input_size": 1})  # fmt: skip
    numbers: dict[str, Any] = {"test_accuracy": result.test_accuracy, "train_loss": result.history[-1]["train_loss"]}
    if arm != "relu":
        model = result.model.eval()
        x = test.images.to(next(model.parameters()).device)
        with torch.no_grad():
            out = model(x).double().cpu()
        a, b = product_map(model)
        affine = x.cpu().double().flatten(1) @ a.T + b  # (N, 2) @ (2, K) -> (N, K)
        numbers["collapse_error"] = float((out - affine).abs().max() / out.abs().max())
        numbers["rank"] = int(torch.linalg.matrix_rank(a))
    return numbers


def decide(r: Results) -> Verdict:
    gain = effect(r.values("relu", "test_accuracy"), r.values("linear", "test_accuracy"), MIN_GAIN)
    extra = effect(r.values("linear", "test_accuracy"), r.values("logistic", "test_accuracy"), SAME_AS_LINEAR)
    collapse = float(r.values("linear", "collapse_error").max())
    lin, relu = r.values("linear", "test_accuracy"), r.values("relu", "test_accuracy")
    numbers = (
        f"ReLU MLP {mean_std(relu, 100)}% vs linear MLP {mean_std(lin, 100)}% test accuracy "
        f"(paired gain {gain.interval.format(100, unit=' pts')}, {len(r.seeds)} seeds); the linear MLP equals one "
        f"affine map to a relative error of {collapse:.1e}"
    )
    short = f"+{gain.mean * 100:.1f} pts for ReLU"
    if collapse > COLLAPSE_TOL:
        return Verdict("refuted", f"The linear MLP is not one affine map: {numbers}.", short)
    if gain.direction == POSITIVE and extra.direction in (NEGLIGIBLE, NEGATIVE):
        return Verdict("supported", f"Depth without a nonlinearity added nothing, ReLU did: {numbers}; linear MLP "
                       f"vs softmax regression {extra.interval.format(100, unit=' pts')}.", short)  # fmt: skip
    if gain.direction == POSITIVE:
        return Verdict("nuanced", f"ReLU helped, but the linear MLP also differed from softmax regression "
                       f"({extra.interval.format(100, unit=' pts')}): {numbers}.", short)  # fmt: skip
    if gain.direction in (NEGLIGIBLE, NEGATIVE):
        return Verdict("refuted", f"ReLU did not add {MIN_GAIN * 100:.0f} points: {numbers}.", short)
    return Verdict("inconclusive", f"Too noisy to decide at this budget: {numbers}.", short)


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        collapse = f"{r.values(arm, 'collapse_error').max():.1e}" if arm != "relu" else "—"
        rows.append((arm, mean_std(r.values(arm, "test_accuracy"), 100), mean_std(r.values(arm, "train_loss"), 1, 3),
                     collapse))  # fmt: skip
    return Table(("arm", "test accuracy %", "final train loss", "max rel. error vs A·x+b"), tuple(rows))


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for i, arm in enumerate(r.arms):
        acc = r.values(arm, "test_accuracy") * 100
        ax.scatter([i] * len(acc), acc, color="C0", alpha=0.7, zorder=3)
        ax.bar(i, acc.mean(), color="C0", alpha=0.3)
    ax.set_xticks(range(len(r.arms)), [f"{a}" for a in r.arms])
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Two spirals: only the nonlinear MLP separates them")
    ax.axhline(50, color="grey", lw=0.8, ls=":", label="chance")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def _saxe(r: Results) -> tuple[str, bool | None]:
    error = float(np.max(r.values("linear", "collapse_error")))
    rank = int(r.first("linear", "rank"))
    return f"the trained linear MLP equals one affine map of rank {rank} to {error:.1e}", bool(error <= COLLAPSE_TOL)


def _lang(r: Results) -> tuple[str, bool | None]:
    relu = r.values("relu", "test_accuracy")
    return f"the ReLU MLP separates {mean_std(relu, 100)}% of the test points", bool(np.mean(relu) >= COMPETENT)


REQUIREMENTS = (
    reaches("competence", {"relu": "the ReLU MLP"}, "test_accuracy", at_least=COMPETENT,
            basis="a 5-nearest-neighbour classifier on the same training points labels 100.0% (quick) and 99.9% "
            "(full) of the test points: the spirals are separable up to their noise; 95% leaves 5 points"),
)  # fmt: skip

LITERATURE = (
    Anchor("Saxe, McClelland & Ganguli (2014), Exact solutions to the nonlinear dynamics of learning in deep linear "
           "neural networks", "§1–2", "deep networks with linear activations", "a deep linear network computes only "
           "the product of its weight matrices, a linear map, although its learning dynamics are nonlinear",
           _saxe, "none expected: the collapse is exact algebra, up to float32 rounding"),
    Anchor("Lang & Witbrock (1988), Learning to tell two spirals apart", "the two-spirals benchmark",
           "194 points on two interlocking spirals; a 2-5-5-5-1 sigmoid net with shortcut connections, "
           "standard backpropagation", "no line separates the spirals; that net learned every training point, in "
           "about 20,000 epochs", _lang, "1.5 turns with noise and 1,000–4,000 points, Adam and ReLU, tens of epochs"),
)  # fmt: skip


STUDY = register_study(
    Study(
        id="linear-collapse",
        title="Linear activations collapse depth",
        topic="Activation functions: linear vs nonlinear",
        claim="A network with only linear activations is easy to train but cannot learn a complex mapping; a "
        "nonlinear activation lets the same network learn it.",
        question="On two interleaved spirals, how many test-accuracy points does ReLU add to a 4-hidden-layer MLP, "
        "and is the linear MLP any better than softmax regression, i.e. one linear layer?",
        design="Arms: linear MLP (4×32, identity activations), ReLU MLP (same), softmax regression. Same spiral "
        "points for all; Adam lr 0.01, cosine decay, batch 64; quick 30 epochs on 1,000 points, full 60 epochs on "
        "4,000 points with width 64 (≈ 1 core-minute); equal epochs for all arms.",
        rule=f"Supported if ReLU beats the linear MLP by ≥ {MIN_GAIN * 100:.0f} points (95% CI of the paired "
        f"difference above 0), the linear MLP stays within ±{SAME_AS_LINEAR * 100:.0f} points of softmax regression "
        f"(or below it), and the linear MLP equals the product of its layers to a relative error ≤ {COLLAPSE_TOL:g}; "
        "nuanced if ReLU helps but the linear MLP differs from softmax regression; refuted if ReLU's gain is "
        "negligible or negative, or the collapse fails; otherwise inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        requirements=REQUIREMENTS,
        literature=LITERATURE,
    )
)
