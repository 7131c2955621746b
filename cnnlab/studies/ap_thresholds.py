"""ap-thresholds: AP at one IoU threshold, mAP over classes, and COCO's average over thresholds.

Claim: AP is the area under the precision–recall curve at one IoU threshold (0.5 usually); mAP averages AP over
the classes; COCO's mAP also averages over the IoU thresholds 0.5:0.05:0.95, so it rewards tight boxes that mAP-50
does not.

Question: on one set of detections, (a) is COCO mAP exactly the mean over IoU thresholds and classes of the areas
under the precision–recall curves, and AP50 the area of the class-averaged curve at 0.5; (b) when every predicted
box is shifted by k pixels, how much faster does COCO mAP fall than mAP-50?

Design: one arm, `jittered`: synthetic detections made from the ground truth of the shapes detection test split
(seed 11, default difficulty, 32×32 images; quick 300 images, full 2,000): every true box is found with
probability 0.95, its four sides moved by Gaussian noise (σ = 0.5 px), its score 1/(1 + |noise|) plus uniform
noise, its class wrong with probability 0.05; one false positive (a random box, a random class, a low score) per
four images. The seed draws the noise. cnnlab.metrics.coco_evaluate scores them; then every predicted box moves
right by k = 0..6 px and is scored again. Exact computation of the metric on fixed detections: no training (no
competence requirement); the full profile costs a few seconds.

Literature: PASCAL VOC (Everingham et al. 2010) counts a detection correct at IoU > 0.5 and scores each class by
the area under its interpolated precision–recall curve (11 recall points in VOC 2007); COCO (Lin et al. 2014 and
its evaluation code) averages that area, on 101 recall points, over the ten IoU thresholds 0.50:0.05:0.95 and
calls it AP, the primary metric, because it rewards better localization.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..metrics import coco_evaluate
from ..metrics.plot import mean_pr_curve
from ._base import Anchor, Context, Results, Study, Table, Verdict
from ._common import shapes_data
from ._registry import register_study
from .stats import NEGATIVE, NEGLIGIBLE, POSITIVE, effect, mean_std

ARMS = ("jittered",)
DATA_SEED = 11
NOISE_PX, FIND, WRONG_CLASS, FALSE_PER_IMAGE = 0.5, 0.95, 0.05, 0.25
SHIFTS = (0, 1, 2, 3, 4, 5, 6)  # pixels
SHIFT_K = 2  # the shift at which the two metrics' drops are compared
MIN_GAP = 0.05  # COCO mAP must fall at least 5 points more than mAP-50 at SHIFT_K
IDENTITY_TOL = 1e-9  # the averages must be exact (float64)
PR_THRESHOLDS = (0.5, 0.75, 0.9)

PROFILES = {
    "quick": {"n_test": 300},
    "full": {"n_test": 2000},
}


def synthetic_detections(truth: list[dict], seed: int, image_size: int = 32, num_classes: int = 10) -> list[dict]:
    """Per image {'boxes', 'scores', 'labels'}: the true boxes found, jittered and scored, plus false positives."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for t in truth:
        n = len(t["labels"])
        found = torch.rand(n, generator=gen) < FIND
        noise = NOISE_PX * torch.randn(n, 4, generator=gen)
        boxes = t["boxes"] + noise
        boxes = torch.cat([torch.minimum(boxes[:, :2], boxes[:, 2:]), torch.maximum(boxes[:, :2], boxes[:, 2:])], 1)
        scores = 1 / (1 + noise.abs().mean(1)) + 0.3 * torch.rand(n, generator=gen)
        wrong = torch.rand(n, generator=gen) < WRONG_CLASS
        labels = torch.where(wrong, torch.randint(0, num_classes, (n,), generator=gen), t["labels"])
        boxes, scores, labels = boxes[found], scores[found], labels[found]
        if float(torch.rand(1, generator=gen)) < FALSE_PER_IMAGE:
            xy = (image_size - 8) * torch.rand(1, 2, generator=gen)
            wh = 4 + 8 * torch.rand(1, 2, generator=gen)
            boxes = torch.cat([boxes, torch.cat([xy, xy + wh], 1)])
            scores = torch.cat([scores, 0.5 * torch.rand(1, generator=gen)])
            labels = torch.cat([labels, torch.randint(0, num_classes, (1,), generator=gen)])
        out.append({"boxes": boxes.double(), "scores": scores.double(), "labels": labels})
    return out


def _shift(dets: list[dict], k: float) -> list[dict]:
    step = torch.tensor([k, 0.0, k, 0.0], dtype=torch.float64)
    return [{**d, "boxes": d["boxes"] + step} for d in dets]


