"""chain-rule: one neuron's gradient by the chain rule, by hand and by autograd — and which f′ the rule needs.

Claim: for a logistic neuron z = w1·x1 + w2·x2 + b, a = f(z) and a loss l, the gradient splits by the chain rule
into ∂l/∂w = ∂l/∂z · ∂z/∂w with ∂z/∂w1 = x1, ∂z/∂w2 = x2, and ∂l/∂z = ∂l/∂a · f′(x), the derivative of the
activation taken at the input x.

Question: over many random neurons, does the chain rule computed by hand (the NumPy reference,
`cnnlab.scratch.explain_backprop`, with the factor f′(z)) give autograd's ∂l/∂w1, ∂l/∂w2, ∂l/∂b and ∂l/∂z, and does
the formula as written, with f′(x), give them too?

Design: arms `sigmoid` (the logistic neuron) and `tanh`. Each seed draws `draws` neurons: x1, x2, w1, w2, b from
N(0, 1) and a target from U(0, 1) (the same draws for both arms), with the squared-error loss l = (a − target)².
Hand: `explain_backprop` runs each neuron through the scratch Linear, activation and MSE layers and multiplies their
backward factors. Written formula: ∂l/∂z = ∂l/∂a · f′(x), where a neuron of two inputs leaves "x" open; both
readings, x = x1 and x = x2, are computed and the one closer to autograd counts. Autograd: PyTorch's, in float64,
computed here independently of the reference. The error of a hand value h against autograd's g is taken relative
to the size of the chain's factors, |h − g| / (2(|a| + |target|) · |x_k|) with x_k = x1, x2 or 1 for w1, w2 and b, z
(f′ counted at its bound 1): a plain scaled error |h − g| / |g| would blow float64 rounding up where a cancels
against the target or a saturated unit's f′ = 1 − a² cancels, although both paths are exact. Each run keeps the
largest error over its draws and the four gradients. No training: the computation is exact up to float64 rounding,
so a fixed tolerance decides and the seeds only pick the inputs (no competence requirement; the full profile
costs seconds).
Quick: 200 draws per seed; full: 1,000.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..layers import create_act as create_torch_act
from ..scratch import create_act
from ..scratch.explain import explain_backprop
from ._base import Anchor, Context, Results, Study, Table, Verdict
from ._registry import register_study

ARMS = ("sigmoid", "tanh")
TOL = 1e-9  # largest scaled error that counts as "equal" (float64 rounding is ~1e-16)
FLOOR = 1e-300  # the scale never divides by 0
KEEP = 100  # draws whose values are kept for the figure
GRADS = ("w1", "w2", "b", "z")

PROFILES = {"quick": {"draws": 200}, "full": {"draws": 1000}}


def draw_neurons(n: int, seed: int) -> dict[str, np.ndarray]:
    """(n,) arrays x1, x2, w1, w2, b ~ N(0, 1) and target ~ U(0, 1) from generator `seed`."""
    rng = np.random.default_rng(seed)
    values = {k: rng.standard_normal(n) for k in ("x1", "x2", "w1", "w2", "b")}
    values["target"] = rng.uniform(0.0, 1.0, n)
    return values


def autograd_gradients(act: str, v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """∂l/∂w1, ∂l/∂w2, ∂l/∂b, ∂l/∂z of every neuron by PyTorch autograd in float64 (each neuron's loss depends on
    its own weights only, so the gradient of the summed loss gives every neuron's own)."""
    t = {k: torch.tensor(a, dtype=torch.float64) for k, a in v.items()}
    w1, w2, b = (t[k].clone().requires_grad_(True) for k in ("w1", "w2", "b"))
    z = w1 * t["x1"] + w2 * t["x2"] + b
    z.retain_grad()
    a = create_torch_act(act)(z)
    ((a - t["target"]) ** 2).sum().backward()
    return {"w1": w1.grad.numpy(), "w2": w2.grad.numpy(), "b": b.grad.numpy(), "z": z.grad.numpy()}


def hand_gradients(act: str, v: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The reference's chain rule with f′(z), neuron by neuron: ∂l/∂w1, ∂l/∂w2, ∂l/∂b, ∂l/∂z; then ∂l/∂a and a."""
    rows = [explain_backprop(**{k: float(v[k][i]) for k in v}, act=act) for i in range(len(v["x1"]))]
    dl_da = np.array([e.dl_da for e in rows])
    grads = {
        "w1": np.array([e.dl_dw1 for e in rows]),
        "w2": np.array([e.dl_dw2 for e in rows]),
        "b": np.array([e.dl_db for e in rows]),
        "z": dl_da * np.array([e.da_dz for e in rows]),  # ∂l/∂z = ∂l/∂a · f′(z)
    }
    return grads, dl_da, np.array([e.a for e in rows])


def written_gradients(act: str, v: dict[str, np.ndarray], dl_da: np.ndarray, x: str) -> dict[str, np.ndarray]:
    """The formula as written: ∂l/∂z = ∂l/∂a · f′(x) with the scratch activation's derivative at input `x`
    ('x1' or 'x2'), then ∂l/∂w1 = ∂l/∂z · x1, ∂l/∂w2 = ∂l/∂z · x2, ∂l/∂b = ∂l/∂z."""
    f = create_act(act)
    f.forward(v[x].copy())
    dl_dz = dl_da * f.backward(np.ones_like(v[x]))  # f′(x), from the same layer the reference uses for f′(z)
    return {"w1": dl_dz * v["x1"], "w2": dl_dz * v["x2"], "b": dl_dz, "z": dl_dz}


def factor_scales(v: dict[str, np.ndarray], a: np.ndarray) -> dict[str, np.ndarray]:
    """The size of each gradient's factors, 2(|a| + |target|) · |x_k| (x_k = 1 for b and z), the scale of its
    float64 rounding."""
    loss_scale = 2 * (np.abs(a) + np.abs(v["target"]))
    return {"w1": loss_scale * np.abs(v["x1"]), "w2": loss_scale * np.abs(v["x2"]), "b": loss_scale, "z": loss_scale}


def _errors(h: dict[str, np.ndarray], g: dict[str, np.ndarray], scale: dict[str, np.ndarray]) -> np.ndarray:
    """(n,) each draw's largest error |h − g| / scale over the four gradients."""
    return np.max([np.abs(h[k] - g[k]) / np.maximum(scale[k], FLOOR) for k in GRADS], axis=0)


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    v = draw_neurons(ctx["draws"], seed)
    auto = autograd_gradients(arm, v)
    hand, dl_da, a = hand_gradients(arm, v)
    scale = factor_scales(v, a)
    err_z = _errors(hand, auto, scale)
    written = {x: written_gradients(arm, v, dl_da, x) for x in ("x1", "x2")}
    err_x = {x: _errors(w, auto, scale) for x, w in written.items()}
    best = min(err_x, key=lambda x: float(err_x[x].max()))  # the more favourable reading of "x"
    return {
        "max_err_fz": float(err_z.max()),
        "max_err_fx1": float(err_x["x1"].max()),
        "max_err_fx2": float(err_x["x2"].max()),
        "max_err_fx": float(err_x[best].max()),
        "median_err_fx": float(np.median(err_x[best])),
        "share_fx_within_tol": float(np.mean(err_x[best] <= TOL)),
        "fx_reading": best,
        "autograd_dw1": auto["w1"][:KEEP].tolist(),
        "hand_dw1": hand["w1"][:KEEP].tolist(),
        "written_dw1": written[best]["w1"][:KEEP].tolist(),
    }


def _sci(values: np.ndarray) -> str:
    return f"{float(np.max(values)):.1e}"


def decide(r: Results) -> Verdict:
    fz = np.concatenate([r.values(arm, "max_err_fz") for arm in r.arms])
    fx = np.concatenate([r.values(arm, "max_err_fx") for arm in r.arms])
    share = np.concatenate([r.values(arm, "share_fx_within_tol") for arm in r.arms])
    med = np.concatenate([r.values(arm, "median_err_fx") for arm in r.arms])
    draws = int(r.params["draws"])
    numbers = (
        f"largest scaled error against autograd over {draws} random neurons × {len(r.seeds)} seeds × "
        f"{len(r.arms)} activations ({', '.join(r.arms)}): {_sci(fz)} with f′(z), {_sci(fx)} with f′(x) "
        f"(its better reading; median {float(np.median(med)):.2g}, {float(np.mean(share)) * 100:.0f}% of draws "
        f"within {TOL:g}); tolerance {TOL:g}"
    )
    short = f"f′(z) {_sci(fz)}, f′(x) {_sci(fx)}"
    if not (np.all(np.isfinite(fz)) and np.all(np.isfinite(fx))):
        return Verdict("inconclusive", f"Some gradients were not finite, so the comparison failed: {numbers}.", short)
    z_ok, x_ok = bool(np.max(fz) <= TOL), bool(np.max(fx) <= TOL)
    if x_ok:
        return Verdict("supported", f"The chain rule as written, with f′(x), matches autograd: {numbers}.", short)
    if z_ok:
        return Verdict(
            "nuanced",
            "The chain rule ∂l/∂w = ∂l/∂z·∂z/∂w with ∂z/∂w1 = x1 and ∂l/∂z = ∂l/∂a·f′ holds, but only with the "
            f"derivative at the pre-activation, f′(z); written as f′(x) it is wrong: {numbers}.",
            short,
        )
    return Verdict("refuted", f"The hand-computed chain rule does not match autograd with either f′: {numbers}.",
                   short)  # fmt: skip


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        rows.append((
            arm,
            _sci(r.values(arm, "max_err_fz")),
            _sci(r.values(arm, "max_err_fx1")),
            _sci(r.values(arm, "max_err_fx2")),
            f"{float(np.median(r.values(arm, 'median_err_fx'))):.2g}",
            f"{float(np.mean(r.values(arm, 'share_fx_within_tol'))) * 100:.0f}%",
        ))  # fmt: skip
    return Table(("activation", "max scaled error f′(z)", "max scaled error f′(x1)", "max scaled error f′(x2)",
                  "median scaled error f′(x)", f"draws within {TOL:g} with f′(x)"), tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(r.arms), figsize=(6.5, 3.4), squeeze=False)
    for ax, arm in zip(axes[0], r.arms, strict=True):
        for run in r.runs[arm]:
            auto = np.asarray(run["autograd_dw1"])
            ax.scatter(auto, run["written_dw1"], s=8, color="C1", alpha=0.5,
                       label="f′(x), as written" if run is r.runs[arm][0] else None)  # fmt: skip
            ax.scatter(auto, run["hand_dw1"], s=8, color="C0", alpha=0.7,
                       label="f′(z)" if run is r.runs[arm][0] else None)  # fmt: skip
        lim = max(math.fabs(v) for run in r.runs[arm] for v in run["autograd_dw1"])
        ax.plot([-lim, lim], [-lim, lim], color="grey", lw=0.8, ls=":")
        ax.set_title(arm)
        ax.set_xlabel("∂l/∂w1 by autograd")
    axes[0, 0].set_ylabel("∂l/∂w1 by hand")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Hand chain rule vs autograd (dotted diagonal: equal)", fontsize=10)
    fig.tight_layout()
    return fig


def _rhw(r: Results) -> tuple[str, bool | None]:
    fz = max(float(np.max(r.values(arm, "max_err_fz"))) for arm in r.arms)
    return f"hand chain rule with f′ at the pre-activation z against autograd: largest scaled error {fz:.1e}", fz <= TOL


def _baydin(r: Results) -> tuple[str, bool | None]:
    fz = max(float(np.max(r.values(arm, "max_err_fz"))) for arm in r.arms)
    return f"{fz:.1e} between two independent float64 evaluations", fz <= TOL


LITERATURE = (
    Anchor("Rumelhart, Hinton & Williams (1986), Learning representations by back-propagating errors", "eqs. 1–5",
           "logistic units, squared error", "∂E/∂x_j = ∂E/∂y_j · y_j(1 − y_j), where x_j is the unit's total input "
           "(its pre-activation, our z) and y_j its output; then ∂E/∂w_ji = ∂E/∂x_j · y_i", _rhw,
           "their x_j is the pre-activation; read as an input x1 or x2 of the neuron, 'f′(x)' is a different quantity"),
    Anchor("Baydin, Pearlmutter, Radul & Siskind (2018), Automatic differentiation in machine learning: a survey",
           "§3.2 (reverse mode)", "any composition of differentiable elementary operations", "reverse-mode automatic "
           "differentiation applies the chain rule exactly: its gradients equal the analytic ones up to floating-point "
           "rounding", _baydin, "none expected"),
)  # fmt: skip


STUDY = register_study(
    Study(
        id="chain-rule",
        title="The chain rule of one neuron",
        topic="Backpropagation: the chain rule",
        claim="For a neuron z = w1·x1 + w2·x2 + b, a = f(z), the gradient splits as ∂l/∂w = ∂l/∂z·∂z/∂w with "
        "∂z/∂w1 = x1, and ∂l/∂z = ∂l/∂a·f′(x).",
        question="Over many random neurons, does the hand-computed chain rule (NumPy reference, with f′(z)) match "
        "autograd, and does the formula as written, with f′(x), match it too?",
        design="Arms: sigmoid and tanh neurons. Each seed draws x1, x2, w1, w2, b ~ N(0, 1) and a target ~ U(0, 1), "
        "loss (a − target)². Hand: scratch layers' backward factors (explain_backprop); written: f′ at x1 or at x2, "
        "the closer reading counting; autograd in float64. Quick: 200 draws per seed, full: 1,000. No training.",
        rule=f"Largest scaled error over all draws, gradients (w1, w2, b, z), seeds and activations, against a "
        f"tolerance of {TOL:g}: supported if the f′(x) formula is within it; nuanced if only f′(z) is (the chain "
        "rule holds, the written derivative's argument is wrong); refuted if neither is; inconclusive if a value "
        "is not finite.",
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
