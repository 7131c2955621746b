"""saturation: sigmoid and tanh flatten out away from their midpoint, but not at 0 and 1.

Claim: sigmoid and tanh saturate: large inputs land on their flat ends, and the function responds to changes of its
input only near its midpoint. Put precisely, sigmoid turns every input above 1.0 into 1.0 and every input below
0.0 into 0.0.

Question: (1) the exact functions: σ(x) = 1 / (1 + e^−x) with σ′ = σ(1 − σ) ≤ 1/4, tanh(x) = 2σ(2x) − 1 with
tanh′ = 1 − tanh² ≤ 1; where is each derivative at least 1% of its maximum, and how far is sigmoid from the
stated 1.0 above x = 1 and 0.0 below x = 0 (σ(1) = 0.731, σ(0) = 0.5)? (2) During training of a sigmoid or tanh
MLP, does the share of saturated hidden outputs (derivative below 1% of its maximum: |x| > 5.99 for sigmoid,
|x| > 2.99 for tanh) grow from its value at initialization?

Design: arms `sigmoid` and `tanh`: an MLP of 4 hidden layers of 64 units with that activation, Xavier (Glorot)
initialization as both expect. Held fixed: the data (embedded 8×8 digits, 1,442 train / 355 test; MNIST 8,000 /
2,000 in the full profile with --data-dir, width 128), Adam at lr 1e-3 with cosine decay, batch 64; 20 epochs quick,
10 full. The seed sets the initial weights and the data order. cnnlab's diagnostics (`DiagnosticsCallback`) sample
every 10th optimizer step and give each activation layer's saturated share of the training batch's outputs; the
hidden layers' mean is taken at step 0 (initial weights) and over the last 5 sampled steps (end). After training,
the test images give each layer's pre-activations x and outputs, and the share of x > 1 whose output is below 0.99
(which the precise wording would call 1.0). The exact values are computed in float64; they do not depend on a seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine import DiagnosticsCallback
from ._activation import activation_outputs, whole
from ._base import Context, Results, Study, Table, Verdict
from ._common import digit_data, fit
from ._nets import FAILS, HOLDS, combine, part
from ._registry import register_study
from .stats import effect, mean_std

ARMS = ("sigmoid", "tanh")
DERIVATIVE_FRACTION = 0.01  # an output is saturated where f′ < 1% of max f′ (the diagnostics' default)
MIN_RISE = 0.05  # the saturated share must grow by at least 5 points of all hidden outputs to count
WORDING_TOL = 0.01  # the precise wording holds if σ stays within 0.01 of 1.0 above x = 1 and of 0.0 below x = 0
EVERY = 10  # diagnostics sample every 10th optimizer step
END_SAMPLES = 5  # "end of training": the mean over the last 5 sampled steps

PROFILES = {
    "quick": {"epochs": 20, "width": 64, "depth": 4},
    "full": {"epochs": 10, "width": 128, "depth": 4},
}


def sigmoid(x: float) -> float:
    return 0.5 * (1.0 + math.tanh(x / 2))  # = 1 / (1 + e^−x), without overflow for large |x|


def sensitive_window(act: str, fraction: float = DERIVATIVE_FRACTION) -> float:
    """The half-width w of the inputs |x| ≤ w where the derivative is at least `fraction` of its maximum.

    tanh′ = 1 − tanh² ≥ f  ⇔  |tanh x| ≤ √(1 − f)  ⇔  |x| ≤ atanh √(1 − f); sigmoid is tanh stretched by 2
    (σ(x) = (1 + tanh(x/2)) / 2, σ′(x) = tanh′(x/2) / 4), so its window is twice as wide.
    """
    w = math.atanh(math.sqrt(1.0 - fraction))
    return 2 * w if act == "sigmoid" else w


def exact() -> dict[str, float]:
    """Exact (float64) values of the functions and their derivatives that the claim's parts rest on."""
    x = np.linspace(-10, 10, 200001)  # step 1e-4, includes 0
    s = 0.5 * (1 + np.tanh(x / 2))
    t = np.tanh(x)
    return {
        "sigmoid(-1)": sigmoid(-1.0),
        "sigmoid(0)": sigmoid(0.0),
        "sigmoid(1)": sigmoid(1.0),
        "sigmoid(5)": sigmoid(5.0),
        "max dsigmoid": float((s * (1 - s)).max()),
        "max dtanh": float((1 - t * t).max()),
        "dsigmoid(5)": sigmoid(5.0) * (1 - sigmoid(5.0)),
        "dtanh(5)": 1 - math.tanh(5.0) ** 2,
        "sigmoid window": sensitive_window("sigmoid"),
        "tanh window": sensitive_window("tanh"),
        # The wording says σ(x) = 1.0 for x > 1 and 0.0 for x < 0. Its largest miss: 1 − σ(x) is largest just above
        # x = 1, σ(x) largest just below x = 0 (σ is increasing).
        "wording miss": max(1.0 - sigmoid(1.0), sigmoid(0.0)),
    }


