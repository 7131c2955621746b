"""Boxes against independent float64 references written out here, one pair at a time, and hypothesis properties."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.errors import AnnotationError, ConfigError, ShapeError
from cnnlab.metrics import (
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    complete_box_iou,
    complete_box_iou_loss,
    distance_box_iou,
    distance_box_iou_loss,
    generalized_box_iou,
    generalized_box_iou_loss,
    nms,
)

EPS = 1e-7


# --- the references: the papers' definitions, scalar by scalar, in Python floats ---------------------------------


def ref_terms(a, b):
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    cw, ch = max(ax2, bx2) - min(ax1, bx1), max(ay2, by2) - min(ay1, by1)
    rho2 = ((ax1 + ax2) / 2 - (bx1 + bx2) / 2) ** 2 + ((ay1 + ay2) / 2 - (by1 + by2) / 2) ** 2
    v = 4 / math.pi**2 * (math.atan((ax2 - ax1) / (ay2 - ay1)) - math.atan((bx2 - bx1) / (by2 - by1))) ** 2
    return inter, union, cw * ch, cw**2 + ch**2, rho2, v


def ref_iou(a, b):
    inter, union, *_ = ref_terms(a, b)
    return inter / union


def ref_giou(a, b):  # Rezatofighi et al. 2019: IoU − |C \ (A ∪ B)| / |C|
    inter, union, area_c, *_ = ref_terms(a, b)
    return inter / union - (area_c - union) / area_c


def ref_diou(a, b):  # Zheng et al. 2020: IoU − ρ² / c²
    inter, union, _, diag2, rho2, _ = ref_terms(a, b)
    return inter / union - rho2 / (diag2 + EPS)


def ref_ciou(a, b):  # Zheng et al. 2020: DIoU − α v, α = v / (1 − IoU + v)
    inter, union, _, _, _, v = ref_terms(a, b)
    iou = inter / union
    return ref_diou(a, b) - v / (1 - iou + v + EPS) * v


def ref_losses(a, b):
    """torchvision's loss formulas: eps in the union and |C|."""
    inter, union, area_c, diag2, rho2, v = ref_terms(a, b)
    iou = inter / (union + EPS)
    giou = 1 - (iou - (area_c - union) / (area_c + EPS))
    diou = 1 - iou + rho2 / (diag2 + EPS)
    ciou = diou + v / (1 - iou + v + EPS) * v
    return giou, diou, ciou


def pairwise_reference(fn, boxes1, boxes2):
    return np.array([[fn(a, b) for b in boxes2.tolist()] for a in boxes1.tolist()]).reshape(len(boxes1), len(boxes2))


def random_boxes(rng, n, scale=100.0):
    xy = rng.uniform(-scale, scale, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(0.01, scale, (n, 2))], axis=1)


# --- exact values -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "ref"),
    [(box_iou, ref_iou), (generalized_box_iou, ref_giou), (distance_box_iou, ref_diou), (complete_box_iou, ref_ciou)],
)
def test_pairwise_and_elementwise_match_the_reference(fn, ref):
    rng = np.random.default_rng(0)
    boxes1, boxes2 = random_boxes(rng, 7), random_boxes(rng, 9)
    boxes2[:3] = boxes1[:3]  # identical pairs
    boxes2[3] = boxes1[3] + [200, 0, 200, 0]  # disjoint pair
    np.testing.assert_allclose(fn(boxes1, boxes2), pairwise_reference(ref, boxes1, boxes2), rtol=1e-12, atol=1e-12)
    diagonal = fn(boxes1, boxes2[:7], pairwise=False)
    np.testing.assert_array_equal(diagonal, np.diag(fn(boxes1, boxes2[:7])))  # same arithmetic both ways
    tensor = fn(torch.tensor(boxes1), torch.tensor(boxes2))
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float64
    np.testing.assert_allclose(tensor.numpy(), fn(boxes1, boxes2), rtol=1e-14, atol=1e-15)


