"""giou-gradient: the IoU loss is flat for disjoint boxes, the GIoU loss is not.

Claim: IoU, the overlap area over the union area, is 0 for any two boxes that do not overlap, however far apart,
so a 1 − IoU box loss gives a predicted box that misses its target no gradient at all; GIoU = IoU − (C − A∪B)/C,
with C the smallest box enclosing both, still grows as the boxes approach, so its loss pulls the box in.

Question: over a sweep of distances between a predicted box and its target, from overlapping to three box widths
apart, what is the gradient of 1 − IoU and of 1 − GIoU with respect to the predicted box's four coordinates — by a
closed-form derivative and by autograd through cnnlab's box functions — and does the formula IoU − (C − A∪B)/C
reproduce `cnnlab.metrics.boxes.generalized_box_iou`?

Design: arms `iou` and `giou` (the loss). Each seed draws a target box (sides 6–16 px) and a predicted box (sides
6–16 px) in float64; the predicted box slides along x from 40% overlap of the target's width to a gap of three
target widths, in SWEEP_STEPS steps. At each position: the closed-form gradient (piecewise derivatives of the
intersection, union and enclosing box), the autograd gradient of cnnlab's loss (`1 − box_iou` and
`generalized_box_iou_loss`, eps 1e-7 as torchvision's), and for the giou arm the hand formula against
`generalized_box_iou` on 1,000 random pairs. Exact computation: no training (no competence requirement), the same
in both profiles but for the number of positions and pairs; the full profile costs about a second.

Literature: Rezatofighi et al. (2019) introduce GIoU because the IoU loss has a plateau at zero overlap; Zheng et
al. (2020) note that GIoU's pull on a distant box is weak, which slows its convergence — the sweep shows how the
pull falls with the gap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..metrics.boxes import box_iou, generalized_box_iou, generalized_box_iou_loss
from ._base import Anchor, Context, Results, Study, Table, Verdict
from ._registry import register_study
from .stats import mean_std

ARMS = ("iou", "giou")
ZERO = 1e-12  # a gradient norm below this is zero (float64; the loss terms are O(1))
MIN_PULL = 1e-4  # GIoU's gradient norm (per pixel) must stay above this at every disjoint position to count as a pull
AGREE_TOL = 1e-5  # max |closed form − autograd| / max(|autograd|, 1e-3): eps = 1e-7 in the losses' divisions
FORMULA_TOL = 1e-9  # |IoU − (C − A∪B)/C − cnnlab's GIoU|, float64

PROFILES = {
    "quick": {"steps": 41, "pairs": 1000},
    "full": {"steps": 161, "pairs": 10000},
}


def random_box(gen: torch.Generator, n: int = 1) -> torch.Tensor:
    """(n, 4) float64 xyxy boxes with sides in [6, 16] px and corners in [0, 32]."""
    wh = 6 + 10 * torch.rand(n, 2, generator=gen, dtype=torch.float64)
    xy = 16 * torch.rand(n, 2, generator=gen, dtype=torch.float64)
    return torch.cat([xy, xy + wh], dim=1)


def closed_form(pred: torch.Tensor, target: torch.Tensor) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """(IoU, GIoU, d(1 − IoU)/d pred, d(1 − GIoU)/d pred) of one pair of (4,) xyxy boxes, by hand.

    With I = iw·ih, U = A + B − I and C = cw·ch: dIoU = (dI·U − I·dU)/U², dGIoU = dIoU + (dU·C − U·dC)/C²,
    where iw = min(x2, X2) − max(x1, X1) clipped at 0 moves with x1 only if x1 > X1 (and overlap), and so on.
    """
    x1, y1, x2, y2 = pred.tolist()
    tx1, ty1, tx2, ty2 = target.tolist()
    iw, ih = min(x2, tx2) - max(x1, tx1), min(y2, ty2) - max(y1, ty1)
    overlap = iw > 0 and ih > 0
    iw, ih = max(iw, 0.0), max(ih, 0.0)
    # d iw / d (x1, y1, x2, y2) and d ih / d (...): a side moves the intersection only where it is the inner one.
    diw = np.array([-(x1 > tx1), 0, (x2 < tx2), 0], dtype=np.float64) * overlap
    dih = np.array([0, -(y1 > ty1), 0, (y2 < ty2)], dtype=np.float64) * overlap
    inter = iw * ih
    d_inter = diw * ih + dih * iw
    w, h = x2 - x1, y2 - y1
    area_b = (tx2 - tx1) * (ty2 - ty1)
    d_area = np.array([-h, -w, h, w])
    union = w * h + area_b - inter
    d_union = d_area - d_inter
    cw, ch = max(x2, tx2) - min(x1, tx1), max(y2, ty2) - min(y1, ty1)
    dcw = np.array([-(x1 < tx1), 0, (x2 > tx2), 0], dtype=np.float64)
    dch = np.array([0, -(y1 < ty1), 0, (y2 > ty2)], dtype=np.float64)
    c = cw * ch
    d_c = dcw * ch + dch * cw
    iou = inter / union
    d_iou = (d_inter * union - inter * d_union) / union**2
    giou = iou - (c - union) / c
    d_giou = d_iou + (d_union * c - union * d_c) / c**2
    return iou, giou, torch.from_numpy(-d_iou), torch.from_numpy(-d_giou)


def autograd_grad(pred: torch.Tensor, target: torch.Tensor, arm: str) -> torch.Tensor:
    """(4,) gradient of cnnlab's loss of `arm` with respect to the predicted box."""
    p = pred.clone().requires_grad_(True)
    if arm == "iou":
        loss = 1 - box_iou(p[None], target[None], pairwise=False)[0]
    else:
        loss = generalized_box_iou_loss(p[None], target[None])[0]
    (grad,) = torch.autograd.grad(loss, p)
    return grad


