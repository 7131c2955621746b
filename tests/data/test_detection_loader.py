"""DetectionLoader (padded boxes, seeded order, resume, shares) and box-aware augmentation, checked against the
boxes of rendered shapes."""

import pytest
import torch
import torch.nn.functional as F

from cnnlab.data import (
    DetectionBatch,
    DetectionDataset,
    DetectionLoader,
    build_augment,
    build_box_augment,
    generate_shapes,
    generator,
    load_dataset,
    make_loader,
)
from cnnlab.data.box_augment import clip_boxes, zoom
from cnnlab.data.shapes import _bounds
from cnnlab.errors import ConfigError, ShapeError


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", "train", task="detection", n_train=50)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_batches_cover_every_image_once_per_epoch_in_the_seeded_order(shapes):
    loader = DetectionLoader(shapes, 16, seed=3, normalize=False)
    most = max(len(t) for t in shapes.labels)
    for epoch in range(2):
        order = loader.order(epoch)
        batches = list(loader)
        assert all(isinstance(b, DetectionBatch) for b in batches)
        assert [len(b.inputs) for b in batches] == [16, 16, 16, 2]
        assert all(b.boxes.shape[1:] == (most, 4) and b.labels.shape[1:] == (most,) for b in batches)
        assert torch.equal(torch.cat([b.inputs for b in batches]), shapes.images[order])
        assert sorted(order.tolist()) == list(range(50))
    assert not torch.equal(loader.order(0), loader.order(1))  # a new order every epoch
    assert loader.epoch == 2 and loader.position == 0


def test_real_rows_are_the_dataset_boxes_and_padding_is_minus_one_and_zeros(shapes):
    loader = DetectionLoader(shapes, 8, seed=1, normalize=False)
    order = loader.order(0).tolist()
    rows = [(b.boxes[k], b.labels[k]) for b in loader for k in range(len(b.labels))]
    counts = {len(t) for t in shapes.labels}
    assert len(counts) > 1  # some images are padded
    for index, (boxes, labels) in zip(order, rows, strict=True):
        n = len(shapes.labels[index])
        assert torch.equal(labels[:n], shapes.labels[index]) and torch.equal(boxes[:n], shapes.boxes[index])
        assert (labels[n:] == -1).all() and (boxes[n:] == 0).all()


def test_max_objects_pads_further_and_refuses_too_few_and_empty_images_work():
    images = torch.rand(3, 1, 8, 8)
    boxes = [torch.tensor([[1.0, 1.0, 3.0, 3.0]]), torch.zeros(0, 4), torch.tensor([[0.0, 0, 2, 2], [4, 4, 8, 8]])]
    labels = [torch.tensor([0]), torch.zeros(0, dtype=torch.int64), torch.tensor([1, 0])]
    data = DetectionDataset(images, boxes, labels, ("a", "b"), name="toy")
    (batch,) = DetectionLoader(data, 3, shuffle=False, normalize=False, max_objects=5)
    assert batch.labels.tolist() == [[0, -1, -1, -1, -1], [-1] * 5, [1, 0, -1, -1, -1]]
    assert torch.equal(batch.boxes[2, :2], boxes[2]) and (batch.boxes[1] == 0).all()
    with pytest.raises(ConfigError, match="2 objects, more than max_objects=1"):
        DetectionLoader(data, 3, max_objects=1)


def test_resume_mid_epoch_gives_the_identical_next_batches(shapes):
    augment = build_box_augment("crop:4,flip,scale:0.8-1.2", input_size=32, mean=shapes.mean)
    full = DetectionLoader(shapes, 16, seed=3, augment=augment)
    expected = list(full) + list(full)
    loader = DetectionLoader(shapes, 16, seed=3, augment=augment)
    it = iter(loader)
    got = [next(it), next(it)]
    resumed = DetectionLoader(shapes, 16, seed=3, augment=augment)
    resumed.load_state_dict(loader.state_dict())
    got += list(resumed) + list(resumed)
    assert len(got) == len(expected) == 8
    for a, b in zip(got, expected, strict=True):
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.boxes, b.boxes) and torch.equal(a.labels, b.labels)