def test_the_notes_examples():
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    b = np.array([[1.0, 1.0, 3.0, 3.0]])
    assert box_iou(a, b)[0, 0] == pytest.approx(1 / 7)  # |A∩B| = 1, |A∪B| = 4 + 4 − 1
    assert generalized_box_iou(a, b)[0, 0] == pytest.approx(1 / 7 - (9 - 7) / 9)  # C = [0, 3]²
    far = np.array([[10.0, 0.0, 12.0, 2.0]])
    assert box_iou(a, far)[0, 0] == 0 and generalized_box_iou(a, far)[0, 0] == pytest.approx(-(24 - 8) / 24)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_losses_match_the_reference(reduction):
    rng = np.random.default_rng(1)
    boxes1, boxes2 = random_boxes(rng, 11), random_boxes(rng, 11)
    expected = np.array([ref_losses(a, b) for a, b in zip(boxes1.tolist(), boxes2.tolist(), strict=True)])
    losses = (generalized_box_iou_loss, distance_box_iou_loss, complete_box_iou_loss)
    for column, loss in enumerate(losses):
        got = loss(boxes1, boxes2, reduction=reduction)
        want = {"none": expected[:, column], "mean": expected[:, column].mean(), "sum": expected[:, column].sum()}
        np.testing.assert_allclose(got, want[reduction], rtol=1e-12)
        assert float(loss(np.zeros((0, 4)), np.zeros((0, 4)), reduction="mean")) == 0.0


def test_losses_are_differentiable_and_ciou_treats_alpha_as_constant():
    rng = np.random.default_rng(2)
    pred = torch.tensor(random_boxes(rng, 5), requires_grad=True)
    target = torch.tensor(random_boxes(rng, 5))
    for loss in (generalized_box_iou_loss, distance_box_iou_loss):
        assert torch.autograd.gradcheck(lambda p, fn=loss: fn(p, target), (pred,))
    complete_box_iou_loss(pred, target, reduction="sum").backward()
    # The reference gradient: the DIoU loss plus α·v with α computed without gradient (Zheng et al. 2020).
    ref_pred = pred.detach().clone().requires_grad_(True)
    w, h = ref_pred[:, 2] - ref_pred[:, 0], ref_pred[:, 3] - ref_pred[:, 1]
    wg, hg = target[:, 2] - target[:, 0], target[:, 3] - target[:, 1]
    v = 4 / math.pi**2 * (torch.atan(wg / hg) - torch.atan(w / h)) ** 2
    overlap = torch.minimum(ref_pred[:, 2:], target[:, 2:]) - torch.maximum(ref_pred[:, :2], target[:, :2])
    inter = overlap.clamp(min=0).prod(dim=1)
    iou = inter / (w * h + wg * hg - inter + EPS)
    alpha = (v / (1 - iou + v + EPS)).detach()
    (distance_box_iou_loss(ref_pred, target) + alpha * v).sum().backward()
    torch.testing.assert_close(pred.grad, ref_pred.grad, rtol=1e-12, atol=1e-12)


def test_box_convert_and_area():
    xyxy = np.array([[1.0, 2.0, 5.0, 10.0], [0.0, 0.0, 0.0, 3.0]])
    xywh = np.array([[1.0, 2.0, 4.0, 8.0], [0.0, 0.0, 0.0, 3.0]])
    cxcywh = np.array([[3.0, 6.0, 4.0, 8.0], [0.0, 1.5, 0.0, 3.0]])
    forms = {"xyxy": xyxy, "xywh": xywh, "cxcywh": cxcywh}
    for src, a in forms.items():
        for dst, b in forms.items():
            np.testing.assert_array_equal(box_convert(a, src, dst), b, err_msg=f"{src} -> {dst}")
    torch.testing.assert_close(box_convert(torch.tensor(xywh), "xywh", "cxcywh"), torch.tensor(cxcywh))
    np.testing.assert_array_equal(box_area(xyxy), [32.0, 0.0])
    with pytest.raises(ConfigError, match="unknown box format 'xyhw'"):
        box_convert(xyxy, "xyhw", "xyxy")
    with pytest.raises(AnnotationError, match=r"boxes\[0\] = \[1.0, 2.0, -4.0, 8.0\] is of negative width"):
        box_convert(np.array([[1.0, 2.0, -4.0, 8.0]]), "xywh", "xyxy")


def test_zero_area_boxes_follow_torchvision():
    point = np.array([[1.0, 1.0, 1.0, 1.0]])
    assert np.isnan(box_iou(point, point)[0, 0])  # 0 / 0, as torchvision.ops.box_iou
    assert box_iou(point, np.array([[0.0, 0.0, 2.0, 2.0]]))[0, 0] == 0


# --- properties ---------------------------------------------------------------------------------------------------

coordinate = st.floats(-1e3, 1e3, allow_nan=False)
side = st.floats(1e-2, 1e3, allow_nan=False)
box = st.tuples(coordinate, coordinate, side, side).map(lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]])
boxes = st.lists(box, min_size=1, max_size=6).map(np.array)