def giou_formula(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU − (C − A∪B)/C of matched (N, 4) xyxy boxes, written out."""
    iw = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = iw * ih
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    c = (torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])) * (
        torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1])
    )
    return inter / union - (c - union) / c


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(seed)
    target, pred0 = random_box(gen)[0], random_box(gen)[0]
    tw = float(target[2] - target[0])
    pw = float(pred0[2] - pred0[0])
    # Gap from the predicted box's left side to the target's right side: −0.4·tw (overlap) .. 3·tw (far apart).
    gaps = np.linspace(-0.4 * tw, 3 * tw, ctx["steps"])
    y = float(target[1]) + float(torch.rand(1, generator=gen, dtype=torch.float64)) * 0.5 * float(target[3] - target[1])
    h = float(pred0[3] - pred0[1])
    norms, closed_norms, errors, disjoint = [], [], [], []
    for g in gaps:
        x1 = float(target[2]) + g
        pred = torch.tensor([x1, y, x1 + pw, y + h], dtype=torch.float64)
        _, _, g_iou, g_giou = closed_form(pred, target)
        auto = autograd_grad(pred, target, arm)
        closed = g_iou if arm == "iou" else g_giou
        errors.append(float((closed - auto).abs().max() / max(float(auto.abs().max()), 1e-3)))
        norms.append(float(auto.norm()))
        closed_norms.append(float(closed.norm()))
        disjoint.append(bool(g >= 0))  # x1 ≥ target's x2: no overlap
    out: dict[str, Any] = {
        "gaps_over_width": (gaps / tw).tolist(),
        "grad_norm": norms,
        "closed_grad_norm": closed_norms,
        "disjoint": disjoint,
        "max_rel_error": max(errors),
        "min_disjoint_grad": min(n for n, d in zip(norms, disjoint, strict=True) if d),
        "max_disjoint_grad": max(n for n, d in zip(norms, disjoint, strict=True) if d),
    }
    if arm == "giou":
        a, b = random_box(gen, ctx["pairs"]), random_box(gen, ctx["pairs"])
        out["formula_error"] = float((giou_formula(a, b) - generalized_box_iou(a, b, pairwise=False)).abs().max())
    return out


def decide(r: Results) -> Verdict:
    agree = max(float(r.values(arm, "max_rel_error").max()) for arm in r.arms)
    formula = float(r.values("giou", "formula_error").max())
    iou_max = float(r.values("iou", "max_disjoint_grad").max())
    giou_min = float(r.values("giou", "min_disjoint_grad").min())
    numbers = (
        f"over {len(r.seeds)} random box pairs, the largest IoU-loss gradient norm at a disjoint position is "
        f"{iou_max:.1e} and the smallest GIoU-loss gradient norm there {giou_min:.2e} per px; closed form and autograd "
        f"agree to {agree:.1e}, the GIoU formula matches cnnlab's to {formula:.1e}"
    )
    short = f"GIoU pull ≥ {giou_min:.1e}/px, IoU {iou_max:.0e}"
    if agree > AGREE_TOL or formula > FORMULA_TOL:
        return Verdict("inconclusive", f"The measurement disagrees with itself: {numbers}.", short)
    if iou_max <= ZERO and giou_min >= MIN_PULL:
        return Verdict("supported", f"Disjoint boxes get no gradient from the IoU loss and a non-zero one from "
                       f"GIoU: {numbers}.", short)  # fmt: skip
    if iou_max <= ZERO or giou_min >= MIN_PULL:
        return Verdict("nuanced", f"Only one half holds (IoU gradient zero when disjoint: {iou_max <= ZERO}; GIoU "
                       f"pull ≥ {MIN_PULL:g} everywhere: {giou_min >= MIN_PULL}): {numbers}.", short)  # fmt: skip
    return Verdict("refuted", f"Neither half holds: {numbers}.", short)


def table(r: Results) -> Table:
    rows = []
    for arm in r.arms:
        formula = f"{r.values(arm, 'formula_error').max():.1e}" if arm == "giou" else "—"
        rows.append((arm, mean_std(r.values(arm, "min_disjoint_grad"), 1, 4),
                     mean_std(r.values(arm, "max_disjoint_grad"), 1, 4),
                     f"{r.values(arm, 'max_rel_error').max():.1e}", formula))  # fmt: skip
    return Table(("loss", "min ‖grad‖ disjoint (1/px)", "max ‖grad‖ disjoint (1/px)", "closed vs autograd",
                  "GIoU formula error"), tuple(rows))  # fmt: skip


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    for i, arm in enumerate(r.arms):
        gaps, norms = r.series(arm, "gaps_over_width"), r.series(arm, "grad_norm")
        for k in range(len(r.seeds)):
            ax.plot(gaps[k], norms[k], color=f"C{i}", alpha=0.7, lw=1.2, label=f"1 − {arm.upper()}" if k == 0 else None)
    ax.axvline(0, color="grey", lw=0.8, ls=":", label="boxes stop overlapping")
    ax.set_xlabel("gap between the boxes (target widths; < 0: overlap)")
    ax.set_ylabel("‖∂loss/∂box‖ (1/px)")
    ax.set_title("Past the target, only GIoU's loss still has a gradient")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def _plateau(r: Results) -> tuple[str, bool | None]:
    iou_max = float(r.values("iou", "max_disjoint_grad").max())
    giou_min = float(r.values("giou", "min_disjoint_grad").min())
    here = (
        f"largest IoU-loss gradient at a disjoint position {iou_max:.1e}, smallest GIoU-loss gradient {giou_min:.2e}/px"
    )
    return here, iou_max <= ZERO and giou_min >= MIN_PULL


def _far_pull(r: Results) -> tuple[str, bool | None]:
    ratios = []
    for norms, disjoint in zip(r.series("giou", "grad_norm"), r.series("giou", "disjoint"), strict=True):
        apart = norms[disjoint > 0]
        ratios.append(apart[-1] / apart[0])
    ratio = float(np.mean(ratios))
    return f"GIoU's pull at 3 target widths apart is {ratio:.0%} of its pull where the boxes just touch", ratio < 1


LITERATURE = (
    Anchor("Rezatofighi, Tsoi, Gwak, Sadeghian, Reid & Savarese (2019), Generalized Intersection over Union",
           "abstract and Sec. 3", "axis-aligned boxes, IoU and GIoU = IoU − |C \\ (A ∪ B)| / |C| as losses",
           "IoU has a plateau at zero for non-overlapping boxes, so its loss cannot be optimized there; GIoU keeps "
           "changing with the boxes' distance (stated, no number)", _plateau, "none expected: the gradients are "
           "computed exactly"),
    Anchor("Zheng, Wang, Liu, Li, Ye & Ren (2020), Distance-IoU Loss", "Sec. 3 (analysis of the GIoU loss)",
           "simulated regression of boxes towards targets at many distances",
           "for boxes apart, GIoU's loss first enlarges the predicted box until it overlaps the target and converges "
           "slowly (read qualitatively, no number)", _far_pull, "none expected: the gradients are computed exactly"),
)  # fmt: skip


STUDY = register_study(
    Study(
        id="giou-gradient",
        title="IoU vs GIoU gradient for disjoint boxes",
        topic="Detection: IoU and GIoU",
        claim="IoU is 0 for any two boxes that do not overlap, so a 1 − IoU loss gives a box that misses its target "
        "no gradient; GIoU = IoU − (C − A∪B)/C, with C the smallest enclosing box, keeps improving as the boxes "
        "approach, so its loss still pulls the box towards the target.",
        question="From overlapping to three box widths apart, what is the gradient of 1 − IoU and 1 − GIoU with "
        "respect to the predicted box, in closed form and by autograd, and does the GIoU formula match cnnlab's?",
        design="Arms: the IoU loss and the GIoU loss. Each seed draws a target and a predicted box (sides 6–16 px, "
        "float64) and slides the prediction along x from 40% overlap to a gap of 3 target widths (quick 41, full "
        "161 positions); closed-form gradient vs autograd through cnnlab.metrics.boxes; the GIoU formula vs "
        "generalized_box_iou on 1,000 (full 10,000) random pairs.",
        rule=f"Supported if the IoU loss's gradient norm is ≤ {ZERO:g} at every disjoint position and the GIoU loss's "
        f"is ≥ {MIN_PULL:g} per px at every one, for every seed; nuanced if only one half holds; refuted if "
        f"neither; inconclusive if closed form and autograd differ by more than {AGREE_TOL:g} (relative) or the "
        f"formula differs from cnnlab's GIoU by more than {FORMULA_TOL:g}.",
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