def test_two_ranks_shares_concatenate_to_one_process_batch(shapes):
    single = list(DetectionLoader(shapes, 16, seed=5))
    rank0 = list(DetectionLoader(shapes, 16, seed=5, rank=0, world_size=2))
    rank1 = list(DetectionLoader(shapes, 16, seed=5, rank=1, world_size=2))
    for one, a, b in zip(single, rank0, rank1, strict=True):
        for field in ("inputs", "boxes", "labels"):
            assert torch.equal(torch.cat([getattr(a, field), getattr(b, field)]), getattr(one, field))
    assert [b.global_size for b in rank0] == [16, 16, 16, 2] and [len(b.labels) for b in rank1] == [8, 8, 8, 1]
    # More processes than images left: the last global batch of 2 leaves rank 0 of 4 an empty, augmented share.
    augment = build_box_augment("crop:4,flip,scale", input_size=32, mean=shapes.mean)
    last = list(DetectionLoader(shapes, 4, seed=5, augment=augment, rank=0, world_size=4))[-1]
    assert last.inputs.shape == (0, 3, 32, 32) and last.boxes.shape == (0, 4, 4) and last.global_size == 2


def test_make_loader_dispatches_normalizes_and_refuses_what_it_cannot_batch(shapes):
    loader = make_loader(shapes, len(shapes), shuffle=False, seed=0, augment=None, device="cpu")
    assert isinstance(loader, DetectionLoader)
    (batch,) = loader
    mean = torch.tensor(shapes.mean).view(1, -1, 1, 1)
    assert torch.equal(batch.inputs, (shapes.images - mean) / torch.tensor(shapes.std).view(1, -1, 1, 1))
    image_only = build_augment("crop:4", input_size=32)
    with pytest.raises(ConfigError, match="build_box_augment"):
        make_loader(shapes, 8, shuffle=True, seed=0, augment=image_only, device="cpu")
    mixed = DetectionDataset([torch.rand(3, 8, 8), torch.rand(3, 8, 10)], [torch.zeros(0, 4)] * 2,
                             [torch.zeros(0, dtype=torch.int64)] * 2, ("a",), name="mixed")  # fmt: skip
    with pytest.raises(ConfigError, match=r"one size, but these come in 2 sizes \(3×8×8, 3×8×10\)"):
        make_loader(mixed, 2, shuffle=False, seed=0, augment=None, device="cpu")


def test_augmentation_is_drawn_from_seed_epoch_and_batch(shapes):
    augment = build_box_augment("translate:3,flip", input_size=32, mean=shapes.mean)
    loader = DetectionLoader(shapes, 16, seed=7, augment=augment, normalize=False)
    list(loader)
    batches = list(loader)  # epoch 1
    reference = DetectionLoader(shapes, 16, seed=7, normalize=False)
    reference.epoch = 1
    plain = list(reference)
    for position, (got, raw) in enumerate(zip(batches, plain, strict=True)):
        want = augment(raw.inputs, raw.boxes, raw.labels, generator(7, 1, position, 1))
        assert all(torch.equal(a, b) for a, b in zip((got.inputs, got.boxes, got.labels), want, strict=True))
    assert not torch.equal(batches[0].boxes, plain[0].boxes)  # it did move boxes
    again = DetectionLoader(shapes, 16, seed=7, augment=augment, normalize=False)
    again.epoch = 1
    assert all(torch.equal(a.boxes, b.boxes) for a, b in zip(again, batches, strict=True))


