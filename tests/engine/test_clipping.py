"""The flat gradient buffer against PyTorch's own per-parameter gradients, and clipping against torch.nn.utils."""

import copy
import re

import pytest
import torch
from torch import nn

from cnnlab import create
from cnnlab.engine import TrainConfig
from cnnlab.engine.clipping import GradientBuffer, _dense, grad_norm, make_clip
from cnnlab.errors import ConfigError


def model_and_batch():
    torch.manual_seed(0)
    model = create("small_cnn", num_classes=5, input_size=16, norm="batch").to(memory_format=torch.channels_last)
    x = torch.randn(8, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    return model, x, torch.randint(0, 5, (8,))


def backward(model, x, y):
    nn.functional.cross_entropy(model(x), y).backward()


def test_buffer_gradients_are_pytorchs_in_the_parameters_layout():
    ours, x, y = model_and_batch()
    theirs = copy.deepcopy(ours)
    params = list(ours.parameters())
    buffer = GradientBuffer(params)
    assert any(p.dim() == 4 and not p.is_contiguous() for p in params)  # channels_last weights are covered
    for _ in range(2):  # the second step shows the zeroing: accumulating would double the gradients
        buffer.zero_()
        backward(ours, x, y)
        for p in theirs.parameters():
            p.grad = None
        backward(theirs, x, y)
        for p, q in zip(params, theirs.parameters(), strict=True):
            assert torch.equal(p.grad, q.grad)
            assert p.grad.stride() == p.stride() == q.grad.stride()
            assert p.grad.untyped_storage().data_ptr() == buffer.flat.untyped_storage().data_ptr()
        torch.testing.assert_close(buffer.norm(), grad_norm(list(theirs.parameters())), rtol=1e-6, atol=0)
    assert buffer.flat.numel() == sum(p.numel() for p in params)


def test_a_replaced_gradient_is_seen_and_the_views_come_back():
    model, x, y = model_and_batch()
    params = list(model.parameters())
    buffer = GradientBuffer(params)
    optimizer = torch.optim.SGD(params, lr=0.1)
    buffer.zero_()
    backward(model, x, y)
    params[0].grad = params[0].grad * 10  # a callback rescales one gradient out of place
    torch.testing.assert_close(buffer.norm(), grad_norm(params), rtol=0, atol=0)
    optimizer.zero_grad(set_to_none=True)  # fresh gradient tensors from here on
    backward(model, x, y)
    assert buffer.norm().item() == grad_norm(params).item()
    buffer.zero_()
    assert all(p.grad is view for p, view in zip(params, buffer.views, strict=True))
    assert buffer.norm().item() == 0.0


def test_one_buffer_needs_one_device_dtype_and_dense_parameters():
    conv = nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
    assert GradientBuffer.supports(list(conv.parameters()))
    assert not GradientBuffer.supports([])
    assert not GradientBuffer.supports(
        [nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2, dtype=torch.float64))]
    )
    assert not GradientBuffer.supports([nn.Parameter(torch.zeros(4, 6)[:, ::2])])
    assert _dense(torch.zeros(4, 6).t()) and _dense(torch.zeros(2, 1, 3)[:, :, :])
    assert not _dense(torch.zeros(4, 1).expand(4, 3)) and not _dense(torch.zeros(4, 6)[1:3, 1:])


@pytest.mark.parametrize("clip", [{"clip_norm": 0.05}, {"clip_value": 0.01}, {}])
def test_clipping_through_the_buffer_matches_torch(clip):
    ours, x, y = model_and_batch()
    theirs = copy.deepcopy(ours)
    buffer = GradientBuffer(list(ours.parameters()))
    buffer.zero_()
    backward(ours, x, y)
    backward(theirs, x, y)
    norm = make_clip(TrainConfig(**clip), buffer)()
    their_params = list(theirs.parameters())
    if "clip_norm" in clip:
        their_norm = nn.utils.clip_grad_norm_(their_params, clip["clip_norm"])
    else:
        their_norm = grad_norm(their_params)
        if "clip_value" in clip:
            nn.utils.clip_grad_value_(their_params, clip["clip_value"])
    torch.testing.assert_close(norm, their_norm, rtol=1e-6, atol=0)
    assert norm.item() > 0.05  # so that clipping by norm rescales
    for p, q in zip(ours.parameters(), their_params, strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    ("clip", "message"),
    [
        ({"clip_norm": 0.0}, "--clip-norm must be positive, got 0.0"),
        ({"clip_value": -1.0}, "--clip-value must be positive, got -1.0"),
        ({"clip_norm": 1.0, "clip_value": 1.0}, "choose one of --clip-norm and --clip-value"),
    ],
)
def test_clipping_limits_are_checked(clip, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_clip(TrainConfig(**clip), [nn.Parameter(torch.zeros(2))])
