"""tinydet: shapes of every switch, parameter arithmetic, targets, losses, decoding and a one-batch overfit."""

import math

import pytest
import torch

from cnnlab.cli import main
from cnnlab.data.shapes import generate_shapes
from cnnlab.errors import ConfigError, ShapeError
from cnnlab.metrics.boxes import box_iou
from cnnlab.models import TinyDetOutputs, create
from cnnlab.models._detection import (
    BOX_LOSSES,
    assign_targets,
    box_pair_loss,
    boxes_to_ltrb,
    decode,
    detection_loss,
    focal_loss,
    ltrb_to_boxes,
    vote_boxes,
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def padded(boxes_per_image, labels_per_image):
    """(B, M, 4) boxes and (B, M) labels, −1 marking padding: the batch format of the detection loader."""
    m = max(len(b) for b in boxes_per_image)
    boxes = torch.zeros(len(boxes_per_image), m, 4)
    labels = torch.full((len(boxes_per_image), m), -1)
    for i, (b, lab) in enumerate(zip(boxes_per_image, labels_per_image, strict=True)):
        boxes[i, : len(b)] = torch.as_tensor(b, dtype=torch.float32).view(-1, 4)
        labels[i, : len(lab)] = torch.as_tensor(lab)
    return boxes, labels


@pytest.mark.parametrize("merge", ["concat", "add"])
@pytest.mark.parametrize("upsample", ["nearest", "bilinear", "transposed"])
@pytest.mark.parametrize(("size", "head_stride"), [(32, 2), ((16, 40), 2), (24, 4)])
def test_output_shapes_for_every_switch(merge, upsample, size, head_stride):
    model = create("tinydet", num_classes=5, input_size=size, merge=merge, upsample=upsample, head_stride=head_stride)
    h, w = (size, size) if isinstance(size, int) else size
    out = model(torch.randn(2, 3, h, w))
    assert isinstance(out, TinyDetOutputs)
    assert out.heatmap.shape == (2, 5, h // head_stride, w // head_stride)
    assert out.boxes.shape == (2, 4, h // head_stride, w // head_stride)
    assert (out.boxes > 0).all()  # softplus keeps the distances positive


def test_concat_and_add_differ_by_the_fuse_convs_inputs():
    width = 24  # neck_width W: concat feeds 2W channels to each 3×3 fuse conv, add feeds W (bias-free, BN after)
    for head_stride, merges in ((2, 2), (4, 1)):
        concat = create("tinydet", neck_width=width, merge="concat", head_stride=head_stride)
        add = create("tinydet", neck_width=width, merge="add", head_stride=head_stride)
        assert n_params(concat) - n_params(add) == merges * 3 * 3 * width * width
    # A transposed convolution learns one 2×2 kernel per (in, out) channel pair per upsampling; the others learn none.
    nearest, bilinear = create("tinydet", neck_width=width), create("tinydet", neck_width=width, upsample="bilinear")
    transposed = create("tinydet", neck_width=width, upsample="transposed")
    assert n_params(nearest) == n_params(bilinear)
    assert n_params(transposed) - n_params(nearest) == 2 * 2 * 2 * width * width


def test_heatmap_starts_at_the_focal_prior():
    model = create("tinydet")
    assert torch.sigmoid(model.heatmap_head[-1].bias).allclose(torch.full((10,), 0.01))
    scores = model.eval()(torch.randn(2, 3, 32, 32)).heatmap.sigmoid()
    assert scores.mean().item() == pytest.approx(0.01, rel=0.2)


def test_bad_arguments_are_explained():
    with pytest.raises(ConfigError, match="merge must be one of concat, add"):
        create("tinydet", merge="sum")
    with pytest.raises(ConfigError, match="upsample must be one of"):
        create("tinydet", upsample="pixelshuffle")
    with pytest.raises(ConfigError, match="multiple of 8"):
        create("tinydet", input_size=30)
    with pytest.raises(ShapeError, match="multiples of 8"):
        create("tinydet")(torch.zeros(1, 3, 30, 30))
    model = create("tinydet")
    out = model(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ConfigError, match="box loss"):
        model.detection_loss(out, torch.zeros(1, 1, 4), torch.zeros(1, 1, dtype=torch.long), box_loss="smooth_l1")
    with pytest.raises(ShapeError, match="labels \\(B, M\\)"):
        model.detection_loss(out, torch.zeros(1, 2, 4), torch.zeros(1, 3, dtype=torch.long))


# Two images: three boxes, then one box and a padding slot. Integer corners, as in the shapes data.
BOXES = [[[4, 5, 12, 13], [2, 21, 14, 27], [20, 4, 29, 14]], [[10, 10, 13, 14]]]
LABELS = [[3, 5, 3], [9]]


def test_targets_peak_at_each_centre_cell_and_decode_back_to_the_boxes():
    boxes, labels = padded(BOXES, LABELS)
    t = assign_targets(boxes, labels, 10, (16, 16), stride=2)
    assert t.num_objects == 4 and t.heatmap.shape == (2, 10, 16, 16)
    peaks = []
    for i, (image_boxes, image_labels) in enumerate(zip(BOXES, LABELS, strict=True)):
        for (x0, y0, x1, y1), k in zip(image_boxes, image_labels, strict=True):
            row, col = int((y0 + y1) / 2 // 2), int((x0 + x1) / 2 // 2)  # the cell holding the box centre
            assert t.heatmap[i, k, row, col] == 1.0
            peaks.append((i, k, row, col))
    assert sorted(map(tuple, (t.heatmap == 1).nonzero().tolist())) == sorted(peaks)  # 1.0 nowhere else
    assert t.heatmap[0, 5].max() == 1.0 and t.heatmap[1, :9].max() == 0.0  # classes without boxes stay 0
    # Every regression cell decodes back to exactly the box it regresses (encode -> decode round trip).
    decoded = ltrb_to_boxes(t.ltrb, stride=2)  # (B, h, w, 4)
    cells = t.weight > 0
    owners = {tuple(map(float, b)) for image in BOXES for b in image}
    assert {tuple(b) for b in decoded[cells].tolist()} == owners
    for i, image_boxes in enumerate(BOXES):
        for box in image_boxes:
            mine = cells[i] & (decoded[i] == torch.tensor(box, dtype=torch.float32)).all(-1)
            assert t.weight[i][mine].sum().item() == pytest.approx(1.0)  # each object's cells weigh 1 in all
    assert torch.equal(ltrb_to_boxes(boxes_to_ltrb(decoded, 2), 2), decoded)
    assert (t.ltrb.permute(0, 2, 3, 1)[cells] > 0).all()


def test_padding_only_batch_has_no_targets_and_a_finite_loss():
    model = create("tinydet")
    out = model(torch.randn(2, 3, 32, 32))
    boxes, labels = torch.zeros(2, 3, 4), torch.full((2, 3), -1)
    t = model.assign_targets(boxes, labels, (16, 16))
    assert t.num_objects == 0 and t.heatmap.abs().sum() == 0 and t.weight.sum() == 0
    losses = model.detection_loss(out, boxes, labels)
    assert losses["box"] == 0 and torch.isfinite(losses["loss"]) and losses["cls"] > 0
    losses["loss"].backward()
    assert model.heatmap_head[-1].bias.grad.abs().sum() > 0


def test_focal_loss_by_hand():
    logits = torch.tensor([[[[0.0, math.log(3)]]]])  # p = 1/2 at a peak, p = 3/4 where the Gaussian target is 1/2
    target = torch.tensor([[[[1.0, 0.5]]]])
    positive = -((1 - 0.5) ** 2) * math.log(0.5)
    negative = -((1 - 0.5) ** 4) * 0.75**2 * math.log(0.25)
    assert focal_loss(logits, target).item() == pytest.approx(positive + negative, rel=1e-6)


@pytest.mark.parametrize("kind", BOX_LOSSES)
def test_each_box_loss_is_zero_for_perfect_boxes_and_positive_otherwise(kind):
    target = torch.tensor([[4.0, 5.0, 12.0, 13.0], [20.0, 4.0, 29.0, 14.0]])
    assert box_pair_loss(target, target, kind).abs().max().item() < 1e-6
    for shifted in (target + torch.tensor([1.0, 0.0, 1.0, 0.0]), target * torch.tensor([1.0, 1.0, 1.2, 1.0])):
        assert (box_pair_loss(shifted, target, kind) > 1e-3).all()


def test_giou_has_a_gradient_for_disjoint_boxes_and_iou_has_none():
    target = torch.tensor([[20.0, 20.0, 28.0, 28.0]])
    grads = {}
    for kind in ("iou", "giou"):
        pred = torch.tensor([[2.0, 2.0, 10.0, 10.0]], requires_grad=True)  # no overlap with the target
        box_pair_loss(pred, target, kind).sum().backward()
        grads[kind] = pred.grad
    assert torch.equal(grads["iou"], torch.zeros(1, 4))
    assert grads["giou"].abs().sum() > 0
    assert (grads["giou"][0, 2:] < 0).all()  # descent moves the far corner towards the target


@pytest.mark.parametrize("kind", BOX_LOSSES)
def test_detection_loss_of_perfect_boxes_is_zero_and_per_object(kind):
    boxes, labels = padded(BOXES, LABELS)
    t = assign_targets(boxes, labels, 10, (16, 16), stride=2)
    logits = torch.randn(2, 10, 16, 16)
    perfect = detection_loss(logits, t.ltrb + (t.weight == 0)[:, None], t, 2, box_loss=kind)
    assert perfect["box"].abs().item() < 1e-6
    assert perfect["loss"].item() == pytest.approx(perfect["cls"].item(), abs=1e-5)
    wrong = detection_loss(logits, t.ltrb + 1.0, t, 2, box_loss=kind)
    assert wrong["box"] > 1e-3 and wrong["loss"] > wrong["cls"]
    # Dividing by the number of objects: the same batch twice gives the same numbers.
    twice = assign_targets(torch.cat([boxes, boxes]), torch.cat([labels, labels]), 10, (16, 16), stride=2)
    again = detection_loss(torch.cat([logits, logits]), torch.cat([t.ltrb, t.ltrb]) + 1.0, twice, 2, box_loss=kind)
    for key in ("loss", "cls", "box"):
        assert again[key].item() == pytest.approx(wrong[key].item(), rel=1e-5)


def test_bce_class_loss_is_the_mean_per_object():
    boxes, labels = padded(BOXES, LABELS)
    t = assign_targets(boxes, labels, 10, (16, 16), stride=2)
    logits = torch.randn(2, 10, 16, 16)
    losses = detection_loss(logits, t.ltrb, t, 2, cls_loss="bce")
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, t.heatmap, reduction="sum") / 4
    assert losses["cls"].item() == pytest.approx(expected.item(), rel=1e-6)


def hand_made_maps():
    """Logits of −20 (score ≈ 0) but for a few peaks; every cell predicts distances (6, 6, 6, 6)."""
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    heatmap = torch.full((2, 10, 16, 16), -20.0)
    ltrb = torch.full((2, 4, 16, 16), 6.0)
    heatmap[0, 3, 2, 5] = logit(0.9)  # cell centre (11, 5): box (5, −1, 17, 11), clipped to (5, 0, 17, 11)
    heatmap[0, 4, 2, 5] = logit(0.7)  # another class at the same cell: class-wise NMS keeps it
    heatmap[0, 3, 2, 7] = logit(0.6)  # centre (15, 5), a duplicate: its distances give the same box as (2, 5)
    ltrb[0, :, 2, 7] = torch.tensor([10.0, 6.0, 2.0, 6.0])
    heatmap[0, 3, 2, 6] = logit(0.5)  # beside the 0.9 peak: not a 3×3 local maximum
    heatmap[0, 7, 15, 15] = logit(0.8)  # centre (31, 31): box (25, 25, 37, 37), clipped to (25, 25, 32, 32)
    heatmap[0, 1, 8, 8] = logit(0.03)  # below the score threshold
    return heatmap, ltrb


def test_decode_hand_made_maps():
    heatmap, ltrb = hand_made_maps()
    first, second = decode(heatmap, ltrb, stride=2, vote=False)
    assert first["boxes"].tolist() == [[5.0, 0.0, 17.0, 11.0], [25.0, 25.0, 32.0, 32.0], [5.0, 0.0, 17.0, 11.0]]
    assert first["scores"].tolist() == pytest.approx([0.9, 0.8, 0.7])
    assert first["labels"].tolist() == [3, 7, 4]
    assert second["boxes"].shape == (0, 4) and second["scores"].shape == (0,) and second["labels"].shape == (0,)
    # Without NMS the duplicate of class 3 (score 0.6) comes back; max_detections keeps the best.
    no_nms = decode(heatmap, ltrb, stride=2, iou_threshold=1.0, vote=False)[0]
    assert no_nms["scores"].tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])
    assert decode(heatmap, ltrb, stride=2, max_detections=1)[0]["labels"].tolist() == [3]
    model = create("tinydet")  # the model's method decodes at its own stride
    assert model.decode(TinyDetOutputs(heatmap, ltrb))[0]["labels"].tolist() == [3, 7, 4]


def test_box_voting_weights_the_neighbourhood_by_the_class_score():
    heatmap, ltrb = hand_made_maps()
    voted = decode(heatmap, ltrb, stride=2)[0]
    # The class-3 peak (0.9, box x 5..17) has its 0.5 neighbour (box x 7..19) in its 3×3 window; the other cells of
    # the window score sigmoid(−20) for class 3. Class 4's peak has no neighbour of its class: its own box.
    s = 1 / (1 + math.exp(20))
    w = torch.tensor([0.9, 0.5] + [s] * 7, dtype=torch.float64)
    # Window of (2, 5): columns 4..6 of rows 1..3, each cell's box is its centre ± 6 (clipping comes after voting).
    centres_x = [9, 11, 13] * 3
    centres_y = [3] * 3 + [5] * 3 + [7] * 3
    order = [4, 5, 0, 1, 2, 3, 6, 7, 8]  # (2, 5) and (2, 6) first, as in w
    cx = torch.tensor([centres_x[i] for i in order], dtype=torch.float64)
    cy = torch.tensor([centres_y[i] for i in order], dtype=torch.float64)
    expected = [float((w * (cx - 6)).sum() / w.sum()), 0.0, float((w * (cx + 6)).sum() / w.sum()),
                float((w * (cy + 6)).sum() / w.sum())]  # fmt: skip
    assert voted["labels"].tolist() == [3, 7, 4]
    assert voted["boxes"][0].tolist() == pytest.approx(expected, abs=1e-5)
    assert voted["boxes"][2].tolist() == pytest.approx([5.0, 0.0, 17.0, 11.0], abs=1e-5)  # its window scores ≈ 0
    assert voted["scores"].tolist() == pytest.approx([0.9, 0.8, 0.7])  # voting moves boxes, never scores


def test_vote_boxes_equals_a_loop_over_each_neighbourhood():
    torch.manual_seed(0)
    scores, boxes = torch.rand(2, 3, 5, 6), torch.rand(2, 5, 6, 4) * 30
    scores[1, 2] = 0  # a class that scores 0 everywhere keeps each cell's own box
    image = torch.tensor([0, 0, 1, 1, 1])
    label = torch.tensor([0, 2, 1, 2, 0])
    cell = torch.tensor([0, 13, 29, 7, 17])  # a corner, inside, the opposite corner, ...
    voted = vote_boxes(scores, boxes, image, label, cell)
    for d in range(5):
        b, k, i, j = int(image[d]), int(label[d]), int(cell[d]) // 6, int(cell[d]) % 6
        num, den = torch.zeros(4, dtype=torch.float64), 0.0
        for y in range(max(i - 1, 0), min(i + 2, 5)):
            for x in range(max(j - 1, 0), min(j + 2, 6)):
                num += float(scores[b, k, y, x]) * boxes[b, y, x].double()
                den += float(scores[b, k, y, x])
        expected = num / den if den > 0 else boxes[b, i, j].double()
        assert torch.allclose(voted[d].double(), expected, atol=1e-4), d
    assert torch.equal(voted[3], boxes[1, 1, 1])  # class 2 of image 1 scores 0: cell 7's own box


def test_flip_test_is_mirror_symmetric():
    torch.manual_seed(0)
    model = create("tinydet", num_classes=3).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        plain, mirrored = model.flip_test(x), model.flip_test(x.flip(-1))
        one, two = model(x), model(x.flip(-1))
    # The average of a map and its mirror's is the same whichever of the two comes in.
    assert torch.equal(mirrored.heatmap, plain.heatmap.flip(-1))
    assert torch.equal(mirrored.boxes, plain.boxes.flip(-1)[:, [2, 1, 0, 3]])
    assert torch.equal(plain.heatmap, (one.heatmap + two.heatmap.flip(-1)) / 2)


def test_overfitting_one_batch_of_shapes():
    scenes = generate_shapes(4, seed=0, split=1, max_objects=4)
    present = scenes.kinds >= 0
    boxes = [b[m] for b, m in zip(scenes.boxes, present, strict=True)]
    labels = [k[m] for k, m in zip(scenes.kinds, present, strict=True)]
    x = (scenes.images - 0.5) / 0.25
    batch_boxes, batch_labels = padded(boxes, labels)
    torch.manual_seed(0)
    model = create("tinydet")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(100):
        losses = model.detection_loss(model(x), batch_boxes, batch_labels)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        history.append(losses["loss"].item())
    assert history[-1] < 0.05 * history[0]
    with torch.no_grad():
        detections = model.eval().decode(model(x))
    for det, gt_boxes, gt_labels in zip(detections, boxes, labels, strict=True):
        for box, label in zip(gt_boxes, gt_labels, strict=True):
            same_class = det["boxes"][det["labels"] == label]
            assert len(same_class) > 0
            assert box_iou(box[None], same_class).max() > 0.5


def test_cli_summary(capsys):
    assert main(["summary", "tinydet"]) == 0
    out = capsys.readouterr().out
    assert "heatmap_head.1" in out and "fuses.1.conv" in out
    assert out.splitlines()[-1].split()[1:3] == ["10×16×16,", "4×16×16"]
    assert main(["summary", "tinydet", "--kw", "merge=add", "--kw", "upsample=transposed", "--json"]) == 0
