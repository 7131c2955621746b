"""neck-merge: concatenating feature maps against adding them in a detector's neck.

Claim: merging two feature maps by concatenation stacks them along the channel axis, so the merged map has the
channels of both and the layer after it needs more parameters; a residual-style add sums them elementwise and keeps
the channel count.

Question: in `tinydet`'s top-down neck, how many channels, parameters and multiply-accumulates does `concat` cost
against `add`, and what COCO mAP does each reach when trained alike?

Design: arms `concat` and `add` (the neck's merge; everything else identical). The structural part is exact:
the merged map's channels (from a forward hook on the merge), the parameters and MACs of the whole model
(`cnnlab.models.summarize`), and the expected parameter difference, (2W − W)·W·9 per merge for the 3×3 fuse conv
(W the neck width). mAP, AP50 and AP75 come from training as in box-loss (shapes detection, seed 11, difficulty
0.1; quick 600/300 images, 8 epochs, widths 8/16/32, neck 16, stride-4 head: one merge; full 2,000/500, 30 epochs,
16/32/64, neck 32, stride-2 head: two merges), GIoU box loss, AdamW, batch 32. The seed sets init and order.
"""

from __future__ import annotations

from typing import Any

import torch

from ..models import create
from ._base import Context, Results, Study, Table, Verdict
from ._detector import PROFILES, train_detector
from ._registry import register_study
from .stats import effect, mean_std

ARMS = ("concat", "add")
MIN_AP = 0.02  # 2 mAP points: the smallest difference in mAP that is reported as an effect


def merged_channels(ctx: Context, merge: str) -> int:
    """Channels of the map that leaves the first merge of an untrained tinydet (forward hook, one zero image)."""
    model = create("tinydet", widths=tuple(ctx["widths"]), neck_width=ctx["neck_width"],
                   head_stride=ctx["head_stride"], merge=merge).eval()  # fmt: skip
    seen: list[int] = []
    handle = model.merges[0].register_forward_hook(lambda _m, _i, out: seen.append(out.shape[1]))
    with torch.no_grad():
        model(torch.zeros(1, *model.input_size))
    handle.remove()
    return seen[0]


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    numbers = train_detector(ctx, seed, merge=arm)
    w = ctx["neck_width"]
    steps = 2 if ctx["head_stride"] == 2 else 1
    numbers.update(channels=merged_channels(ctx, arm), neck_width=w, expected_extra=steps * w * w * 9)
    return numbers


def decide(r: Results) -> Verdict:
    w = int(r.first("concat", "neck_width"))
    ch_c, ch_a = int(r.first("concat", "channels")), int(r.first("add", "channels"))
    p_c, p_a = int(r.first("concat", "params")), int(r.first("add", "params"))
    m_c, m_a = int(r.first("concat", "macs")), int(r.first("add", "macs"))
    extra = int(r.first("concat", "expected_extra"))
    gap = effect(r.values("concat", "map"), r.values("add", "map"), MIN_AP)
    numbers = (
        f"merged map {ch_c} vs {ch_a} channels (neck width {w}); parameters {p_c:,} vs {p_a:,} (+{p_c - p_a:,}, "
        f"expected +{extra:,}); MACs {m_c:,} vs {m_a:,}; mAP concat {mean_std(r.values('concat', 'map'), 100)} vs "
        f"add {mean_std(r.values('add', 'map'), 100)} (paired {gap.interval.format(100, unit=' pts')}, "
        f"{gap.direction}; {len(r.seeds)} seeds)"
    )
    short = f"+{p_c - p_a:,} params for concat"
    if ch_c == 2 * w and ch_a == w and p_c - p_a == extra and m_c > m_a:
        return Verdict("supported", f"Concatenation doubled the channels and added parameters, addition kept the "
                       f"width: {numbers}.", short)  # fmt: skip
    return Verdict("refuted", f"The channel or parameter accounting differs from the claim: {numbers}.", short)


def table(r: Results) -> Table:
    rows = tuple(
        (
            arm,
            str(r.first(arm, "channels")),
            f"{int(r.first(arm, 'params')):,}",
            f"{int(r.first(arm, 'macs')):,}",
            mean_std(r.values(arm, "map"), 100),
            mean_std(r.values(arm, "map50"), 100),
            mean_std(r.values(arm, "map75"), 100),
        )
        for arm in r.arms
    )
    return Table(("merge", "merged channels", "parameters", "MACs", "mAP %", "AP50 %", "AP75 %"), rows)


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for i, arm in enumerate(r.arms):
        params = int(r.first(arm, "params")) / 1000
        v = r.values(arm, "map") * 100
        ax.scatter([params] * len(v), v, color=f"C{i}", label=arm, zorder=3)
        ax.errorbar(params, v.mean(), yerr=v.std(ddof=1) if len(v) > 1 else 0, color=f"C{i}", capsize=4)
    ax.set_xlabel("parameters (thousands)")
    ax.set_ylabel("test mAP@[.5:.95] (%)")
    ax.set_title("Concat costs parameters; what it buys in mAP")
    ax.legend()
    fig.tight_layout()
    return fig


STUDY = register_study(
    Study(
        id="neck-merge",
        title="Neck merge: concat vs add",
        topic="Detection: channel concat vs residual add",
        claim="Concatenation stacks feature maps along the channel axis, so the merged map has more channels and the "
        "layers after it more parameters; a residual-style add sums the maps elementwise and keeps the channels.",
        question="In tinydet's neck, how many channels, parameters and MACs does concat cost against add, and what "
        "mAP does each reach?",
        design="Arms: concat, add. Exact: merged channels (forward hook), parameters and MACs (summarize), expected "
        "parameter gap W²·9 per merge. Trained as box-loss (shapes detection, seed 11; quick 600/300 images, 8 "
        "epochs, one merge; full 2,000/500, 30 epochs, two merges), GIoU loss, AdamW, batch 32.",
        rule="Supported if concat's merged map has 2W channels and add's W, concat has exactly W²·9 more parameters "
        "per merge and more MACs; refuted otherwise. The mAP difference is reported with its paired interval "
        f"(smallest effect {MIN_AP * 100:.0f} points) but the claim says nothing about which merge is better.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        version=2,  # 2: box voting in the detector's decode
    )
)