def test_flip_mirrors_boxes_and_twice_is_the_identity(shapes):
    images, boxes, labels = next(iter(DetectionLoader(shapes, 50, shuffle=False, normalize=False)))[:3]
    flip = build_box_augment("flip:1", input_size=32)
    x, b, lab = flip(images, boxes, labels, g())
    real = labels >= 0
    assert torch.equal(x, images.flip(-1)) and torch.equal(lab, labels)
    assert torch.equal(b[..., 0][real], 32 - boxes[..., 2][real]) and torch.equal(
        b[..., 2][real], 32 - boxes[..., 0][real]
    )
    assert torch.equal(b[..., 1::2], boxes[..., 1::2]) and (b[~real] == 0).all()
    # The content inside a flipped box is the mirrored content inside the original box.
    i, j = torch.nonzero(real)[0].tolist()
    x0, y0, x1, y1 = boxes[i, j].long().tolist()
    u0, _, u1, _ = b[i, j].long().tolist()
    assert torch.equal(x[i, :, y0:y1, u0:u1], images[i, :, y0:y1, x0:x1].flip(-1))
    twice = flip(x, b, lab, g())
    assert all(torch.equal(a, c) for a, c in zip(twice, (images, boxes, labels), strict=True))
    half = build_box_augment("flip", input_size=32)(images, boxes, labels, g(1))
    mirrored = torch.tensor([torch.equal(a, c.flip(-1)) for a, c in zip(half[0], images, strict=True)])
    assert 10 < int(mirrored.sum()) < 40  # p = 0.5 of 50
    assert torch.equal(half[1][mirrored], b[mirrored]) and torch.equal(half[1][~mirrored], boxes[~mirrored])


# ---------------------------------------------------------------------------------------------------------------
# Translate and crop against rendered shapes. At difficulty 0 a scene is a flat background with up to four shapes
# in their own cells, so a shape's pixels (coverage > 1/2, the generator's box rule) can be read back from the
# colours; `masks` does so, and is itself checked against the generator's boxes before it is trusted.


