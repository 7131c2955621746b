import pytest
import torch
import torch.nn.functional as F

from cnnlab.data import TensorLoader, build_augment, load_digits
from cnnlab.errors import ConfigError, ShapeError


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def windows(x, pad, mode):
    """Every H×W window of x padded by `pad` (brute force): (offsets, images)."""
    h, w = x.shape[-2:]
    padded = F.pad(x.unsqueeze(0), (pad, pad, pad, pad), mode=mode)[0]
    return [padded[:, t : t + h, s : s + w] for t in range(2 * pad + 1) for s in range(2 * pad + 1)]


@pytest.mark.parametrize(("spec", "mode"), [("crop:3", "constant"), ("translate:2", "reflect")])
def test_crop_and_translate_take_a_window_of_the_padded_image(spec, mode):
    x = torch.rand(16, 3, 10, 12)
    y = build_augment(spec, input_size=(3, 10, 12))(x, g())
    pad = int(spec.split(":")[1])
    assert y.shape == x.shape
    hits = [sum(torch.equal(out, win) for win in windows(img, pad, mode)) for img, out in zip(x, y, strict=True)]
    assert all(h >= 1 for h in hits)
    assert sum(not torch.equal(a, b) for a, b in zip(x, y, strict=True)) > 8  # most samples moved


def test_crop_matches_a_per_sample_reference_with_the_same_draws():
    x = torch.rand(8, 2, 6, 6)
    y = build_augment("crop:2", input_size=6)(x, g(5))
    ref = g(5)
    top, left = torch.randint(0, 5, (8,), generator=ref), torch.randint(0, 5, (8,), generator=ref)
    padded = F.pad(x, (2, 2, 2, 2))
    for b in range(8):
        assert torch.equal(y[b], padded[b, :, top[b] : top[b] + 6, left[b] : left[b] + 6])


def test_flip_mirrors_about_half_of_the_batch():
    x = torch.rand(1000, 1, 4, 5)
    y = build_augment("flip", input_size=(4, 5))(x, g())
    flipped = torch.tensor([torch.equal(a, b.flip(-1)) for a, b in zip(y, x, strict=True)])
    kept = torch.tensor([torch.equal(a, b) for a, b in zip(y, x, strict=True)])
    assert torch.all(flipped | kept)
    assert 430 < int(flipped.sum()) < 570  # Binomial(1000, 0.5): ±4.4 standard deviations
    assert torch.equal(build_augment("flip:1", input_size=(4, 5))(x, g()), x.flip(-1))
    assert torch.equal(build_augment("flip:0", input_size=(4, 5))(x, g()), x)


def test_cutout_blanks_a_clipped_square_with_the_fill():
    x = torch.rand(64, 3, 16, 16) + 1  # values in [1, 2): the fill is easy to spot
    y = build_augment("cutout:6", input_size=16, mean=(0.1, 0.2, 0.3))(x, g())
    for img in y:
        hole = img[0] == 0.1
        rows, cols = torch.nonzero(hole.any(1)).flatten(), torch.nonzero(hole.any(0)).flatten()
        assert 3 <= len(rows) <= 6 and 3 <= len(cols) <= 6  # a 6×6 square, clipped by at most half at the border
        assert hole[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()  # a solid rectangle
        assert int(hole.sum()) == len(rows) * len(cols)
        assert torch.all(img[1][hole] == 0.2) and torch.all(img[2][hole] == 0.3)


def test_cutout_with_the_mean_is_zero_after_normalization():
    data = load_digits()
    aug = build_augment("cutout:4", input_size=8, mean=data.mean)
    batch = next(iter(TensorLoader(data, 64, seed=0, augment=aug)))
    zeros = (batch.inputs == 0).flatten(1).sum(1)  # no digit pixel equals the mean, so zeros are the hole
    assert zeros.min() >= 4 and zeros.max() <= 16  # a 4×4 square, clipped to at least 2×2 at a corner
    assert (zeros == 16).sum() > 16  # most squares lie inside the image


def test_draws_are_the_same_on_any_device():
    """Parameters are drawn on the CPU before touching the batch: a batch on another device consumes the same
    random numbers ('meta' tensors hold no data, so only the draws can be compared)."""
    aug = build_augment("crop:4,flip,translate:2,cutout:8", input_size=(3, 32, 32))
    a, b = g(3), g(3)
    out = aug(torch.empty(5, 3, 32, 32, device="meta"), a)
    aug(torch.rand(5, 3, 32, 32), b)
    assert out.device.type == "meta" and out.shape == (5, 3, 32, 32)
    assert torch.equal(a.get_state(), b.get_state())


def test_same_generator_same_output():
    aug = build_augment(["crop:4", "flip", "cutout:8"], input_size=32)
    x = torch.rand(32, 3, 32, 32)
    assert torch.equal(aug(x, g(1)), aug(x, g(1)))
    assert not torch.equal(aug(x, g(1)), aug(x, g(2)))


def test_specs_and_errors():
    assert repr(build_augment("crop:4, flip ,translate:2,cutout:8", input_size=32)) == (
        "crop:4,flip:0.5,translate:2,cutout:8"
    )
    assert repr(build_augment(["crop", "cutout"], input_size=32)) == "crop:4,cutout:8"
    for empty in (None, "", "none", []):
        assert build_augment(empty, input_size=32) is None
    with pytest.raises(ConfigError, match="did you mean 'flip'"):
        build_augment("flipp", input_size=32)
    with pytest.raises(ConfigError, match="'x' is not an integer"):
        build_augment("crop:x", input_size=32)
    with pytest.raises(ConfigError, match=r"1\.\.7"):
        build_augment("translate:8", input_size=8)
    with pytest.raises(ConfigError, match=r"1\.\.8"):
        build_augment("cutout:9", input_size=8)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        build_augment("flip:2", input_size=8)
    with pytest.raises(ShapeError, match="built for 32×32 images, got a batch of 4×3×28×28"):
        build_augment("flip", input_size=32)(torch.zeros(4, 3, 28, 28), g())
