import pytest
import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError, ShapeError
from cnnlab.layers import Add, ClassifierHead, Concat, GlobalPool2d, Upsample, create_pool


def test_concat_stacks_channels_as_in_the_note():
    a, b = torch.randn(2, 16, 8, 8), torch.randn(2, 16, 8, 8)
    out = Concat()([a, b])
    assert out.shape == (2, 32, 8, 8)  # 8×8×16 with 8×8×16 gives 8×8×32
    assert torch.equal(out[:, :16], a) and torch.equal(out[:, 16:], b)


def test_concat_mismatched_spatial_size_is_a_clear_error():
    with pytest.raises(ShapeError, match=r"input 1 differs: got 2×16×8×8, 2×16×4×4"):
        Concat()([torch.randn(2, 16, 8, 8), torch.randn(2, 16, 4, 4)])
    with pytest.raises(ShapeError, match="at least one"):
        Concat()([])


def test_add_is_elementwise_and_checks_shapes():
    a, b = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    assert torch.equal(Add()(a, b), a + b)
    with pytest.raises(ShapeError, match="2×4×3×3 and 2×8×3×3"):
        Add()(a, torch.randn(2, 8, 3, 3))


def test_upsample_nearest_repeats_pixels():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    out = Upsample(scale_factor=2)(x)
    assert torch.equal(out, x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))


def test_upsample_bilinear_to_size():
    x = torch.randn(1, 3, 4, 5)
    out = Upsample(size=(8, 9), mode="bilinear")(x)
    assert out.shape == (1, 3, 8, 9)
    assert torch.equal(out, F.interpolate(x, size=(8, 9), mode="bilinear", align_corners=False))


def test_upsample_arguments_are_checked():
    with pytest.raises(ConfigError, match="exactly one"):
        Upsample()
    with pytest.raises(ConfigError, match="exactly one"):
        Upsample(scale_factor=2, size=4)
    with pytest.raises(ConfigError, match="unknown upsampling mode 'cubic'"):
        Upsample(2, mode="cubic")
    with pytest.raises(ShapeError):
        Upsample(2)(torch.randn(3, 4))


def test_pooling():
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(create_pool("max", 2)(x), F.max_pool2d(x, 2))
    torch.testing.assert_close(create_pool("avg", 2)(x), F.avg_pool2d(x, 2))
    torch.testing.assert_close(GlobalPool2d("avg")(x), x.mean(dim=(2, 3)))
    assert torch.equal(GlobalPool2d("max", flatten=False)(x), F.adaptive_max_pool2d(x, 1))
    with pytest.raises(ConfigError, match="unknown pooling 'min'"):
        create_pool("min", 2)


def test_classifier_head_layout_and_size():
    head = ClassifierHead(256 * 6 * 6, 1000, hidden=(4096, 4096), pool=6, dropout=0.5)
    n_params = sum(p.numel() for p in head.parameters())
    assert n_params == (9216 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert head(torch.randn(2, 256, 13, 13)).shape == (2, 1000)
    head.eval()
    x = torch.randn(2, 256, 6, 6)
    assert torch.equal(head(x), head(x))  # dropout is off in eval mode


def test_classifier_head_global_pool_then_fc():
    head = ClassifierHead(8, 3, pool="avg")
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(head(x), F.linear(x.mean(dim=(2, 3)), head.fc.weight, head.fc.bias))


def test_classifier_head_checks_arguments():
    with pytest.raises(ConfigError, match="num_classes"):
        ClassifierHead(8, 0)
    with pytest.raises(ConfigError, match="dropout"):
        ClassifierHead(8, 2, dropout=1.0)