def masks(image: torch.Tensor, boxes: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
    """(M, H, W) pixel masks of the shapes of one flat-background scene, read from the colours."""
    h, w = image.shape[-2:]
    diff = image - image[:, :1, :1]  # (3, H, W): difference from the background (the corner pixel)
    out = torch.zeros(len(kinds), h, w, dtype=torch.bool)
    for j in torch.nonzero(kinds >= 0).flatten().tolist():
        x0, y0, x1, y1 = boxes[j].long().tolist()
        near = torch.zeros(h, w, dtype=torch.bool)
        near[max(y0 - 1, 0) : y1 + 1, max(x0 - 1, 0) : x1 + 1] = True  # a pixel wider than the box
        strength = (diff**2).sum(0).masked_fill(~near, -1)
        colour = diff.flatten(1)[:, strength.argmax()]  # the shape's colour minus the background
        alpha = (diff * colour.view(3, 1, 1)).sum(0) / (colour**2).sum()  # coverage of each pixel
        out[j] = near & (alpha > 0.5)
    return out


def shifted(x: torch.Tensor, dx: int, dy: int, fill=0) -> torch.Tensor:
    """x (..., H, W) moved by (dx, dy) by slicing: out[y, x] = x[y − dy, x − dx]."""
    h, w = x.shape[-2:]
    out = torch.full_like(x, fill) if not torch.is_tensor(fill) else fill.expand_as(x).clone()
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


@pytest.fixture(scope="module")
def scenes():
    s = generate_shapes(64, seed=0, difficulty=0.0, max_objects=4)
    shape_masks = torch.stack([masks(*sample) for sample in zip(s.images, s.boxes, s.kinds, strict=True)])
    trusted = torch.tensor([torch.equal(_bounds(m), b) for m, b in zip(shape_masks, s.boxes, strict=True)])
    assert int(trusted.sum()) >= 60  # the colour reading reproduces the generator's boxes
    return s, shape_masks, trusted


@pytest.mark.parametrize("spec", ["translate:16", "crop:16"])
def test_shift_moves_boxes_with_the_pixels_of_rendered_shapes(scenes, spec):
    s, shape_masks, trusted = scenes
    mean = (0.3, 0.5, 0.7)
    op = build_box_augment(spec, input_size=32, mean=mean, min_visible=0.0)
    x, boxes, labels = op(s.images, s.boxes, s.kinds, g(4))
    dx, dy = op.ops[0].draw(64, g(4))
    fill = torch.tensor(mean if spec.startswith("translate") else (0.0, 0.0, 0.0)).view(3, 1, 1)
    seen = {"inside": 0, "cut": 0, "gone": 0}
    for i in range(64):
        a, b = int(dx[i]), int(dy[i])
        assert torch.equal(x[i], shifted(s.images[i], a, b, fill))  # the pixels, moved by slicing
        if not trusted[i]:
            continue
        kept = []
        for j in torch.nonzero(s.kinds[i] >= 0).flatten().tolist():
            mask = shifted(shape_masks[i, j], a, b)  # the shape's pixels in the shifted scene
            if mask.sum() == shape_masks[i, j].sum():  # wholly inside: its box is the rendered box, moved
                kept.append((j, _bounds(mask[None])[0], "inside"))
            elif mask.any():  # cut at the border: the box contains what is left and reaches the border
                kept.append((j, _bounds(mask[None])[0], "cut"))
            else:
                original = s.boxes[i, j] + torch.tensor([a, b, a, b])
                if original[0] >= 32 or original[2] <= 0 or original[1] >= 32 or original[3] <= 0:
                    seen["gone"] += 1  # pushed fully outside: must be dropped (checked by the count below)
                else:
                    kept.append((j, None, "corner"))  # only empty corner of its box left: kept at min_visible 0
        assert labels[i].tolist() == [int(s.kinds[i, j]) for j, _, _ in kept] + [-1] * (4 - len(kept))
        assert (boxes[i, len(kept) :] == 0).all()
        for k, (j, tight, kind) in enumerate(kept):
            box = boxes[i, k]
            if kind == "inside":
                assert torch.equal(box, tight)
                x0, y0, x1, y1 = s.boxes[i, j].long().tolist()
                u0, v0, u1, v1 = box.long().tolist()
                assert torch.equal(x[i, :, v0:v1, u0:u1], s.images[i, :, y0:y1, x0:x1])  # same content inside
            else:
                moved = s.boxes[i, j] + torch.tensor([a, b, a, b])
                assert torch.equal(box, moved.clamp(0, 32))  # the moved box clipped at the border
                assert bool((box == 0).any() or (box == 32).any())
                if tight is not None:
                    assert (box[:2] <= tight[:2]).all() and (box[2:] >= tight[2:]).all()  # holds what is left
            seen[kind if kind != "corner" else "cut"] += 1
    assert seen["inside"] > 20 and seen["cut"] > 20 and seen["gone"] > 5  # every case happened


def test_crop_draws_the_same_window_as_the_image_crop(scenes):
    s, _, _ = scenes
    x, _, _ = build_box_augment("crop:4", input_size=32)(s.images, s.boxes, s.kinds, g(9))
    assert torch.equal(x, build_augment("crop:4", input_size=32)(s.images, g(9)))


def test_translate_shifts_stay_within_the_range_and_vary():
    op = build_box_augment("translate:3", input_size=32).ops[0]
    dx, dy = op.draw(2000, g())
    assert set(dx.tolist()) == set(dy.tolist()) == set(range(-3, 4))


def test_drop_rule_keeps_a_quarter_of_the_area_and_compacts():
    # Three 10×10 boxes moved partly out of a 32×32 image: 30 %, 20 % and 0 % of their area left inside.
    boxes = torch.tensor([[[-7.0, 0, 3, 10], [30, 5, 40, 15], [40, 40, 50, 50], [0, 0, 0, 0]]])
    labels = torch.tensor([[3, 1, 2, -1]])
    kept, kept_labels = clip_boxes(boxes, labels, (32, 32))
    assert kept_labels.tolist() == [[3, -1, -1, -1]] and kept[0, 0].tolist() == [0, 0, 3, 10]
    assert (kept[0, 1:] == 0).all()
    kept, kept_labels = clip_boxes(boxes, labels, (32, 32), min_visible=0.1)
    assert kept_labels.tolist() == [[3, 1, -1, -1]] and kept[0, 1].tolist() == [30, 5, 32, 15]
    kept, kept_labels = clip_boxes(boxes, labels, (32, 32), min_visible=0.0)
    assert kept_labels.tolist() == [[3, 1, -1, -1]]  # nothing left is dropped even at 0
    # A zero-area box survives while it lies inside the image.
    point = torch.tensor([[[5.0, 5, 5, 9], [33, 5, 33, 9]]])
    assert clip_boxes(point, torch.tensor([[0, 1]]), (32, 32))[1].tolist() == [[0, -1]]


def test_scale_matches_the_scene_rendered_at_another_size():
    small = generate_shapes(16, seed=2, difficulty=0.0, max_objects=4)
    large = generate_shapes(16, seed=2, difficulty=0.0, max_objects=4, image_size=64)
    # Halving the 64-pixel scene about its centre puts the 32-pixel scene in its middle 32×32 pixels.
    x, boxes, labels = zoom(large.images, large.boxes, large.kinds, torch.full((16,), 0.5), fill=(0.2, 0.4, 0.6))
    real = small.kinds >= 0
    assert torch.equal(labels, large.kinds)
    assert ((boxes - (small.boxes + 16))[real]).abs().max() <= 1  # rendering rounds boxes to whole pixels
    assert (x[:, :, 16:48, 16:48] - small.images).abs().mean() < 0.002  # one pixel's shift would be ~0.015
    assert torch.allclose(x[:, :, :8], torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1).expand(16, 3, 8, 64))
    same = zoom(small.images, small.boxes, small.kinds, torch.ones(16))
    assert torch.allclose(same[0], small.images, atol=1e-6) and torch.equal(same[1], small.boxes)


