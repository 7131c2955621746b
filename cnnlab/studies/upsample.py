"""upsample: nearest and bilinear interpolation against a learned transposed convolution in a detector's neck.

Claim: upsampling enlarges a small feature map by interpolation; nearest-neighbour and bilinear interpolation have
no parameters, while a transposed convolution learns how to enlarge it.

Question: in `tinydet`'s top-down neck, how many parameters does each upsampler hold, does nearest upsampling
exactly repeat each value into a 2×2 block, and what COCO mAP does each reach when trained alike?

Canonical regime: FPN (Lin et al. 2017) upsamples its top-down maps ×2 with nearest-neighbour interpolation, which
holds no weights; a transposed convolution learns a k×k kernel per pair of channels, and where k is not a multiple
of the stride its outputs overlap unevenly and draw checkerboard patterns (Odena, Dumoulin & Olah 2016), which
resize-then-convolve avoids. tinydet's neck is FPN's with the upsampler as the arm; its transposed convolution is
2×2 with stride 2, a kernel the stride divides, so that artifact's cause is absent by construction.

Design: arms `nearest`, `bilinear`, `transposed` (a 2×2 stride-2 transposed convolution, no bias). Exact: each
arm's upsampler parameters (expected 0, 0 and 4·W² per step, W the neck width, two steps), the whole model's
parameters, and nearest's output on a random map against `repeat_interleave`. The trained part, mAP, AP50 and AP75,
comes from the detector studies' shortened default recipe with the GIoU loss at the profile's peak rate
(`_detector`; the upsampler does not change how the net optimizes, so the rate is not tuned per arm): equal steps
and scenes for every arm. Quick: 448 easy scenes, 4 epochs, widths 8/16/32, neck 16 (undertrained by design).
Full: the recipe's 10,000 / 2,000 scenes and model (neck 32), 7 epochs: 15 runs of about 5 core-minutes,
≈ 75 core-minutes, 50 when the nearest arm's runs are shared with box-loss and neck-merge.
"""

from __future__ import annotations

from typing import Any

import torch

from ..models import create
from ._base import Anchor, Context, Results, Revision, Study, Table, Verdict
from ._detector import PROFILES, competence, train_detector
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


def _nearest(r: Results) -> tuple[str, bool | None]:
    params, repeat = int(r.first("nearest", "up_params")), float(r.first("nearest", "repeat_error"))
    return f"nearest: {params} parameters, equal to 2×2 repetition to {repeat:.1e}", params == 0 and repeat <= 0


def _transposed(r: Results) -> tuple[str, bool | None]:
    got, expected = int(r.first("transposed", "up_params")), int(r.first("transposed", "expected_transposed"))
    interp = int(r.first("nearest", "up_params")) + int(r.first("bilinear", "up_params"))
    return (
        f"transposed {got:,} learned weights (expected 4·W² per step, {expected:,} in all); interpolation {interp}",
        got == expected > 0 and interp == 0,
    )


LITERATURE = (
    Anchor("Lin, Dollár, Girshick, He, Hariharan & Belongie (2017), Feature Pyramid Networks for Object Detection",
           "Sec. 3 (top-down pathway)", "ResNet FPN on COCO", "the coarser map is upsampled by a factor of 2 with "
           "nearest-neighbour upsampling, which has no weights", _nearest, "none expected: the count is exact"),
    Anchor("Odena, Dumoulin & Olah (2016), Deconvolution and Checkerboard Artifacts (Distill)", "Figs. 1–3",
           "transposed convolutions in generators; resize-convolution as the alternative",
           "a transposed convolution learns its kernel (k·k weights per channel pair) and overlaps unevenly when k "
           "is not divisible by the stride; interpolation has no weights", _transposed,
           "tinydet's 2×2 stride-2 kernel is divisible by its stride, so the uneven overlap does not arise here"),
)  # fmt: skip

REVISIONS = (
    Revision(2, "Box voting entered the detector's decode", "the detector's default decode changed; cached "
             "results are measured again", "supported, quick (seeds 0–2 and 100–102)",
             "supported, quick: 1,024 learned vs 0; mAP ≈ 0.07 in every arm"),
    Revision(3, "The trained part follows the detector studies' shortened default recipe (AdamW, weight decay "
             "0.05, warmup + cosine, flips and shifts; stride-2 head with two upsampling steps in both profiles; "
             "full on the recipe's 10,000 / 2,000 scenes and model, 7 epochs); competence mAP ≥ 0.5 on every arm; "
             "literature", "the detectors reached mAP ≈ 0.07 where the recipe reaches 0.74, so their mAPs said "
             "nothing", "supported, quick: 1,024 learned vs 0 (mAP 0.07)",
             "inconclusive, quick: undertrained (every arm mAP 0.06, needs 0.50); the rule alone: supported, 2,048 "
             "learned vs 0 over two steps; full: not yet measured (the reference run)"),
)  # fmt: skip


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
        "4·W² per step, two steps), nearest vs repeat_interleave. Trained with the detector studies' shortened "
        "default recipe, GIoU loss, the profile's peak rate, equal steps and scenes: quick 448 easy scenes, 4 "
        "epochs, neck 16 (undertrained by design); full the recipe's 10,000 / 2,000 scenes and model (neck 32), "
        "7 epochs, ≈ 75 core-minutes (50 with the nearest runs shared with box-loss and neck-merge).",
        rule="Supported if nearest and bilinear have 0 parameters, the transposed convolution exactly 4·W² per "
        "upsampling step, and nearest equals 2×2 repetition exactly; refuted otherwise. The mAP differences are "
        f"reported with paired intervals (smallest effect {MIN_AP * 100:.0f} points); the claim ranks no upsampler.",
        arms=ARMS,
        profiles=PROFILES,
        run=run,
        decide=decide,
        table=table,
        figure=figure,
        version=3,  # 2: box voting in the detector's decode; 3: recipe-like training, competence
        requirements=(
            competence(
                {
                    "nearest": "the nearest detector",
                    "bilinear": "the bilinear detector",
                    "transposed": "the transposed detector",
                }
            ),
        ),
        literature=LITERATURE,
        revisions=REVISIONS,
    )
)
