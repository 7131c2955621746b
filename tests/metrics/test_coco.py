"""coco_evaluate against pycocotools: every stat and every cell of the precision and recall arrays."""

import copy
import json

import numpy as np
import pytest
import torch
from coco_cases import dense_coco, pycocotools_eval, random_coco

from cnnlab.errors import AnnotationError, ConfigError
from cnnlab.metrics import coco_evaluate, format_coco

TOL = 1e-12


def assert_same_as_pycocotools(result, evaluator):
    assert result.precision.shape == evaluator.eval["precision"].shape
    np.testing.assert_allclose(result.precision, evaluator.eval["precision"], rtol=0, atol=TOL)
    np.testing.assert_allclose(result.recall, evaluator.eval["recall"], rtol=0, atol=TOL)
    np.testing.assert_allclose(result.stats, evaluator.stats, rtol=0, atol=TOL)


@pytest.mark.parametrize("seed", range(40))
def test_default_parameters_match_pycocotools(seed):
    rng = np.random.default_rng(1000 + seed)
    gt, dets = random_coco(seed, images=int(rng.integers(1, 40)), categories=int(rng.integers(1, 7)))
    evaluator, _ = pycocotools_eval(gt, dets)
    assert_same_as_pycocotools(coco_evaluate(gt, dets), evaluator)


@pytest.mark.parametrize("seed", range(3))
def test_crowded_integer_scenes_match_pycocotools(seed):
    gt, dets = dense_coco(seed)  # long greedy chains, IoU ties between ground truths, few distinct scores
    evaluator, _ = pycocotools_eval(gt, dets)
    assert_same_as_pycocotools(coco_evaluate(gt, dets), evaluator)


@pytest.mark.parametrize(
    ("seed", "params"),
    [
        (100, {"iou_thresholds": [0.5]}),
        (101, {"iou_thresholds": [0.0, 0.3, 0.75, 1.0]}),  # 0: any pair matches; 1: pycocotools' 1 - 1e-10 cap
        (102, {"iou_thresholds": [0.9, 0.5, 0.7]}),  # unsorted, kept in order
        (103, {"max_dets": [1, 5, 20]}),  # no 100: pycocotools' AP line reads maxDets=100 and prints -1
        (104, {"max_dets": [100, 10, 300]}),  # sorted as pycocotools does
        (105, {"area_ranges": [[0, 1e10], [0, 500.0], [500.0, 5000.0], [5000.0, 1e10]]}),
        (106, {"area_ranges": [[0, 1e10], [1024.0, 1024.0], [0, 0], [9216.0, 9216.0]]}),  # degenerate ranges
    ],
)
def test_custom_parameters_match_pycocotools(seed, params):
    gt, dets = random_coco(seed, images=30, categories=5)
    evaluator, _ = pycocotools_eval(gt, dets, **params)
    assert_same_as_pycocotools(coco_evaluate(gt, dets, **params), evaluator)


def test_summary_table_is_pycocotools_character_for_character():
    gt, dets = random_coco(7)
    _, printed = pycocotools_eval(gt, dets)
    assert format_coco(coco_evaluate(gt, dets)) == printed.rstrip("\n")
    _, printed = pycocotools_eval(gt, dets, max_dets=[1, 10, 50], iou_thresholds=[0.5, 0.6, 0.75])
    assert format_coco(coco_evaluate(gt, dets, max_dets=(1, 10, 50), iou_thresholds=(0.5, 0.6, 0.75))) == (
        printed.rstrip("\n")
    )


