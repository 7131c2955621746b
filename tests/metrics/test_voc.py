"""voc_evaluate against a line-by-line transcription of the VOC devkit's VOCevaldet.m and VOCap.m."""

import numpy as np
import pytest
import torch

from cnnlab.errors import AnnotationError
from cnnlab.metrics import voc_ap, voc_evaluate


def devkit_ap(rec, prec, use_07_metric):
    if use_07_metric:  # VOCevaldet.m (VOC2007): for t=0:0.1:1, p=max(prec(rec>=t)) or 0, ap=ap+p/11
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = [pr for r, pr in zip(rec, prec, strict=True) if r >= t]
            ap += (max(p) if p else 0.0) / 11
        return ap
    mrec, mpre = [0.0, *rec, 1.0], [0.0, *prec, 0.0]  # VOCap.m
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])


def devkit_evaluate(gts, dets, cls, threshold, use_07_metric):
    """VOCevaldet.m for one class: detections by decreasing confidence, best overlap (strict >, +1 pixels)."""
    found = [np.zeros(int(np.sum(g["labels"] == cls)), dtype=bool) for g in gts]
    npos = sum(int(np.sum((g["labels"] == cls) & ~g["difficult"])) for g in gts)
    entries = []
    for image, d in enumerate(dets):
        for box, score, label in zip(d["boxes"], d["scores"], d["labels"], strict=True):
            if label == cls:
                entries.append((-score, image, box))
    entries.sort(key=lambda e: e[0])  # MATLAB's sort is stable
    tp, fp = [], []
    for _, image, bb in entries:
        boxes = gts[image]["boxes"][gts[image]["labels"] == cls]
        difficult = gts[image]["difficult"][gts[image]["labels"] == cls]
        ovmax, jmax = -np.inf, -1
        for j, bbgt in enumerate(boxes):
            iw = min(bb[2], bbgt[2]) - max(bb[0], bbgt[0]) + 1
            ih = min(bb[3], bbgt[3]) - max(bb[1], bbgt[1]) + 1
            if iw > 0 and ih > 0:
                ua = (bb[2] - bb[0] + 1) * (bb[3] - bb[1] + 1) + (bbgt[2] - bbgt[0] + 1) * (bbgt[3] - bbgt[1] + 1)
                ov = iw * ih / (ua - iw * ih)
                if ov > ovmax:
                    ovmax, jmax = ov, j
        t = f = 0
        if ovmax >= threshold:
            if not difficult[jmax]:
                if not found[image][jmax]:
                    t, found[image][jmax] = 1, True
                else:
                    f = 1
        else:
            f = 1
        tp.append(t)
        fp.append(f)
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return devkit_ap((tp / npos).tolist(), prec.tolist(), use_07_metric)


def random_voc(seed, images=30, classes=4):
    rng = np.random.default_rng(seed)
    gts, dets = [], []
    for _ in range(images):
        n = int(rng.integers(0, 6))
        corner = rng.integers(0, 400, (n, 2))
        gt_boxes = np.concatenate([corner, corner + rng.integers(0, 150, (n, 2))], axis=1).astype(float)
        gts.append({"boxes": gt_boxes, "labels": rng.integers(0, classes, n), "difficult": rng.random(n) < 0.15})
        m = int(rng.integers(0, 12))
        src = rng.integers(0, max(n, 1), m)
        base = gt_boxes[src] if n else np.tile([[10.0, 10.0, 60.0, 60.0]], (m, 1))
        boxes = base + rng.integers(-12, 13, (m, 4))
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
        labels = np.where(rng.random(m) < 0.85, gts[-1]["labels"][src] if n else 0, rng.integers(0, classes, m))
        dets.append({"boxes": boxes, "scores": np.round(rng.random(m), 1), "labels": labels})
    return gts, dets


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("use_07_metric", [False, True])
def test_matches_the_devkit(seed, use_07_metric):
    gts, dets = random_voc(seed)
    result = voc_evaluate(gts, dets, use_07_metric=use_07_metric)
    for label, ap, npos in zip(result.labels, result.ap, result.num_gt, strict=True):
        if npos == 0:
            assert ap == -1
            continue
        assert ap == pytest.approx(devkit_evaluate(gts, dets, label, 0.5, use_07_metric), abs=1e-12)
    assert result.mAP == pytest.approx(np.mean([ap for ap in result.ap if ap >= 0]), abs=1e-12)


def test_difficult_objects_are_neither_found_nor_missed():
    gts = [{"boxes": np.array([[0, 0, 9, 9], [20, 20, 29, 29]]), "labels": np.array([1, 1]), "difficult": [0, 1]}]
    dets = [
        {
            "boxes": torch.tensor([[20, 20, 29, 29], [0, 0, 9, 9]]),
            "scores": torch.tensor([0.9, 0.8]),
            "labels": torch.tensor([1, 1]),
        }
    ]
    result = voc_evaluate(gts, dets)
    assert result.ap == (1.0,) and result.num_gt == (1,)  # the hit on the difficult box does not count at all


def test_ap_interpolations():
    rec, prec = [0.2, 0.4, 0.4, 0.8], [1.0, 0.5, 0.67, 0.5]
    assert voc_ap(rec, prec) == pytest.approx(0.2 * 1.0 + 0.2 * 0.67 + 0.4 * 0.5)
    expected = (3 * 1.0 + 2 * 0.67 + 4 * 0.5 + 2 * 0.0) / 11  # t = 0..0.2, 0.3..0.4, 0.5..0.8, 0.9..1
    assert voc_ap(rec, prec, use_07_metric=True) == pytest.approx(expected)


def test_bad_input():
    with pytest.raises(AnnotationError, match="one detections entry per image"):
        voc_evaluate([{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)}], [])
    with pytest.raises(AnnotationError, match=r"ground_truth\[0\] has no 'labels'"):
        voc_evaluate([{"boxes": np.zeros((0, 4))}], [{"boxes": np.zeros((0, 4)), "labels": [], "scores": []}])
