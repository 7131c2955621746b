import pytest
import torch
from torch import nn

from cnnlab.layers import Flatten, GlobalPool2d, ZeroPadShortcut

CL = torch.channels_last


def test_global_average_pool_is_the_mean_and_global_max_the_max():
    x = torch.randn(3, 5, 7, 6)
    torch.testing.assert_close(GlobalPool2d("avg")(x), x.mean(dim=(-2, -1)), rtol=0, atol=1e-6)
    assert torch.equal(GlobalPool2d("max")(x), x.amax(dim=(-2, -1)))
    assert GlobalPool2d("avg", flatten=False)(x).shape == (3, 5, 1, 1)


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_global_pool_hands_back_a_channels_last_gradient(kind):
    x = torch.randn(2, 4, 5, 5).contiguous(memory_format=CL).requires_grad_()
    y = torch.relu(x)
    seen = {}
    y.register_hook(lambda g: seen.setdefault("grad", g))
    GlobalPool2d(kind)(y).sum().backward()
    assert seen["grad"].is_contiguous(memory_format=CL)
    reference = x.detach().clone().requires_grad_()
    pooled = torch.relu(reference)
    (pooled.mean(dim=(-2, -1)) if kind == "avg" else pooled.amax(dim=(-2, -1))).sum().backward()
    torch.testing.assert_close(x.grad, reference.grad, rtol=0, atol=1e-7)


def test_flatten_matches_nn_flatten_values_and_gradients_in_both_layouts():
    base = torch.randn(3, 4, 5, 6)
    for fmt in (torch.contiguous_format, CL):
        ours = base.clone().contiguous(memory_format=fmt).requires_grad_()
        theirs = base.clone().requires_grad_()
        weight = torch.randn(4 * 5 * 6, 2)
        out_ours, out_theirs = Flatten()(ours), nn.Flatten(1)(theirs)
        assert torch.equal(out_ours, out_theirs)
        (out_ours @ weight).sum().backward()
        (out_theirs @ weight).sum().backward()
        assert torch.equal(ours.grad, theirs.grad)
        assert ours.grad.is_contiguous(memory_format=fmt)


def test_flatten_of_channels_last_gives_a_channels_last_gradient_to_the_layer_before():
    x = torch.randn(2, 3, 4, 4).contiguous(memory_format=CL).requires_grad_()
    y = torch.relu(x)
    seen = {}
    y.register_hook(lambda g: seen.setdefault("grad", g))
    Flatten()(y).sum().backward()
    assert seen["grad"].is_contiguous(memory_format=CL) and not seen["grad"].is_contiguous()


@pytest.mark.parametrize("size", [8, 7])
def test_zero_pad_shortcut_subsamples_exactly_like_slicing(size):
    x = torch.randn(2, 3, size, size)
    out = ZeroPadShortcut(3, 5, 2)(x)
    assert torch.equal(out[:, :3], x[:, :, ::2, ::2])
    assert torch.equal(out[:, 3:], torch.zeros(2, 2, *x[:, :, ::2, ::2].shape[-2:]))