def test_per_class_ap_is_the_mean_of_pycocotools_precision_cells():
    gt, dets = random_coco(11, images=40, categories=5)
    evaluator, _ = pycocotools_eval(gt, dets)
    result = coco_evaluate(gt, dets)
    precision = evaluator.eval["precision"]
    names = {c["id"]: c["name"] for c in gt["categories"]}
    for k, cls in enumerate(result.per_class):
        cells = precision[:, :, k, 0, -1]
        expected = np.mean(cells[cells > -1]) if (cells > -1).any() else -1
        assert cls.category_id == evaluator.params.catIds[k] and cls.name == names[cls.category_id]
        assert pytest.approx(expected, abs=TOL) == cls.AP
        cells50 = precision[0, :, k, 0, -1]
        assert pytest.approx(np.mean(cells50) if (cells50 > -1).all() else -1, abs=TOL) == cls.AP50
        assert cls.num_gt == sum(a["category_id"] == cls.category_id and not a["iscrowd"] for a in gt["annotations"])
    assert result.per_class[-1].AP == -1  # the class without ground truth


def test_fix_summary_max_dets_changes_only_the_first_stat():
    gt, dets = random_coco(3)
    plain = coco_evaluate(gt, dets, max_dets=(1, 10, 50))
    fixed = coco_evaluate(gt, dets, max_dets=(1, 10, 50), fix_summary_max_dets=True)
    assert plain.AP == -1  # pycocotools' summary looks for maxDets=100
    cells = fixed.precision[:, :, :, 0, 2]
    assert pytest.approx(np.mean(cells[cells > -1]), abs=TOL) == fixed.AP
    np.testing.assert_array_equal(plain.stats[1:], fixed.stats[1:])
    assert coco_evaluate(gt, dets, fix_summary_max_dets=True).AP == coco_evaluate(gt, dets).AP


def test_fix_zero_id_lets_annotation_zero_match():
    gt = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "area": 100, "iscrowd": 0},
        ],
    }
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "score": 0.8},
    ]
    evaluator, _ = pycocotools_eval(gt, dets)
    plain = coco_evaluate(gt, dets)
    assert_same_as_pycocotools(plain, evaluator)
    assert pytest.approx(0.5) == plain.AR100  # the perfect match with id 0 is a false positive there
    fixed = coco_evaluate(gt, dets, fix_zero_id=True)
    assert pytest.approx(1.0) == fixed.AP and pytest.approx(1.0) == fixed.AR100


def test_a_crowd_absorbs_many_detections_and_a_perfect_detector_scores_one():
    gt = {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1}, {"id": 2}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100], "area": 1e4, "iscrowd": 1},
            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [5, 5, 40, 40], "area": 1600, "iscrowd": 0},
        ],
    }
    inside_crowd = [{"image_id": 1, "category_id": 1, "bbox": [20 + i, 20, 30, 30], "score": 0.99} for i in range(5)]
    perfect = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5},
        {"image_id": 2, "category_id": 2, "bbox": [5, 5, 40, 40], "score": 0.5},
    ]
    result = coco_evaluate(gt, inside_crowd + perfect)
    evaluator, _ = pycocotools_eval(gt, inside_crowd + perfect)
    assert_same_as_pycocotools(result, evaluator)
    assert pytest.approx(1.0) == result.AP  # the five detections inside the crowd are ignored, not false


def test_empty_detections_give_zero_not_a_crash():
    gt, _ = random_coco(5, categories=3)
    result = coco_evaluate(gt, [])
    present = result.precision > -1
    assert present.any() and (result.precision[present] == 0).all() and (result.recall[result.recall > -1] == 0).all()
    assert result.AP == 0 and result.AR100 == 0
    assert result.per_class[-1].AP == -1 and result.per_class[0].num_detections == 0


def test_inputs_are_left_unchanged_and_paths_arrays_and_tensors_agree(tmp_path):
    gt, dets = random_coco(21)
    gt_before, dets_before = copy.deepcopy(gt), copy.deepcopy(dets)
    reference = coco_evaluate(gt, dets)
    assert gt == gt_before and dets == dets_before
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dets))
    from_files = coco_evaluate(tmp_path / "gt.json", str(tmp_path / "dt.json"))
    np.testing.assert_array_equal(from_files.precision, reference.precision)
    rows = np.array([[d["image_id"], *d["bbox"], d["score"], d["category_id"]] for d in dets])  # pycocotools' Nx7
    np.testing.assert_array_equal(coco_evaluate(gt, rows).precision, reference.precision)
    wrapped = coco_evaluate(gt, {"annotations": dets})
    np.testing.assert_array_equal(wrapped.stats, reference.stats)
    assert isinstance(reference.precision, np.ndarray) and not reference.precision.flags.writeable