def saturation_curve(records) -> tuple[list[int], list[float]]:
    """(steps, mean saturated share over the sigmoid/tanh layers) from the diagnostics' records."""
    by_step: dict[int, list[float]] = {}
    for r in records:
        if r.saturated_fraction is not None:
            by_step.setdefault(r.step, []).append(r.saturated_fraction)
    steps = sorted(by_step)
    return steps, [float(np.mean(by_step[s])) for s in steps]


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    train, test = digit_data(ctx)
    diag = DiagnosticsCallback(every=EVERY, out=None)
    result = fit(ctx, seed, (train, test), callbacks=[diag], model="mlp", act=arm, init="xavier", optimizer="adam",
                 lr=1e-3, batch_size=64, epochs=ctx["epochs"],
                 model_kwargs={"depth": ctx["depth"], "width": ctx["width"]})  # fmt: skip
    steps, curve = saturation_curve(diag.diagnostics.records)
    x, _ = whole(test)
    pre = np.concatenate([z.flatten().numpy() for z, _ in activation_outputs(result.model.cpu(), x)])
    out = sigmoid_or_tanh(arm, pre)
    above = pre > 1
    return {
        "test_accuracy": result.test_accuracy,
        "steps": steps,
        "saturated": curve,
        "init": curve[0],
        "end": float(np.mean(curve[-END_SAMPLES:])),
        "above1_share": float(above.mean()),
        "above1_below099": float((out[above] < 0.99).mean()) if above.any() else math.nan,
        "abs_pre_median": float(np.median(np.abs(pre))),
    }