@settings(max_examples=200, deadline=None)
@given(boxes, boxes)
def test_iou_is_symmetric_bounded_and_one_on_itself(b1, b2):
    iou = box_iou(b1, b2)
    np.testing.assert_array_equal(iou, box_iou(b2, b1).T)
    np.testing.assert_array_equal(np.diag(box_iou(b1, b1)), 1.0)
    giou = generalized_box_iou(b1, b2)
    tol = 1e-9
    assert (giou >= -1 - tol).all() and (giou <= iou + tol).all() and (iou <= 1).all() and (iou >= 0).all()
    diou, ciou = distance_box_iou(b1, b2), complete_box_iou(b1, b2)
    assert (diou >= -1 - tol).all() and (diou <= iou + tol).all() and (ciou <= diou + tol).all()


@settings(max_examples=200, deadline=None)
@given(boxes, boxes, st.floats(-500, 500), st.floats(-500, 500))
def test_translating_both_boxes_changes_nothing(b1, b2, dx, dy):
    shift = np.array([dx, dy, dx, dy])
    for fn in (box_iou, generalized_box_iou, distance_box_iou, complete_box_iou):
        np.testing.assert_allclose(fn(b1 + shift, b2 + shift), fn(b1, b2), atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(boxes, st.integers(0, 3), st.sampled_from([float("nan"), float("inf"), -float("inf"), "swap"]))
def test_nan_inf_and_inverted_boxes_are_rejected(b, column, bad):
    b = b.copy()
    row = len(b) - 1
    if bad == "swap":
        b[row, column % 2], b[row, column % 2 + 2] = b[row, column % 2 + 2] + 1, b[row, column % 2]
        expected = "is inverted"
    else:
        b[row, column] = bad
        expected = "has a NaN or infinite coordinate"
    for call in (
        lambda: box_iou(b, b[:1]),
        lambda: generalized_box_iou_loss(b, b),
        lambda: nms(b, np.ones(len(b)), 0.5),
    ):
        with pytest.raises(AnnotationError) as info:
            call()
        assert expected in str(info.value)
        assert f"[{row}] = " in str(info.value)


def test_shape_errors():
    with pytest.raises(ShapeError, match=r"boxes1 must be shaped \(N, 4\)"):
        box_iou(np.zeros((2, 5)), np.zeros((2, 4)))
    with pytest.raises(ConfigError, match="unknown reduction 'avg'"):
        generalized_box_iou_loss(np.zeros((1, 4)), np.zeros((1, 4)), reduction="avg")


# --- NMS ----------------------------------------------------------------------------------------------------------


def ref_nms(boxes, scores, threshold):
    """torchvision's CPU kernel, line by line (visit by decreasing score, ties by index)."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    suppressed, keep = set(), []
    for pos, i in enumerate(order):
        if i in suppressed:
            continue
        keep.append(i)
        for j in order[pos + 1 :]:
            if j not in suppressed and ref_iou(boxes[i], boxes[j]) > threshold:
                suppressed.add(j)
    return keep


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7])
def test_nms_matches_the_kernel_loop(threshold):
    rng = np.random.default_rng(int(threshold * 10))
    boxes = random_boxes(rng, 60, scale=30.0)
    scores = np.round(rng.random(60), 1)  # many ties
    keep = nms(boxes, scores, threshold)
    assert keep.tolist() == ref_nms(boxes.tolist(), scores.tolist(), threshold)
    kept = nms(torch.tensor(boxes), torch.tensor(scores), threshold)
    assert kept.dtype == torch.int64 and kept.tolist() == keep.tolist()


def test_batched_nms_never_suppresses_across_classes():
    rng = np.random.default_rng(3)
    boxes = random_boxes(rng, 50, scale=20.0)
    scores, classes = rng.random(50), rng.integers(0, 4, 50)
    keep = batched_nms(boxes, scores, classes, 0.5)
    expected = []
    for c in range(4):
        members = np.flatnonzero(classes == c)
        expected += members[ref_nms(boxes[members].tolist(), scores[members].tolist(), 0.5)].tolist()
    assert keep.tolist() == sorted(expected, key=lambda i: (-scores[i], i))
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), 0.5).tolist() == []
    with pytest.raises(ConfigError, match="one class per box"):
        batched_nms(boxes, scores, classes[:3], 0.5)