def test_per_image_arrays_match_pycocotools_on_the_same_problem():
    rng = np.random.default_rng(4)
    ground_truth, detections, gt_anns, dets = [], [], [], []
    for image in range(12):
        n, m = int(rng.integers(0, 6)), int(rng.integers(0, 15))
        corner, size = rng.integers(0, 300, (n, 2)), rng.integers(0, 120, (n, 2))
        gt_boxes = np.concatenate([corner, corner + size], axis=1)  # integer xyxy: exact in any format
        source = rng.integers(0, max(n, 1), m)
        dt_corner = (corner[source] if n else rng.integers(0, 300, (m, 2))) + rng.integers(-4, 5, (m, 2))
        dt_size = np.abs((size[source] if n else rng.integers(0, 120, (m, 2))) + rng.integers(-6, 7, (m, 2)))
        dt_boxes = np.concatenate([dt_corner, dt_corner + dt_size], axis=1)
        labels, dt_labels = rng.integers(0, 3, n), rng.integers(0, 3, m)
        crowd, scores = rng.random(n) < 0.2, np.round(rng.random(m), 2)
        ground_truth.append({"boxes": torch.tensor(gt_boxes), "labels": torch.tensor(labels), "iscrowd": crowd})
        detections.append({"boxes": dt_boxes, "scores": torch.tensor(scores), "labels": dt_labels})
        for box, label, c in zip(gt_boxes.tolist(), labels.tolist(), crowd.tolist(), strict=True):
            xywh = [box[0], box[1], box[2] - box[0], box[3] - box[1]]
            gt_anns.append(
                {
                    "id": len(gt_anns) + 1,
                    "image_id": image,
                    "category_id": label,
                    "bbox": xywh,
                    "area": xywh[2] * xywh[3],
                    "iscrowd": int(c),
                }
            )
        for box, label, s in zip(dt_boxes.tolist(), dt_labels.tolist(), scores.tolist(), strict=True):
            dets.append(
                {
                    "image_id": image,
                    "category_id": label,
                    "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    "score": s,
                }
            )
    gt = {"images": [{"id": i} for i in range(12)], "categories": [{"id": c} for c in range(3)], "annotations": gt_anns}
    evaluator, _ = pycocotools_eval(gt, dets)
    assert_same_as_pycocotools(coco_evaluate(ground_truth, detections), evaluator)


def det(**fields):
    base = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}
    return {k: v for k, v in {**base, **fields}.items() if v is not ...}


