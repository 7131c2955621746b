"""upsample: nearest and bilinear interpolation against a learned transposed convolution in a detector's neck.

Claim: upsampling enlarges a small feature map by interpolation; nearest-neighbour and bilinear interpolation have
no parameters, while a transposed convolution learns how to enlarge it.

Question: in `tinydet`'s top-down neck, how many parameters does each upsampler hold, does nearest upsampling
exactly repeat each value into a 2×2 block, and what COCO mAP does each reach when trained alike?

Design: arms `nearest`, `bilinear`, `transposed` (a 2×2 stride-2 transposed convolution, no bias). Exact: each
arm's upsampler parameters (expected 0, 0 and 4·W² per step, W the neck width), the whole model's parameters, and
nearest's output on a random map against `repeat_interleave`. mAP, AP50, AP75 from training as in box-loss
(shapes detection, seed 11, difficulty 0.1; quick 600/300 images, 8 epochs, widths 8/16/32, neck 16, stride-4
head; full 2,000/500, 30 epochs, 16/32/64, neck 32, stride-2 head), GIoU loss, AdamW, batch 32.
"""

from __future__ import annotations

from typing import Any

import torch

from ..models import create
from ._base import Context, Results, Study, Table, Verdict
from ._detector import PROFILES, train_detector
from ._registry import register_study
from .stats import effect, mean_std

ARMS = ("nearest", "bilinear", "transposed")
MIN_AP = 0.02  # 2 mAP points: the smallest mAP difference reported as an effect
REPEAT_TOL = 0.0  # nearest ×2 must equal repeat_interleave exactly


def upsampler_params(ctx: Context, mode: str) -> tuple[int, float]:
    """(parameters of all the neck's upsamplers, max |nearest(x) − repeat(x)|) of an untrained tinydet."""
    model = create("tinydet", widths=tuple(ctx["widths"]), neck_width=ctx["neck_width"],
                   head_stride=ctx["head_stride"], upsample=mode)  # fmt: skip
    params = sum(p.numel() for p in model.upsamples.parameters())
    x = torch.randn(2, ctx["neck_width"], 4, 4, generator=torch.Generator().manual_seed(0))
    error = 0.0
    if mode == "nearest":
        with torch.no_grad():
            y = model.upsamples[0](x)  # (2, W, 4, 4) -> (2, W, 8, 8)
        error = float((y - x.repeat_interleave(2, -1).repeat_interleave(2, -2)).abs().max())
    return params, error


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    numbers = train_detector(ctx, seed, upsample=arm)
    up, error = upsampler_params(ctx, arm)
    steps = 2 if ctx["head_stride"] == 2 else 1
    numbers.update(up_params=up, repeat_error=error, expected_transposed=steps * 4 * ctx["neck_width"] ** 2)
    return numbers


def decide(r: Results) -> Verdict:
    ups = {arm: int(r.first(arm, "up_params")) for arm in r.arms}
    expected = int(r.first("transposed", "expected_transposed"))
    repeat = float(r.first("nearest", "repeat_error"))
    gap = effect(r.values("transposed", "map"), r.values("nearest", "map"), MIN_AP)
    bil = effect(r.values("bilinear", "map"), r.values("nearest", "map"), MIN_AP)
    numbers = (
        f"upsampler parameters nearest {ups['nearest']}, bilinear {ups['bilinear']}, transposed {ups['transposed']:,} "
        f"(expected {expected:,}); nearest equals 2×2 repetition to {repeat:.1e}; mAP nearest "
        f"{mean_std(r.values('nearest', 'map'), 100)}, bilinear {mean_std(r.values('bilinear', 'map'), 100)}, "
        f"transposed {mean_std(r.values('transposed', 'map'), 100)} (transposed − nearest "
        f"{gap.interval.format(100, unit=' pts')}, {gap.direction}; bilinear − nearest "
        f"{bil.interval.format(100, unit=' pts')}, {bil.direction}; {len(r.seeds)} seeds)"
    )
    short = f"{ups['transposed']:,} learned vs 0"
    if ups["nearest"] == 0 and ups["bilinear"] == 0 and ups["transposed"] == expected > 0 and repeat <= REPEAT_TOL:
        return Verdict("supported", f"Interpolation had no parameters, the transposed convolution learned its "
                       f"enlargement: {numbers}.", short)  # fmt: skip
    return Verdict("refuted", f"The upsamplers' parameters or nearest's repetition differ from the claim: {numbers}.",
                   short)  # fmt: skip


def table(r: Results) -> Table:
    rows = tuple(
        (
            arm,
            f"{int(r.first(arm, 'up_params')):,}",
            f"{int(r.first(arm, 'params')):,}",
            mean_std(r.values(arm, "map"), 100),
            mean_std(r.values(arm, "map50"), 100),
            mean_std(r.values(arm, "map75"), 100),
        )
        for arm in r.arms
    )
    return Table(("upsample", "upsampler params", "model params", "mAP %", "AP50 %", "AP75 %"), rows)


def figure(r: Results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for i, arm in enumerate(r.arms):
        v = r.values(arm, "map") * 100
        ax.scatter([i] * len(v), v, color=f"C{i}", zorder=3)
        ax.bar(i, v.mean(), color=f"C{i}", alpha=0.3)
    ax.set_xticks(range(len(r.arms)), [f"{a}\n({int(r.first(a, 'up_params')):,} params)" for a in r.arms])
    ax.set_xlabel("upsampler in the neck")
    ax.set_ylabel("test mAP@[.5:.95] (%)")
    ax.set_title("Learned vs interpolated upsampling: mAP")
    fig.tight_layout()
    return fig


STUDY = register_study(
    Study(
        id="upsample",
        title="Upsampling: nearest, bilinear, transposed",
        topic="Detection: upsampling",
        claim="Upsampling enlarges a small feature map by interpolation: nearest-neighbour and bilinear "
        "interpolation have no parameters, while a transposed convolution learns how to enlarge it.",
        question="In tinydet's neck, how many parameters does each upsampler hold, is nearest exactly a 2×2 "
        "repetition, and what mAP does each reach?",
        design="Arms: nearest, bilinear, transposed (2×2, stride 2, no bias). Exact: upsampler parameters (0, 0, "
        "4·W² per step), nearest vs repeat_interleave. Trained as box-loss (shapes detection, seed 11; quick "
        "600/300 images, 8 epochs; full 2,000/500, 30 epochs), GIoU loss, AdamW, batch 32.",
        rule="Supported if nearest and bilinear have 0 parameters, the transposed convolution exactly 4·W² per "
        "upsampling step, and nearest equals 2×2 repetition exactly; refuted otherwise. The mAP differences are "
        f"reported with paired intervals (smallest effect {MIN_AP * 100:.0f} points); the claim ranks no upsampler.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        version=2,  # 2: box voting in the detector's decode
    )
)
