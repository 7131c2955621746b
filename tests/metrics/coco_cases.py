"""Seeded random COCO problems full of the cases that break evaluators, and pycocotools as the oracle."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np

# Area values that sit exactly on pycocotools' range ends (0, 32², 96², 1e5²) or just around them.
BOUNDARY_AREAS = (0.0, 32.0**2, 96.0**2, 1e5**2, 31.99**2, 32.01**2)


def random_coco(seed: int, *, images: int = 25, categories: int = 4):
    """A ground-truth dict and a detection list with: crowd boxes, tied scores, annotation areas on the range
    ends and unrelated to the box, >100 detections of one class in an image, images without ground truth, a
    class without ground truth, tiny, huge and zero-width boxes, duplicate ground truths (IoU ties), detections
    built to hit IoU 0.5 / 0.75 exactly, an annotation with id 0 (sometimes), unsorted non-contiguous ids."""
    rng = np.random.default_rng(seed)
    cat_ids = sorted(rng.choice(np.arange(1, 91), categories, replace=False).tolist())
    gt_cats = cat_ids[:-1] if categories > 1 else cat_ids  # the last class has no ground truth
    img_ids = rng.choice(np.arange(0, 5000), images, replace=False).tolist()
    anns, dets = [], []
    next_id = int(rng.integers(0, 2))  # half the datasets have an annotation with id 0
    for n, img in enumerate(img_ids):
        gts = []
        for _ in range(0 if rng.random() < 0.15 else int(rng.integers(1, 10))):
            kind = rng.random()
            low, high = (0.3, 8) if kind < 0.2 else (8, 200) if kind < 0.9 else (200, 3000)
            w, h = np.round(rng.uniform(low, high, 2), 1).tolist()
            if rng.random() < 0.03:
                w = 0.0
            x, y = np.round(rng.uniform(0, 600, 2), 1).tolist()
            r = rng.random()
            area = w * h if r < 0.6 else float(rng.choice(BOUNDARY_AREAS)) if r < 0.8 else float(rng.uniform(0, 2e4))
            ann = {
                "id": next_id,
                "image_id": img,
                "category_id": int(rng.choice(gt_cats)),
                "bbox": [x, y, w, h],
                "area": area,
                "iscrowd": int(rng.random() < 0.1),
            }
            next_id += int(rng.integers(1, 4))
            anns.append(ann)
            gts.append(ann)
            if rng.random() < 0.1:  # an identical twin: IoU ties between ground truths
                anns.append(dict(ann, id=next_id))
                gts.append(anns[-1])
                next_id += 1
        count = 130 if n == 0 else int(rng.integers(0, 25))
        crowded = int(rng.choice(cat_ids)) if n == 0 else None  # image 0: 130 detections of one class
        for _ in range(count):
            if gts and rng.random() < 0.7:
                g = gts[int(rng.integers(len(gts)))]
                x, y, w, h = g["bbox"]
                if rng.random() < 0.15:  # IoU exactly 0.5, 0.75, ... with its ground truth
                    box = [x, y, w * float(rng.choice([0.5, 0.55, 0.75, 0.95, 1.0])), h]
                else:
                    j = rng.normal(0, 0.15, 4) * [w, h, w, h]
                    box = [x + j[0], y + j[1], max(w + j[2], 0.0), max(h + j[3], 0.0)]
                cat = g["category_id"] if rng.random() < 0.9 else int(rng.choice(cat_ids))
            else:
                box = [*rng.uniform(0, 600, 2).tolist(), *rng.uniform(0, 150, 2).tolist()]
                if rng.random() < 0.1:
                    box[2:] = [32.0, 32.0] if rng.random() < 0.5 else [96.0, 96.0]  # det area on a range end
                cat = int(rng.choice(cat_ids))
            score = float(np.round(rng.random(), 1 if rng.random() < 0.5 else 3))  # many exact ties
            dets.append(
                {"image_id": img, "category_id": crowded or cat, "bbox": [float(v) for v in box], "score": score}
            )
    dets = [dets[i] for i in rng.permutation(len(dets))]
    images = [{"id": i, "file_name": f"{i}.jpg"} for i in img_ids]
    categories_list = [{"id": c, "name": f"class{c}"} for c in rng.permutation(cat_ids).tolist()]
    return {"images": images, "annotations": anns, "categories": categories_list}, dets


def pycocotools_eval(gt: dict, dets: list, *, iou_thresholds=None, max_dets=None, area_ranges=None):
    """pycocotools' COCOeval (bbox) on deep copies; returns the evaluator and what summarize() printed."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()) as printed:
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(copy.deepcopy(dets)), "bbox")
        if iou_thresholds is not None:
            evaluator.params.iouThrs = np.asarray(iou_thresholds, dtype=np.float64)
        if max_dets is not None:
            evaluator.params.maxDets = list(max_dets)
        if area_ranges is not None:
            evaluator.params.areaRng = [list(r) for r in area_ranges]
        evaluator.evaluate()
        evaluator.accumulate()
        start = printed.tell()
        evaluator.summarize()
    return evaluator, printed.getvalue()[start:]


def dense_coco(seed: int, *, images: int = 3, per_image: int = 30, dets_per_image: int = 200):
    """Crowded scenes on an integer grid: many detections per ground truth, equal IoUs, a handful of scores."""
    rng = np.random.default_rng(seed)
    anns, dets = [], []
    for image in range(images):
        corner = rng.integers(0, 60, (per_image, 2))
        size = rng.integers(5, 40, (per_image, 2))
        for j in range(per_image):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image,
                    "category_id": int(rng.integers(1, 3)),
                    "bbox": [*corner[j].tolist(), *size[j].tolist()],
                    "area": int(size[j].prod()),
                    "iscrowd": int(rng.random() < 0.1),
                }
            )
        for _ in range(dets_per_image):
            j = int(rng.integers(per_image))
            box = np.r_[corner[j], size[j]] + rng.integers(-3, 4, 4)
            dets.append(
                {
                    "image_id": image,
                    "category_id": int(rng.integers(1, 3)),
                    "bbox": np.r_[box[:2], np.abs(box[2:])].tolist(),
                    "score": int(rng.integers(0, 5)) / 4,
                }
            )
    gt = {"images": [{"id": i} for i in range(images)], "categories": [{"id": 1}, {"id": 2}], "annotations": anns}
    return gt, dets