def identity_errors(result) -> dict[str, float]:
    """|COCO AP − mean over (threshold, class) of the area under each PR curve|, |AP50 − area of the class-mean
    curve at 0.5| and |AP − mean of the per-class APs|."""
    p = result.precision[:, :, :, 0, -1]  # (T, R, K): all areas, the largest max_dets
    valid = (p > -1).all(axis=1)  # (T, K): classes with ground truth
    area = np.where(valid, np.where(p > -1, p, 0).mean(axis=1), np.nan)  # (T, K) area under each curve
    ap = np.nanmean(area[valid])
    per_class = np.mean([c.AP for c in result.per_class if c.AP > -1])
    return {
        "ap_error": abs(ap - result.AP),
        "ap50_error": abs(np.nanmean(mean_pr_curve(result, 0.5)) - result.AP50),
        "class_error": abs(per_class - result.AP),
    }


def run(arm: str, seed: int, ctx: Context) -> dict[str, Any]:
    _, test = shapes_data(300, ctx["n_test"], task="detection", seed=DATA_SEED)
    truth = [{"boxes": b.double(), "labels": lb} for b, lb in zip(test.boxes, test.labels, strict=True)]
    dets = synthetic_detections(truth, seed, image_size=test.images.shape[-1], num_classes=len(test.classes))
    result = coco_evaluate(truth, dets)
    numbers: dict[str, Any] = dict(identity_errors(result))
    thresholds = np.asarray(result.iou_thresholds)
    numbers["recall"] = list(result.recall_thresholds)
    for t in PR_THRESHOLDS:
        numbers[f"pr_{t}"] = mean_pr_curve(result, float(thresholds[np.argmin(abs(thresholds - t))])).tolist()
    ap50, ap75, ap = [], [], []
    for k in SHIFTS:
        r = result if k == 0 else coco_evaluate(truth, _shift(dets, k), per_class=False)
        ap50.append(r.AP50)
        ap75.append(r.AP75)
        ap.append(r.AP)
    at_k = SHIFTS.index(SHIFT_K)
    numbers.update(shift_ap50=ap50, shift_ap75=ap75, shift_ap=ap, ap50=ap50[0], ap75=ap75[0], ap=ap[0],
                   drop50=ap50[0] - ap50[at_k], drop_coco=ap[0] - ap[at_k])  # fmt: skip
    return numbers


def decide(r: Results) -> Verdict:
    arm = r.arms[0]
    identity = max(float(r.values(arm, key).max()) for key in ("ap_error", "ap50_error", "class_error"))
    gap = effect(r.values(arm, "drop_coco"), r.values(arm, "drop50"), MIN_GAP)
    numbers = (
        f"unshifted AP50 {mean_std(r.values(arm, 'ap50'), 100)}, AP75 {mean_std(r.values(arm, 'ap75'), 100)}, COCO "
        f"mAP {mean_std(r.values(arm, 'ap'), 100)}; shifted by {SHIFT_K} px, COCO mAP fell "
        f"{mean_std(r.values(arm, 'drop_coco'), 100)} points and mAP-50 {mean_std(r.values(arm, 'drop50'), 100)} "
        f"(paired difference {gap.interval.format(100, unit=' pts')}, {len(r.seeds)} seeds); the averages hold to "
        f"{identity:.1e}"
    )
    short = f"{SHIFT_K} px: COCO −{gap.mean * 100:.1f} pts more"
    if identity > IDENTITY_TOL:
        return Verdict("refuted", f"COCO mAP is not the stated average of areas under PR curves: {numbers}.", short)
    if gap.direction == POSITIVE:
        return Verdict("supported", f"AP is the area under the PR curve, averaged over classes and thresholds, and "
                       f"COCO mAP punishes loose boxes that mAP-50 forgives: {numbers}.", short)  # fmt: skip
    if gap.direction in (NEGLIGIBLE, NEGATIVE):
        return Verdict("nuanced", f"The averages hold, but COCO mAP did not fall more than mAP-50 under a shift: "
                       f"{numbers}.", short)  # fmt: skip
    return Verdict("inconclusive", f"The averages hold; the shift effect is too noisy to decide: {numbers}.", short)


def table(r: Results) -> Table:
    arm = r.arms[0]
    rows = []
    for key, name in (("shift_ap50", "mAP-50"), ("shift_ap75", "AP75"), ("shift_ap", "COCO mAP@[.5:.95]")):
        s = r.series(arm, key) * 100
        rows.append((name, *(mean_std(s[:, i], 1) for i in range(len(SHIFTS)))))
    return Table(("metric %", *(f"shift {k} px" for k in SHIFTS)), tuple(rows))