GT = {
    "images": [{"id": 1}, {"id": 2}],
    "categories": [{"id": 1, "name": "cat"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}],
}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (det(score=...), "detections[1] has no 'score'"),
        (det(bbox=...), "detections[1] has no 'bbox'"),
        (det(bbox=[0, 0, float("nan"), 10]), "detections[1] has bbox [0.0, 0.0, nan, 10.0] with a NaN"),
        (det(bbox=[0, float("inf"), 1, 10]), "NaN or infinite coordinate"),
        (det(bbox=[0, 0, -1, 10]), "detections[1] has bbox [0.0, 0.0, -1.0, 10.0] with a negative width"),
        (det(bbox=[0, 0, 10]), "detections[1] has bbox [0, 0, 10]; it must be [x, y, width, height]"),
        (det(bbox=[0, 0, "10", 10]), "it must be [x, y, width, height]"),
        (det(score=float("nan")), "detections[1] has score nan; it must be a finite number"),
        (det(score="high"), "detections[1] has score 'high'"),
        (det(score=True), "detections[1] has score True; it must be a finite number"),
        (det(image_id=3), "detections[1] has image_id 3, which is not among the ground truth's images"),
        (det(category_id=2), "detections[1] has category_id 2, which is not among the ground truth's categories"),
        (det(image_id="1"), "detections[1] has image_id '1', a string; ids must be integers"),
        (det(image_id=1.0), "detections[1] has image_id 1.0, a float"),
        ("not a dict", "detections[1] is a str, not an object"),
    ],
)
def test_bad_detections_are_named(bad, message):
    with pytest.raises(AnnotationError) as info:
        coco_evaluate(GT, [det(), bad])
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"images": None}, "the ground truth has no 'images' list"),
        ({"annotations": [*GT["annotations"], {**GT["annotations"][0], "image_id": 1}]}, "share id 1"),
        ({"annotations": [{**GT["annotations"][0], "area": float("nan")}]}, "annotations[0] has area nan"),
        ({"annotations": [{**GT["annotations"][0], "image_id": 9}]}, "has image_id 9, which is not among 'images'"),
        ({"annotations": [{**GT["annotations"][0], "bbox": [0, 0, 1, -1]}]}, "negative width or height"),
        ({"categories": [{"id": "1"}]}, "ground truth categories[0] has id '1', a string"),
        ({"images": [{"id": 1}, {"id": 2}, {"id": 1}]}, "ground truth images[2] and [0] share id 1"),
        ({"categories": [{"id": 1}, {"id": 1, "name": "dog"}]}, "ground truth categories[1] and [0] share id 1"),
        ({"annotations": [{**GT["annotations"][0], "area": True}]}, "annotations[0] has area True; it must be a"),
    ],
)
def test_bad_ground_truth_is_named(change, message):
    with pytest.raises(AnnotationError) as info:
        coco_evaluate({**GT, **change}, [det()])
    assert message in str(info.value)


def test_iscrowd_may_be_a_json_flag():
    """A score or an area of `true` is refused (a bool is no number), but iscrowd is a yes/no field."""
    crowd = {**GT, "annotations": [{**GT["annotations"][0], "iscrowd": True}]}
    one = {**GT, "annotations": [{**GT["annotations"][0], "iscrowd": 1}]}
    np.testing.assert_array_equal(coco_evaluate(crowd, [det()]).stats, coco_evaluate(one, [det()]).stats)


def test_nan_box_is_rejected_where_pycocotools_would_score_it():
    nan_box = det(bbox=[0, 0, float("nan"), float("nan")])
    evaluator, _ = pycocotools_eval(GT, [nan_box])
    assert evaluator.stats[0] == pytest.approx(1.0)  # pycocotools: the NaN box is a perfect hit
    with pytest.raises(AnnotationError, match="NaN"):
        coco_evaluate(GT, [nan_box])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_dets": (1, 10)}, "max_dets must be three positive integers"),
        ({"max_dets": (0, 10, 100)}, "max_dets must be three positive integers"),
        ({"iou_thresholds": [0.5, 1.5]}, "iou_thresholds must be numbers in [0, 1]"),
        ({"area_ranges": [[0, 1]]}, "area_ranges must be four (low, high) pairs"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ConfigError) as info:
        coco_evaluate(GT, [det()], **kwargs)
    assert message in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AnnotationError, match=r"cannot read ground truth file .*nope\.json"):
        coco_evaluate(tmp_path / "nope.json", [])
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(AnnotationError, match="is not valid JSON"):
        coco_evaluate(tmp_path / "broken.json", [])


def test_degenerate_inputs():
    nothing = coco_evaluate({"images": [], "categories": []}, [])
    assert nothing.precision.shape == (10, 101, 0, 4, 3) and (nothing.stats == -1).all()
    empty_image = [{"boxes": np.zeros((0, 4)), "labels": []}]
    assert (coco_evaluate(empty_image, [{"boxes": [], "labels": [], "scores": []}]).stats == -1).all()
    one = coco_evaluate(
        [{"boxes": [[0, 0, 10, 10]], "labels": [1]}], [{"boxes": [[0, 0, 10, 10]], "labels": [1], "scores": [0.5]}]
    )
    np.testing.assert_allclose(one.stats, [1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1])  # a 100-pixel box is small
