"""vanish-explode: the chain rule multiplies one factor per layer, so gradients vanish or explode exponentially.

Claim: backpropagation multiplies, layer after layer, the weights by the derivative of the activation; when that
per-layer factor is below 1 the gradient reaching the lower layers shrinks exponentially with depth (vanishing),
when it is above 1 it grows exponentially (exploding).

Question: in deep MLPs at initialization — linear, tanh and ReLU, each with its matching initialization (Xavier for
linear and tanh, He for ReLU) scaled by a gain of 0.5, 1 or 2 — does the gradient change by a constant factor per
layer, is that factor the one the chain rule predicts, and do the gradients of the weights, which the optimizer
receives, change with depth as the backward signal does?

Prediction (mean-field, infinitely wide layers; Poole et al., 2016; Schoenholz et al., 2017): hidden layer k computes
z_k = W_k·h_{k−1} (biases start at 0), h_k = φ(z_k), with weights of variance v_k and n_k inputs. The backward
signal δ_k = ∂L/∂h_k obeys δ_{k−1} = W_kᵀ·(φ'(z_k) ⊙ δ_k), so E‖δ_{k−1}‖² = χ_k·E‖δ_k‖² with

    χ_k = n_k·v_k·E[φ'(z_k)²],    z_k ~ N(0, q_k),    q_k = n_k·v_k·E[φ(z_{k−1})²],    q_1 = v_1·E‖x‖²,

and the gradient's norm changes by √χ_k per layer. Linear (φ' = 1) with Xavier gain g between equal widths:
χ = g². ReLU (E φ'² = ½) with He gain g (v = 2g²/n): χ = g². tanh with Xavier gain g: χ_k = g²·E[tanh'(z_k)²],
where q_k follows the recursion (Gauss–Hermite quadrature): q → 0 for g ≤ 1, so the factor tends to g (0.5) or to 1
from below; for g = 2, q settles at q* ≈ 2.1 and the factor at ≈ 1.17 (tanh saturates, yet the chain explodes).
The predicted per-layer factor is the geometric mean of √χ_k over the layers measured. The weights' gradient
∂L/∂W_k = (φ'(z_k) ⊙ δ_k)·h_{k−1}ᵀ also carries the forward signal h_{k−1}; in a linear or ReLU net that signal
scales by the same g per layer upwards, so the product does not change with k (Glorot & Bengio, 2010, §4.2.1):
every layer's weight gradient scales together by g^(L−1).

Design: arms `<act>-<gain>` for act ∈ {linear, tanh, relu} and gain ∈ {0.5, 1, 2} (init 'xavier:g' for linear and
tanh, 'he:g' for ReLU). The MLP has 24 hidden layers of 128 units (quick) or 256 (full), biases 0, in float64. One
forward and backward pass of the mean cross-entropy over the first 500 training digits of the embedded set (full:
2,000, of MNIST's 8,000 when a data folder is given) — the same images for every arm and seed; the seed draws the
weights. No training: the claim is about the product the chain rule forms, which initialization isolates (no
competence requirement; the full profile costs seconds). Measured per hidden layer k = 1..L: ‖δ_k‖ and
‖∂L/∂W_k‖. The measured per-layer factor of the backward signal is (‖δ_1‖/‖δ_L‖)^(1/(L−1)); of the weight
gradients (‖∂L/∂W_2‖/‖∂L/∂W_L‖)^(1/(L−2)) (layer 1's fan-in is the image's); R² of a straight line through
log‖δ_k‖ against k says whether the change is exponential.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import create
from .._spec import init_std, parse_init
from ..data import make_loader
from ..layers import LinearNormAct
from ._base import Anchor, Context, Results, Study, Table, Verdict
from ._common import digit_data
from ._registry import register_study
from .stats import NEGATIVE, NEGLIGIBLE, POSITIVE, effect, mean_std

ACTS = {"linear": ("none", "xavier"), "tanh": ("tanh", "xavier"), "relu": ("relu", "he")}  # act, matching init
GAINS = (0.5, 1.0, 2.0)
ARMS = tuple(f"{name}-{gain:g}" for name in ACTS for gain in GAINS)
MIN_LOG_FACTOR = math.log(1.1)  # a per-layer factor beyond ×1.1 or ÷1.1 is exponential change (×9 over 23 layers)
MIN_R2 = 0.9  # log‖δ_k‖ against k must lie on a straight line (R² ≥ 0.9) to count as exponential
VANISH, EXPLODE, FLAT, UNCLEAR = "vanishes", "explodes", "flat", "unclear"
HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"

PROFILES = {
    "quick": {"depth": 24, "width": 128, "samples": 500},
    "full": {"depth": 24, "width": 256, "samples": 2000},
}

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(80)
_WEIGHTS = _WEIGHTS / math.sqrt(2 * math.pi)  # E[f(z)], z ~ N(0, 1)  =  Σ w_i f(node_i)


def _gauss(f, q: float) -> float:
    """E[f(z)] for z ~ N(0, q)."""
    return float(np.sum(_WEIGHTS * f(math.sqrt(q) * _NODES)))


def moments(act: str, q: float) -> tuple[float, float]:
    """(E[φ(z)²], E[φ'(z)²]) for z ~ N(0, q): closed forms for linear ('none') and ReLU, quadrature for tanh."""
    if act == "none":
        return q, 1.0
    if act == "relu":
        return q / 2, 0.5
    if act == "tanh":
        return _gauss(lambda z: np.tanh(z) ** 2, q), _gauss(lambda z: (1 - np.tanh(z) ** 2) ** 2, q)
    raise ValueError(f"no moments for activation {act!r}")


def predicted_factors(act: str, init: str, widths: list[int], input_sq: float) -> list[float]:
    """The chain rule's per-layer factors √χ_k, k = 2..L, of ‖δ_{k−1}‖ / ‖δ_k‖ (see the module docstring).

    Args:
        act: 'none', 'tanh' or 'relu'.
        init: the scheme with its gain, e.g. 'xavier:0.5'.
        widths: [n_0, n_1, …, n_L], the input features then each hidden layer's width.
        input_sq: E‖x‖² over the inputs, which sets q_1.
    """
    scheme, gain = parse_init(init)
    var = [init_std(scheme, widths[k], widths[k + 1], gain) ** 2 for k in range(len(widths) - 1)]
    q = var[0] * input_sq
    factors = []
    for k in range(1, len(var)):
        forward_sq, _ = moments(act, q)
        q = widths[k] * var[k] * forward_sq
        _, slope_sq = moments(act, q)
        factors.append(math.sqrt(widths[k] * var[k] * slope_sq))
    return factors


def layer_gradients(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
    """(‖∂L/∂h_k‖, ‖∂L/∂W_k‖) for each hidden layer k of an `mlp`, bottom to top, with L the mean cross-entropy."""
    hidden = [m for m in model.features if isinstance(m, LinearNormAct)]
    h = x.flatten(1)  # (N, C, H, W) -> (N, C·H·W), as the MLP's Flatten
    outputs = []
    for layer in hidden:
        h = layer(h)
        h.retain_grad()
        outputs.append(h)
    F.cross_entropy(model.head(h), y).backward()
    signal = [float(o.grad.norm()) for o in outputs]
    weight = [float(layer.fc.weight.grad.norm()) for layer in hidden]
    return signal, weight


def per_layer(norms: list[float]) -> tuple[float, float]:
    """(factor, R²): the geometric-mean factor by which `norms` change per layer from the last to the first, and
    the R² of a straight line through their logarithms against the layer index."""
    logs = np.log(np.asarray(norms, dtype=np.float64))
    factor = math.exp((logs[0] - logs[-1]) / (len(logs) - 1))
    k = np.arange(len(logs), dtype=np.float64)
    residual = logs - np.polyval(np.polyfit(k, logs, 1), k)
    spread = float(np.sum((logs - logs.mean()) ** 2))
    return factor, (1.0 - float(np.sum(residual**2)) / spread) if spread > 0 else math.nan


def _arm(arm: str) -> tuple[str, str]:
    name, gain = arm.split("-")
    act, scheme = ACTS[name]
    return act, f"{scheme}:{gain}"


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    act, init = _arm(arm)
    train, _ = digit_data(ctx)
    (batch,) = list(make_loader(train, len(train), shuffle=False, seed=0, augment=None, device="cpu"))
    n = ctx["samples"]
    x, y = batch.inputs[:n].double(), batch.targets[:n]  # normalized as the engine normalizes them
    c, h, w = train.input_size
    torch.manual_seed(seed)
    model = create("mlp", act=act, init=init, depth=ctx["depth"], width=ctx["width"], in_channels=c,
                   input_size=(h, w), num_classes=train.num_classes).double()  # fmt: skip
    signal, weight = layer_gradients(model, x, y)
    widths = [c * h * w] + [ctx["width"]] * ctx["depth"]
    predicted = predicted_factors(act, init, widths, float(x.flatten(1).pow(2).sum(1).mean()))
    signal_factor, signal_r2 = per_layer(signal)
    weight_factor, weight_r2 = per_layer(weight[1:])
    return {
        "signal_norms": signal,
        "weight_norms": weight,
        "signal_factor": signal_factor,
        "signal_r2": signal_r2,
        "weight_factor": weight_factor,
        "weight_r2": weight_r2,
        "predicted_factor": math.exp(float(np.mean(np.log(predicted)))),
        "predicted_factors": predicted,
    }


def classify(log_factor: float) -> str:
    """The predicted change of a per-layer factor given as its logarithm."""
    if log_factor <= -MIN_LOG_FACTOR:
        return VANISH
    if log_factor >= MIN_LOG_FACTOR:
        return EXPLODE
    return FLAT


def measured(r: Results, arm: str, key: str) -> tuple[str, Any]:
    """(class, effect) of the per-layer factor `key` of `arm` over the seeds: its log against 0."""
    logs = np.log(r.values(arm, key))
    e = effect(logs, np.zeros_like(logs), MIN_LOG_FACTOR)
    kind = {NEGATIVE: VANISH, POSITIVE: EXPLODE, NEGLIGIBLE: FLAT}.get(e.direction, UNCLEAR)
    return kind, e


def predicted(r: Results, arm: str) -> str:
    return classify(math.log(float(np.mean(r.values(arm, "predicted_factor")))))


def judged_arms(r: Results) -> list[str]:
    """The arms whose predicted factor is away from 1: those the claim speaks about."""
    return [arm for arm in r.arms if predicted(r, arm) != FLAT]


def part(r: Results, arm: str, key: str) -> str:
    """Does `key`'s measured change in `arm` follow the predicted one? The backward signal must also be exponential."""
    kind, _ = measured(r, arm, key)
    if kind == UNCLEAR:
        return UNDECIDED
    straight = key != "signal_factor" or float(np.mean(r.values(arm, "signal_r2"))) >= MIN_R2
    return HOLDS if kind == predicted(r, arm) and straight else FAILS


def combine(parts: list[str]) -> str:
    """Supported if every part holds, refuted if every part fails, nuanced if some hold and some fail, else
    inconclusive (an undecided part could still tip the verdict)."""
    if all(p == HOLDS for p in parts):
        return "supported"
    if all(p == FAILS for p in parts):
        return "refuted"
    if HOLDS in parts and FAILS in parts:
        return "nuanced"
    return "inconclusive"


def _factor(r: Results, arm: str, key: str) -> str:
    return f"×{mean_std(r.values(arm, key), 1, 2)}"


def _ci(e: Any) -> str:
    """The 95% CI of a log factor as factors: '×0.49–×0.51'."""
    return f"×{math.exp(e.interval.low):.2f}–×{math.exp(e.interval.high):.2f}"


def decide(r: Results) -> Verdict:
    n = len(r.seeds)
    arms = judged_arms(r)
    signal = {arm: part(r, arm, "signal_factor") for arm in arms}
    weight = {arm: part(r, arm, "weight_factor") for arm in arms}

    def arm_numbers(arm: str) -> str:
        _, sig = measured(r, arm, "signal_factor")
        _, wei = measured(r, arm, "weight_factor")
        return (
            f"{arm} predicted ×{np.mean(r.values(arm, 'predicted_factor')):.2f}: signal "
            f"{_factor(r, arm, 'signal_factor')} (CI {_ci(sig)}, R² {np.mean(r.values(arm, 'signal_r2')):.3f}), "
            f"weights {_factor(r, arm, 'weight_factor')} (CI {_ci(wei)})"
        )

    numbers = (
        f"per-layer factors of the backward signal ‖∂L/∂h_k‖ and of the weights' gradients ‖∂L/∂W_k‖ (mean ± std "
        f"and 95% CI over {n} seeds) — " + "; ".join(arm_numbers(arm) for arm in arms)
    )
    held = sum(p == HOLDS for p in signal.values()), sum(p == HOLDS for p in weight.values())
    short = f"signal {held[0]}/{len(arms)}, weight grads {held[1]}/{len(arms)} as predicted"
    kind = combine([*signal.values(), *weight.values()])
    if kind == "supported":
        sentence = "Both the backward signal and the weights' gradients changed by the predicted factor per layer: "
    elif kind == "refuted":
        sentence = "Neither the backward signal nor the weights' gradients followed the per-layer factor: "
    elif kind == "nuanced":
        off = [a for a, p in signal.items() if p == FAILS]
        flat = [a for a, p in weight.items() if p == FAILS]
        together = all(measured(r, a, "weight_factor")[0] == FLAT for a in flat)
        sentence = (
            "The claim holds in part — "
            + (f"the backward signal did not follow the factor in {', '.join(off)}; " if off else
               "the backward signal changed exponentially by the predicted factor in every judged arm; ")
            + (f"the weights' gradients did not follow it in {', '.join(flat)}" if flat else
               "the weights' gradients followed it")
            + (" (there every layer's weight gradient is about the same size)" if flat and together else "")
            + ": "
        )  # fmt: skip
    else:
        sentence = "Too noisy to decide at this budget: "
    return Verdict(kind, sentence + numbers + ".", short)


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        kind, e = measured(r, arm, "signal_factor")
        wkind, _ = measured(r, arm, "weight_factor")
        ci = f"×{math.exp(e.interval.low):.3f} to ×{math.exp(e.interval.high):.3f}"
        rows.append((
            arm,
            f"×{np.mean(r.values(arm, 'predicted_factor')):.3f}",
            _factor(r, arm, "signal_factor"),
            ci,
            f"{np.mean(r.values(arm, 'signal_r2')):.3f}",
            f"{predicted(r, arm)} / {kind}",
            _factor(r, arm, "weight_factor"),
            wkind,
        ))  # fmt: skip
    columns = ("arm", "predicted factor/layer", "signal factor/layer", "95% CI", "R² (log-linear)",
               "predicted / measured", "weight-grad factor/layer", "weight grads")  # fmt: skip
    return Table(columns, tuple(rows))


def _profiles(r: Results, key: str, ylabel: str, title: str, predicted_line: bool):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ACTS), figsize=(7, 3.4), sharey=True)
    for ax, name in zip(axes, ACTS, strict=True):
        for i, gain in enumerate(GAINS):
            arm = f"{name}-{gain:g}"
            norms = r.series(arm, key)
            rel = norms / norms[:, -1:]  # each seed relative to its last hidden layer
            layers = np.arange(1, rel.shape[1] + 1)
            for s, row in enumerate(rel):
                ax.plot(layers, row, color=f"C{i}", alpha=0.5, lw=1, label=f"gain {gain:g}" if s == 0 else None)
            if predicted_line:
                logs = np.log(np.asarray(r.first(arm, "predicted_factors")))
                line = np.exp(np.concatenate([np.cumsum(logs[::-1])[::-1], [0.0]]))  # ‖δ_k‖ / ‖δ_L‖, k = 1..L
                ax.plot(layers, line, color=f"C{i}", ls="--", lw=1.2, label="chain rule" if i == 2 else None)
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("hidden layer (1 = input side)")
    axes[0].set_ylabel(ylabel)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def figure(r: Results):
    signal = _profiles(r, "signal_norms", "‖∂L/∂h_k‖ / ‖∂L/∂h_L‖", "The backward signal changes by the predicted "
                       "factor per layer (dashed)", True)  # fmt: skip
    weight = _profiles(r, "weight_norms", "‖∂L/∂W_k‖ / ‖∂L/∂W_L‖", "The weights' gradients per layer in the same nets",
                       False)  # fmt: skip
    return [signal, weight]


def _near(r: Results, arm: str, key: str, target: float) -> tuple[float, bool]:
    factor = float(np.exp(np.mean(np.log(r.values(arm, key)))))
    return factor, abs(math.log(factor / target)) <= MIN_LOG_FACTOR


def _glorot_weights(r: Results) -> tuple[str, bool | None]:
    arms = [a for a in ("linear-0.5", "linear-2", "relu-0.5", "relu-2") if a in r.arms]
    factors = {a: _near(r, a, "weight_factor", 1.0) for a in arms}
    text = ", ".join(f"{a} ×{f:.2f}" for a, (f, _) in factors.items())
    return f"per-layer factor of the weights' gradients {text}", all(ok for _, ok in factors.values())


def _he(r: Results) -> tuple[str, bool | None]:
    factor, ok = _near(r, "relu-1", "signal_factor", 1.0)
    return f"ReLU with He init (gain 1): backward signal ×{factor:.3f} per layer", ok


def _saxe(r: Results) -> tuple[str, bool | None]:
    low, ok_low = _near(r, "linear-0.5", "signal_factor", 0.5)
    high, ok_high = _near(r, "linear-2", "signal_factor", 2.0)
    return f"linear nets: backward signal ×{low:.3f} per layer at gain 0.5, ×{high:.3f} at gain 2", ok_low and ok_high


def _schoenholz(r: Results) -> tuple[str, bool | None]:
    predicted = float(np.mean(r.values("tanh-2", "predicted_factor")))
    factor, ok = _near(r, "tanh-2", "signal_factor", predicted)
    return f"tanh at gain 2: ×{factor:.3f} per layer measured, ×{predicted:.3f} predicted", ok


LITERATURE = (
    Anchor("Glorot & Bengio (2010), Understanding the difficulty of training deep feedforward neural networks",
           "§4.2.1", "deep nets in their linear regime at initialization", "the variance of the weights' gradients is "
           "the same for all layers, while that of the back-propagated gradient may still vanish or explode with depth",
           _glorot_weights, "24 layers of 128–256 units on digits, one batch of 500–2,000 images"),
    Anchor("He, Zhang, Ren & Sun (2015), Delving deep into rectifiers", "§2.2, eq. 14", "deep ReLU nets, backward "
           "pass at initialization", "½·n·Var(W) = 1 (Var = 2/n) keeps the backward signal's size through every "
           "layer; any other value scales it by that factor's square root per layer, exponentially in depth",
           _he, "fully connected layers instead of convolutions; finite width"),
    Anchor("Saxe, McClelland & Ganguli (2014), Exact solutions to the nonlinear dynamics of learning in deep linear "
           "neural networks", "§3 (initialization)", "deep linear nets with scaled random weights", "the gradient "
           "scales as the product of the layers' gains: it vanishes or explodes exponentially in depth unless the "
           "gain is 1", _saxe, "finite width makes the product of random matrices deviate slightly from g per layer"),
    Anchor("Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), Deep information propagation", "§3 (χ1)",
           "mean-field tanh nets", "gradients explode when χ1 = n·Var(W)·E[tanh′(z)²] > 1 (the chaotic phase), "
           "although tanh saturates", _schoenholz, "24 finite layers, not the infinite-width limit"),
)  # fmt: skip


STUDY = register_study(
    Study(
        id="vanish-explode",
        title="Vanishing and exploding gradients: one factor per layer",
        topic="Backpropagation: vanishing and exploding gradients",
        claim="The chain rule multiplies one factor per layer (weights times the activation's derivative): below 1 "
        "the gradient shrinks exponentially with depth (vanishing), above 1 it grows exponentially (exploding).",
        question="In 24-layer linear, tanh and ReLU MLPs at initialization, with the matching init scaled by 0.5, 1 "
        "or 2, does the gradient change by a constant factor per layer, the one the chain rule predicts — and do "
        "the weights' gradients change with depth as the backward signal does?",
        design="Arms: linear and tanh with Xavier, ReLU with He, each at gain 0.5, 1, 2. MLP of 24 hidden layers × "
        "128 units (full: 256), float64, biases 0; one forward/backward pass of the mean cross-entropy over the "
        "first 500 training digits (full: 2,000, of MNIST when given); no training. Measured: ‖∂L/∂h_k‖ and "
        "‖∂L/∂W_k‖ per hidden layer, their geometric-mean factor per layer, and the mean-field prediction "
        "√(n·Var(W)·E[φ'(z)²]).",
        rule=f"Only arms whose predicted per-layer factor lies beyond ×{math.exp(MIN_LOG_FACTOR):.1f} or "
        f"÷{math.exp(MIN_LOG_FACTOR):.1f} are judged. For each, the backward signal holds when the 95% CI of its "
        f"log factor over seeds lies beyond ±log {math.exp(MIN_LOG_FACTOR):.1f} on the predicted side and log‖δ_k‖ "
        f"is a straight line in k (R² ≥ {MIN_R2}); the weights' gradients hold when their log factor does the same; "
        "a part fails when its factor is on the other side or negligible (CI inside ±log 1.1) or not exponential. "
        "Supported if every part holds, refuted if every part fails, nuanced if some hold and some fail, else "
        "inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        trains=False,
        literature=LITERATURE,
    )
)