def figure(r: Results):
    import matplotlib.pyplot as plt

    arm = r.arms[0]
    fig1, ax = plt.subplots(figsize=(5, 3.6))
    recall = r.series(arm, "recall")[0]
    for i, t in enumerate(PR_THRESHOLDS):
        curves = r.series(arm, f"pr_{t}")
        for k in range(len(r.seeds)):
            ax.plot(recall, curves[k], color=f"C{i}", alpha=0.7, lw=1.2,
                    label=f"IoU {t} (AP {np.nanmean(curves[k]) * 100:.0f}%)" if k == 0 else None)  # fmt: skip
    ax.set(xlabel="recall", ylabel="precision (interpolated, class mean)", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("The stricter the IoU threshold, the smaller the area")
    ax.legend(loc="lower left", fontsize=8)
    fig1.tight_layout()
    fig2, ax = plt.subplots(figsize=(5, 3.4))
    for i, (key, name) in enumerate((("shift_ap50", "mAP-50"), ("shift_ap75", "AP75"), ("shift_ap", "COCO mAP"))):
        s = r.series(arm, key) * 100
        for k in range(len(r.seeds)):
            ax.plot(SHIFTS, s[k], "o-", color=f"C{i}", alpha=0.6, ms=3, label=name if k == 0 else None)
    ax.set_xlabel("shift of every predicted box (px, 32-px images)")
    ax.set_ylabel("metric (%)")
    ax.set_title("COCO mAP falls with the first pixels of error")
    ax.legend(fontsize=8)
    fig2.tight_layout()
    return [fig1, fig2]


def _coco(r: Results) -> tuple[str, bool | None]:
    arm = r.arms[0]
    err = max(float(r.values(arm, key).max()) for key in ("ap_error", "class_error"))
    return f"COCO mAP equals the mean over 10 thresholds × classes of the curve areas to {err:.1e}", err <= IDENTITY_TOL


def _voc(r: Results) -> tuple[str, bool | None]:
    err = float(r.values(r.arms[0], "ap50_error").max())
    return f"AP50 equals the area under the class-mean curve at IoU 0.5 to {err:.1e}", err <= IDENTITY_TOL


def _localization(r: Results) -> tuple[str, bool | None]:
    arm = r.arms[0]
    gap = effect(r.values(arm, "drop_coco"), r.values(arm, "drop50"), MIN_GAP)
    here = f"a {SHIFT_K}-px shift costs COCO mAP {gap.interval.format(100, unit=' pts')} more than mAP-50"
    return here, None if gap.direction not in (POSITIVE, NEGATIVE, NEGLIGIBLE) else gap.direction == POSITIVE


LITERATURE = (
    Anchor("Lin, Maire, Belongie, Hays, Perona, Ramanan, Dollár & Zitnick (2014), Microsoft COCO; the COCO "
           "detection evaluation (cocodataset.org, pycocotools)", "detection evaluation, 'Metrics'",
           "AP of box detections, 101 recall points, up to 100 detections per image",
           "AP is averaged over 10 IoU thresholds 0.50:0.05:0.95 (the primary challenge metric); AP50 is the PASCAL "
           "VOC metric", _coco, "none expected: cnnlab's evaluation equals pycocotools' precision array exactly"),
    Anchor("Everingham, Van Gool, Williams, Winn & Zisserman (2010), The PASCAL Visual Object Classes (VOC) "
           "Challenge", "Sec. 4.2", "VOC 2007 detection", "a detection is correct when its IoU with a ground-truth "
           "box exceeds 0.5; AP is the area under the interpolated precision–recall curve (11 recall points)", _voc,
           "cnnlab interpolates on COCO's 101 recall points, not VOC 2007's 11"),
    Anchor("Lin et al. (2014), Microsoft COCO; the COCO detection evaluation", "detection evaluation, 'Metrics'",
           "the same metric", "averaging over IoU thresholds rewards detectors with better localization (stated, "
           "no number)", _localization, "our detections are synthetic, jittered ground truth, not a detector's"),
)  # fmt: skip


STUDY = register_study(
    Study(
        id="ap-thresholds",
        title="AP, mAP-50 and COCO mAP",
        topic="Detection: precision, recall, AP and mAP",
        claim="AP is the area under the precision–recall curve at one IoU threshold (usually 0.5); mAP averages AP "
        "over the classes; COCO's mAP also averages over IoU thresholds 0.5 to 0.95, so it rewards tight boxes "
        "that mAP-50 does not.",
        question="On one set of detections, is COCO mAP exactly the average of the areas under the PR curves over "
        "classes and thresholds, and how much more does it fall than mAP-50 when every box is shifted by 2 px?",
        design="One arm: synthetic detections from the shapes detection test split's ground truth (seed 11; quick "
        "300, full 2,000 images): 95% found, sides jittered by σ 0.5 px, 5% wrong class, a false positive per 4 "
        "images; the seed draws the noise. cnnlab's COCO evaluation, then every box shifted right by 0–6 px.",
        rule=f"Refuted if COCO mAP, AP50 or the per-class mean differs from the stated average of curve areas by more "
        f"than {IDENTITY_TOL:g}; otherwise, paired over seeds with {MIN_GAP * 100:.0f} points as the smallest "
        f"effect, supported if COCO mAP falls more than mAP-50 at a {SHIFT_K}-px shift, nuanced if the difference "
        "is negligible or the other way, inconclusive if unclear.",
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
