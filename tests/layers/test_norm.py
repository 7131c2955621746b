import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.layers import NORM_NAMES, ConvNormAct, LayerNorm2d, LinearNormAct, create_norm, weight_norm

EPS = 1e-5


def _standardize(x, dims):
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + EPS)


@pytest.fixture
def x():
    return torch.randn(4, 8, 5, 6, dtype=torch.float64) * 3 + 1


def test_batch_norm_uses_batch_statistics_per_channel(x):
    norm = create_norm("batch", 8).double().train()
    torch.testing.assert_close(norm(x), _standardize(x, (0, 2, 3)))


def test_batch_norm_1d_for_vectors():
    v = torch.randn(16, 5, dtype=torch.float64)
    norm = create_norm("batch", 5, dim=1).double()
    assert isinstance(norm, nn.BatchNorm1d)
    torch.testing.assert_close(norm(v), _standardize(v, (0,)))


def test_layer_norm_over_c_h_w_of_each_sample(x):
    norm = create_norm("layer", 8).double()
    assert isinstance(norm, LayerNorm2d)
    torch.testing.assert_close(norm(x), _standardize(x, (1, 2, 3)))
    torch.testing.assert_close(norm(x), F.layer_norm(x, x.shape[1:], eps=EPS))
    # Not tied to one spatial size.
    y = torch.randn(2, 8, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(norm(y), F.layer_norm(y, y.shape[1:], eps=EPS))


def test_layer_norm_for_vectors():
    v = torch.randn(3, 7, dtype=torch.float64)
    torch.testing.assert_close(create_norm("layer", 7, dim=1).double()(v), _standardize(v, (1,)))


def test_instance_norm_over_h_w_of_each_sample_and_channel(x):
    norm = create_norm("instance", 8).double()
    assert norm.affine
    torch.testing.assert_close(norm(x), _standardize(x, (2, 3)))


def test_group_norm_explicit_groups(x):
    norm = create_norm("group:2", 8).double()
    assert norm.num_groups == 2
    grouped = x.reshape(4, 2, 4, 5, 6)  # (N, G, C/G, H, W)
    expected = _standardize(grouped, (2, 3, 4)).reshape_as(x)
    torch.testing.assert_close(norm(x), expected)


@pytest.mark.parametrize(("channels", "groups"), [(6, 6), (16, 16), (64, 32), (96, 32), (48, 24), (1, 1)])
def test_group_norm_default_groups_are_the_largest_divisor_up_to_32(channels, groups):
    assert create_norm("group", channels).num_groups == groups


def test_group_norm_rejects_groups_that_do_not_divide():
    with pytest.raises(ConfigError, match="cannot split 8 channels"):
        create_norm("group:3", 8)


def test_none_and_unknown():
    assert create_norm(None, 8) is None
    assert create_norm("none", 8) is None
    with pytest.raises(ValueError, match=r"unknown norm 'batchnorm'.*did you mean 'batch'"):
        create_norm("batchnorm", 8)
    with pytest.raises(ConfigError, match="takes no parameter"):
        create_norm("batch:3", 8)
    with pytest.raises(ConfigError, match="feature vector has no H, W"):
        create_norm("instance", 8, dim=1)


def test_every_layer_name_builds():
    for name in NORM_NAMES:
        if name in ("weight", "none"):
            continue
        assert isinstance(create_norm(name, 8), nn.Module)


def test_weight_norm_is_not_a_layer():
    with pytest.raises(ConfigError, match="re-parametrizes a conv or linear weight"):
        create_norm("weight", 8)


def test_weight_norm_reparametrizes_the_conv():
    unit = ConvNormAct(3, 4, 3, norm="weight", act=None)
    assert list(dict(unit.named_children())) == ["conv"]  # no norm layer
    conv = unit.conv
    assert conv.bias is not None  # nothing after the conv shifts its output
    g = conv.parametrizations.weight.original0
    v = conv.parametrizations.weight.original1
    assert g.shape == (4, 1, 1, 1)
    expected = g * v / torch.linalg.vector_norm(v, dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(conv.weight, expected)
    # The gradient reaches g and v, not a plain weight.
    unit(torch.randn(2, 3, 5, 5)).sum().backward()
    assert g.grad is not None and v.grad is not None


def test_weight_norm_on_linear():
    unit = LinearNormAct(6, 3, norm="weight")
    g = unit.fc.parametrizations.weight.original0
    assert g.shape == (3, 1)
    layer = weight_norm(nn.Linear(4, 2))
    assert hasattr(layer, "parametrizations")


def test_callable_norm():
    norm = create_norm(lambda c: nn.GroupNorm(2, c), 8)
    assert isinstance(norm, nn.GroupNorm) and norm.num_groups == 2
