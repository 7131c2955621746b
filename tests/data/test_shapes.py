import hashlib
import subprocess
import sys

import pytest
import torch

from cnnlab.data import channel_stats, generate_shapes, load_dataset
from cnnlab.data.shapes import CHUNK, CLASSES
from cnnlab.errors import ConfigError

SMALL = {"n_train": 300, "n_test": 100}


def digest(images: torch.Tensor) -> str:
    return hashlib.sha256(images.numpy().tobytes()).hexdigest()


def test_same_seed_same_images_in_another_process():
    here = digest(generate_shapes(40, seed=3, difficulty=0.7).images)
    code = "from cnnlab.data import generate_shapes; import hashlib; " + (
        "print(hashlib.sha256(generate_shapes(40, seed=3, difficulty=0.7).images.numpy().tobytes()).hexdigest())"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert there == here
    assert digest(generate_shapes(40, seed=4, difficulty=0.7).images) != here


def test_sample_i_does_not_depend_on_how_many_are_drawn():
    many = generate_shapes(CHUNK + 20, seed=1)
    few = generate_shapes(7, seed=1)
    assert torch.equal(many.images[:7], few.images) and torch.equal(many.kinds[:7], few.kinds)
    assert not torch.equal(many.images[CHUNK : CHUNK + 7], few.images)  # the next chunk is a new draw


def test_images_are_8_bit_rgb_and_classes_balanced():
    scenes = generate_shapes(2000, seed=0)
    x = scenes.images
    assert x.shape == (2000, 3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1
    assert torch.equal(torch.round(x * 255), x * 255)  # multiples of 1/255: PNG round trips are exact
    counts = torch.bincount(scenes.kinds[:, 0], minlength=len(CLASSES))
    assert counts.min() > 150 and counts.max() < 250  # uniform over 10 classes: 200 ± sampling noise


def roughness(images: torch.Tensor) -> float:
    """Share of horizontally neighbouring pixel values that differ."""
    return (images[..., 1:] != images[..., :-1]).float().mean().item()


def test_difficulty_morphs_the_same_scenes():
    easy, hard = generate_shapes(64, difficulty=0.0), generate_shapes(64, difficulty=1.0)
    assert torch.equal(easy.kinds, hard.kinds)
    # harder: noise and strokes make neighbouring pixels differ far more often
    assert roughness(hard.images) > 2 * roughness(easy.images)
    # the easy images have a flat background: the corner pixels of an image are all equal
    corners = easy.images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert torch.equal(corners, corners[:, :, :1].expand_as(corners))


def test_boxes_are_tight_around_the_shape():
    """At difficulty 0 (flat background, no noise or strokes) a pixel's difference from the background is
    coverage × the shape's contrast, so coverage > 0.5 can be read off the image and compared with the box."""
    scenes = generate_shapes(200, difficulty=0.0)
    for image, box in zip(scenes.images, scenes.boxes[:, 0], strict=True):
        diff = (image - image[:, :1, :1]).abs().amax(dim=0)  # (H, W): the corner is background
        full = diff.max()
        inside = torch.zeros_like(diff, dtype=torch.bool)
        x0, y0, x1, y1 = box.int().tolist()
        inside[y0:y1, x0:x1] = True
        assert not (diff > 0.55 * full)[~inside].any()  # nothing clearly covered lies outside
        edge = diff > 0.45 * full
        assert edge[y0].any() and edge[y1 - 1].any() and edge[:, x0].any() and edge[:, x1 - 1].any()


def test_three_tasks_from_one_generator():
    ml = load_dataset("shapes", "test", task="multilabel", **SMALL)
    det = load_dataset("shapes", "test", task="detection", **SMALL)
    assert ml.targets.shape == (100, 10) and ml.targets.dtype == torch.float32
    assert torch.equal(ml.images, det.images)
    for target, labels in zip(ml.targets, det.labels, strict=True):
        assert 1 <= len(labels) <= 4
        assert torch.equal(torch.nonzero(target).flatten(), labels.unique())
    assert {len(b) for b in det.boxes} == {1, 2, 3, 4}
    cls = load_dataset("shapes", "test", **SMALL)
    assert cls.targets.dtype == torch.int64 and cls.targets.shape == (100,)


def test_every_split_uses_the_training_statistics():
    train = load_dataset("shapes", "train", **SMALL)
    test = load_dataset("shapes", "test", **SMALL)
    assert train.mean == test.mean == channel_stats(train.images)[0]
    assert train.std == test.std
    assert not torch.equal(train.images[:100], test.images)  # independent streams


def test_bad_options():
    with pytest.raises(ConfigError, match=r"difficulty must lie in \[0, 1\]"):
        load_dataset("shapes", difficulty=1.5, **SMALL)
    with pytest.raises(ConfigError, match="did you mean 'detection'"):
        load_dataset("shapes", task="detecton", **SMALL)
    with pytest.raises(ConfigError, match="task='multilabel'"):
        load_dataset("shapes", max_objects=3, **SMALL)
    with pytest.raises(ConfigError, match="did you mean 'difficulty'"):
        load_dataset("shapes", difficulty_level=1)


def test_a_test_split_loaded_after_its_training_split_reuses_its_statistics(monkeypatch):
    # The test split is normalized with the training split's channel statistics. Loading the training split first,
    # as a run does, keeps them, so that the training images are not generated a second time (about 3 s of the
    # default 10,000); the test images are the same either way.
    from cnnlab.data import dataset, shapes

    kw = {"n_train": 300, "n_test": 50, "seed": 7}
    dataset._TRAIN_STATS.clear()
    alone = load_dataset("shapes", "test", **kw)
    dataset._TRAIN_STATS.clear()
    load_dataset("shapes", "train", **kw)
    generated, real = [], shapes.generate_shapes
    monkeypatch.setattr(shapes, "generate_shapes", lambda n, **k: generated.append(k["split"]) or real(n, **k))
    after = load_dataset("shapes", "test", **kw)
    assert generated == [shapes.SPLITS["test"]]  # the test images only
    assert torch.equal(after.images, alone.images) and (after.mean, after.std) == (alone.mean, alone.std)