def sigmoid_or_tanh(act: str, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return 0.5 * (1 + np.tanh(x / 2)) if act == "sigmoid" else np.tanh(x)


def decide(r: Results) -> Verdict:
    e = exact()
    rises = {arm: effect(r.values(arm, "end"), r.values(arm, "init"), MIN_RISE) for arm in ARMS}
    wording = HOLDS if e["wording miss"] <= WORDING_TOL else FAILS
    parts = {f"{arm} saturates in training": part(rises[arm].direction) for arm in ARMS}
    parts["sigmoid is 1.0 above 1 and 0.0 below 0"] = wording
    kind = combine(list(parts.values()))
    shares = "; ".join(
        f"{arm} {mean_std(r.values(arm, 'init'), 100)}% at init → {mean_std(r.values(arm, 'end'), 100)}% at the end "
        f"(paired rise {rises[arm].interval.format(100, unit=' pts')})"
        for arm in ARMS
    )
    kept = r.values("sigmoid", "above1_below099")
    numbers = (
        f"saturated share of hidden outputs (f′ < {DERIVATIVE_FRACTION:.0%} of its maximum) {shares}, "
        f"{len(r.seeds)} seeds (exactly, f′ is below 1% of its maximum only beyond |x| = {e['sigmoid window']:.2f} "
        f"for sigmoid and {e['tanh window']:.2f} for tanh); σ(1) = {e['sigmoid(1)']:.3f} and σ(0) = "
        f"{e['sigmoid(0)']:.3f} (not 1.0 and "
        f"0.0), and in the trained sigmoid nets {mean_std(kept, 100)}% of the pre-activations above 1 gave outputs "
        f"below 0.99"
    )
    states = ", ".join(f"{name}: {state}" for name, state in parts.items())
    short = (f"σ(1) = {e['sigmoid(1)']:.3f}; saturation +{rises['sigmoid'].mean * 100:.0f} / "
             f"+{rises['tanh'].mean * 100:.0f} pts")  # fmt: skip
    lead = {
        "supported": "Both functions saturated in training and the precise wording holds",
        "refuted": "Neither function saturated in training, and the precise wording is wrong",
        "nuanced": f"The claim holds only in part ({states})",
        "inconclusive": f"Too noisy to decide at this budget ({states})",
    }[kind]
    return Verdict(kind, f"{lead}: {numbers}.", short)


def table(r: Results) -> Table:
    e = exact()
    rows = []
    for arm in ARMS:
        window = e[f"{arm} window"]
        rows.append((arm, f"{e[f'max d{arm}']:.3f}", f"|x| ≤ {window:.2f}", mean_std(r.values(arm, "init"), 100),
                     mean_std(r.values(arm, "end"), 100), mean_std(r.values(arm, "above1_below099"), 100),
                     mean_std(r.values(arm, "test_accuracy"), 100)))  # fmt: skip
    return Table(("activation", "max f′", "f′ ≥ 1% of max", "saturated % at init", "saturated % at end",
                  "outputs < 0.99 when x > 1 (%)", "test accuracy %"), tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig1, ax = plt.subplots(figsize=(6, 3.4))
    for i, arm in enumerate(ARMS):
        for k, run_ in enumerate(r.runs[arm]):
            ax.plot(run_["steps"], np.array(run_["saturated"]) * 100, color=f"C{i}", alpha=0.7, lw=1,
                    label=arm if k == 0 else None)  # fmt: skip
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("saturated hidden outputs (%)")
    ax.set_title("Saturated sigmoid and tanh outputs while training (a line per seed)", fontsize=10)
    ax.legend()
    fig1.tight_layout()

    fig2, ax = plt.subplots(figsize=(6, 3.4))
    x = np.linspace(-4, 4, 801)
    ax.plot(x, np.where(x > 1, 1.0, np.where(x < 0, 0.0, np.nan)), color="k", ls="--", lw=1,
            label="stated: 1.0 above 1, 0.0 below 0")  # fmt: skip
    s = sigmoid_or_tanh("sigmoid", x)
    ax.plot(x, s, color="C0", label="σ(x)")
    ax.plot(x, s * (1 - s), color="C0", ls=":", label="σ′(x) ≤ 0.25")
    for v in (0.0, 1.0):
        ax.scatter([v], [sigmoid(v)], color="C3", zorder=3)
        ax.annotate(f"σ({v:g}) = {sigmoid(v):.3f}", (v, sigmoid(v)), textcoords="offset points", xytext=(6, -12))
    ax.set_xlabel("input x")
    ax.set_ylabel("output")
    ax.set_title("Sigmoid is smooth: σ(1) = 0.731, σ(0) = 0.5")
    ax.legend(loc="upper left", fontsize=8)
    fig2.tight_layout()
    return [fig1, fig2]


STUDY = register_study(
    Study(
        id="saturation",
        title="Sigmoid and tanh saturate",
        topic="Activation functions: sigmoid and tanh",
        claim="Sigmoid and tanh saturate: large inputs land on their flat ends and the function is sensitive only "
        "near its midpoint; sigmoid turns inputs above 1.0 into 1.0 and inputs below 0.0 into 0.0.",
        question="Where are σ′ and tanh′ at least 1% of their maximum, what are σ(1) and σ(0) exactly, and does the "
        "share of saturated hidden outputs of a sigmoid or tanh MLP grow while it trains on handwritten digits?",
        design="Arms: sigmoid and tanh MLP (4×64, Xavier init). Same digits for all; Adam lr 1e-3, cosine decay, "
        "batch 64; quick 20 epochs on the embedded 8×8 digits, full 10 epochs on MNIST 8,000 with width 128. "
        "cnnlab's diagnostics give the saturated share (f′ < 1% of max) of every 10th step; init = step 0, end = "
        "the last 5 samples. Exact values in float64.",
        rule=f"Three parts: each activation saturates in training if its saturated share rises by ≥ "
        f"{MIN_RISE * 100:.0f} points from init to end (95% CI of the paired rise above 0; fails if the rise is "
        f"negligible or negative); the precise wording holds if σ stays within {WORDING_TOL} of 1.0 for x > 1 and of "
        "0.0 for x < 0. Supported if all hold, refuted if all fail, nuanced if some hold and some fail, otherwise "
        "inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
    )
)