def test_augmented_boxes_stay_valid_inside_the_image(shapes):
    augment = build_box_augment("scale:0.7-1.4,translate:6,crop:4,flip", input_size=32, mean=shapes.mean)
    for batch in DetectionLoader(shapes, 25, seed=0, augment=augment):
        real = batch.labels >= 0
        b = batch.boxes
        assert (b[real][:, :2] <= b[real][:, 2:]).all() and (b >= 0).all() and (b <= 32).all()
        assert (b[~real] == 0).all()
        assert not (~real[:, :-1] & real[:, 1:]).any()  # objects first, then padding


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("cutout:8", r"unknown box augmentation 'cutout'.*flip\[:p=0.5\], translate.*crop.*scale"),
        ("flip,fl1p", r"did you mean 'flip'\?"),
        ("translate:x", "'x' is not an integer"),
        ("translate:32", r"1\.\.31 pixels"),
        ("scale:1.2-0.8", "0 < low ≤ high"),
        ("flip:2", r"\[0, 1\]"),
    ],
)
def test_bad_spec_is_one_clear_config_error(spec, match):
    with pytest.raises(ConfigError, match=match):
        build_box_augment(spec, input_size=32)


def test_none_specs_and_shape_checks():
    assert build_box_augment(None, input_size=32) is None and build_box_augment("none", input_size=32) is None
    with pytest.raises(ConfigError, match="min_visible"):
        build_box_augment("flip", input_size=32, min_visible=1.5)
    op = build_box_augment("flip", input_size=(3, 8, 8))
    with pytest.raises(ShapeError, match="8×8 images"):
        op(torch.rand(2, 3, 8, 9), torch.zeros(2, 1, 4), torch.zeros(2, 1, dtype=torch.int64), g())
    with pytest.raises(ShapeError, match="labels"):
        op(torch.rand(2, 3, 8, 8), torch.zeros(2, 1, 4), torch.zeros(2, 2, dtype=torch.int64), g())


def test_padding_by_slicing_reference_matches_torch_pad():
    x = torch.rand(2, 5, 6)
    assert torch.equal(shifted(x, 2, -1), F.pad(x, (2, 0, 0, 1))[:, 1:, :6])  # the test's own reference
