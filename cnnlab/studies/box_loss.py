"""box-loss: IoU-based box losses against L1 in a one-stage detector.

Claim: a box loss built on IoU trains boxes that overlap their targets better than an L1 loss on the coordinates;
GIoU goes further than IoU because it still has a gradient when the boxes do not overlap.

Question: trained the same way, how do `tinydet`'s COCO mAP, AP50 and AP75 differ between the box losses L1, IoU,
GIoU and CIoU — does GIoU beat L1 on AP75 (localization), and does GIoU beat IoU on mAP?

Design: arms `l1`, `iou`, `giou`, `ciou` (cnnlab's losses, each with the detector's default weight against the focal
class loss). Held fixed: the shapes detection data (seed 11, difficulty 0.1, 32×32 images, up to 4 shapes; quick
600 train / 300 test, full 2,000 / 500), the model (quick widths 8/16/32, neck 16, stride-4 head; full 16/32/64,
neck 32, stride-2 head), AdamW, batch 32, cosine decay, epochs per profile. The seed sets init and order. Note: in
this anchor-free detector a predicted box always contains its cell's centre and that centre lies in the target box,
so predicted and target boxes always overlap during training — the case where GIoU differs from IoU by its
gradient never arises here.
"""

from __future__ import annotations

from typing import Any

from ._base import Context, Results, Study, Table, Verdict
from ._detector import PROFILES, train_detector
from ._registry import register_study
from .stats import NEGATIVE, NEGLIGIBLE, POSITIVE, effect, mean_std

ARMS = ("l1", "iou", "giou", "ciou")
MIN_AP = 0.02  # 2 AP points: the smallest difference in AP75 or mAP that matters
DECIDED = (POSITIVE, NEGATIVE, NEGLIGIBLE)


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    return train_detector(ctx, seed, box_loss=arm)


def decide(r: Results) -> Verdict:
    overlap = effect(r.values("giou", "map75"), r.values("l1", "map75"), MIN_AP)
    fix = effect(r.values("giou", "map"), r.values("iou", "map"), MIN_AP)
    numbers = (
        f"AP75 GIoU {mean_std(r.values('giou', 'map75'), 100)} vs L1 {mean_std(r.values('l1', 'map75'), 100)} "
        f"(paired {overlap.interval.format(100, unit=' pts')}); mAP GIoU {mean_std(r.values('giou', 'map'), 100)} vs "
        f"IoU {mean_std(r.values('iou', 'map'), 100)} (paired {fix.interval.format(100, unit=' pts')}); "
        f"{len(r.seeds)} seeds"
    )
    short = f"AP75 GIoU−L1 {overlap.mean * 100:+.1f} pts"
    if overlap.direction == POSITIVE and fix.direction == POSITIVE:
        return Verdict("supported", f"GIoU localized better than L1 and beat IoU: {numbers}.", short)
    if overlap.direction in DECIDED and fix.direction in DECIDED:
        if POSITIVE in (overlap.direction, fix.direction):
            part = "GIoU beat L1 on AP75" if overlap.direction == POSITIVE else "GIoU beat IoU on mAP"
            other = fix.direction if overlap.direction == POSITIVE else overlap.direction
            return Verdict("nuanced", f"Only one half holds ({part}; the other difference is {other}): {numbers}.",
                           short)  # fmt: skip
        return Verdict("refuted", f"GIoU beat neither L1 on AP75 nor IoU on mAP: {numbers}.", short)
    return Verdict("inconclusive", f"Too noisy to decide at this budget: {numbers}.", short)


def table(r: Results) -> Table:
    rows = tuple(
        (
            arm,
            mean_std(r.values(arm, "map"), 100),
            mean_std(r.values(arm, "map50"), 100),
            mean_std(r.values(arm, "map75"), 100),
        )
        for arm in r.arms
    )
    return Table(("box loss", "mAP@[.5:.95] %", "AP50 %", "AP75 %"), rows)


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    for j, (key, label) in enumerate((("map50", "AP50"), ("map75", "AP75"), ("map", "mAP"))):
        for i, arm in enumerate(r.arms):
            v = r.values(arm, key) * 100
            x = i + (j - 1) * 0.25
            ax.bar(x, v.mean(), width=0.25, color=f"C{j}", alpha=0.35, label=label if i == 0 else None)
            ax.scatter([x] * len(v), v, color=f"C{j}", s=12, zorder=3)
    ax.set_xticks(range(len(r.arms)), [a.upper() if a != "l1" else "L1" for a in r.arms])
    ax.set_xlabel("box loss")
    ax.set_ylabel("test AP (%)")
    ax.set_title("Localization quality (AP75) by box loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


STUDY = register_study(
    Study(
        id="box-loss",
        title="Box losses: L1, IoU, GIoU, CIoU",
        topic="Detection: IoU-based box losses",
        claim="A box loss built on IoU trains boxes that overlap their targets better than an L1 loss on the "
        "coordinates; GIoU improves on IoU because it still has a gradient when the boxes do not overlap.",
        question="Trained alike, does tinydet with the GIoU loss reach a higher AP75 than with L1, and a higher mAP "
        "than with the IoU loss? (CIoU is shown alongside.)",
        design="Arms: L1, IoU, GIoU, CIoU box loss with the focal class loss. Shapes detection data (seed 11, "
        "difficulty 0.1), quick 600/300 images, 8 epochs, widths 8/16/32, stride-4 head; full 2,000/500, 30 epochs, "
        "widths 16/32/64, stride-2 head; AdamW, batch 32. Predicted and target boxes always overlap in this "
        "anchor-free design.",
        rule=f"Paired over seeds, with {MIN_AP * 100:.0f} AP points as the smallest effect: supported if GIoU beats "
        "L1 on AP75 and IoU on mAP; nuanced if one of the two is positive and the other is decided (negligible or "
        "negative); refuted if both are decided and neither positive; otherwise inconclusive.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        version=2,  # 2: box voting in the detector's decode
    )
)
