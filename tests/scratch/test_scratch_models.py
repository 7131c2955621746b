"""Scratch models mirror their PyTorch twins: same names and shapes, same outputs, same gradients, same errors."""

import inspect
import re

import numpy as np
import pytest
import torch
from scratch_oracle import check_layer
from torch.func import functional_call

import cnnlab
from cnnlab.data import load_digits
from cnnlab.errors import ConfigError, ShapeError
from cnnlab.layers import Linear as TorchLinear
from cnnlab.scratch import Conv2d, Linear, input_grad_off
from cnnlab.scratch import models as scratch_models
from cnnlab.scratch.models import SCRATCH_MODELS, build_scratch_model
from cnnlab.scratch.torch_bridge import load_torch_state_dict, to_torch, to_torch_state_dict
from cnnlab.scratch.train import evaluate

CONFIGS = [
    ("lenet5", {"input_size": 8}),  # the classic tanh / average pooling, 8×8 digits padded to 32×32
    ("lenet5", {"input_size": 8, "act": "relu", "pool": "max"}),
    ("lenet5", {"input_size": 28, "act": "sigmoid", "norm": "batch", "dropout": 0.3}),
    ("lenet5", {"input_size": 8, "act": "leaky_relu:0.1", "norm": "group"}),
    ("lenet5", {"input_size": 32, "in_channels": 3, "num_classes": 4, "norm": "layer"}),
    ("lenet5", {"input_size": 8, "norm": "instance"}),
    ("mlp", {"input_size": 8, "depth": 2, "width": 32}),
    ("mlp", {"input_size": 8, "depth": 3, "width": 16, "act": "tanh", "norm": "batch", "dropout": 0.2}),
    ("mlp", {"input_size": 8, "depth": 1, "width": 12, "norm": "layer"}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CONFIGS]


@pytest.mark.parametrize(("name", "config"), CONFIGS, ids=IDS)
def test_state_dict_mirrors_the_torch_twin(name, config):
    model = build_scratch_model(name, **config)
    twin = cnnlab.create(name, **config)
    ours = {k: tuple(v.shape) for k, v in to_torch_state_dict(model).items()}
    assert ours == {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    twin.load_state_dict(to_torch_state_dict(model), strict=True)


@pytest.mark.parametrize(("name", "config"), CONFIGS, ids=IDS)
def test_outputs_and_every_gradient_equal_the_twin_in_float64(name, config):
    model = build_scratch_model(name, dtype=np.float64, seed=3, **config)
    twin = to_torch(model)
    for layer in (model, twin):
        layer.eval() if "dropout" in config else layer.train()  # dropout masks differ: compare it in eval mode
    x = np.random.default_rng(4).normal(size=(4, *model.input_size))
    buffers = dict(twin.named_buffers())
    check_layer(model, x, lambda x, p: functional_call(twin, {**p, **buffers}, (x,)), finite_differences=False)


def test_batch_norm_running_statistics_follow_the_twin():
    model = build_scratch_model("lenet5", input_size=8, norm="batch", dtype=np.float64)
    twin = to_torch(model)
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.normal(size=(6, 1, 8, 8))
        model.forward(x)
        twin(torch.from_numpy(x))
    for key, value in twin.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key], value.numpy(), rtol=1e-12, atol=1e-15, err_msg=key)
    model.eval(), twin.eval()
    x = rng.normal(size=(2, 1, 8, 8))
    np.testing.assert_allclose(model.forward(x), twin(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_float32_model_and_twin_agree_within_1e_6():
    model = build_scratch_model("lenet5", input_size=8, seed=7)
    twin = cnnlab.create("lenet5", input_size=8)
    twin.load_state_dict(to_torch_state_dict(model), strict=True)
    x = np.random.default_rng(8).normal(size=(16, 1, 8, 8)).astype(np.float32)
    y = model.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, twin(torch.from_numpy(x)).detach().numpy(), rtol=0, atol=1e-6)


def test_weights_come_back_from_torch():
    twin = cnnlab.create("lenet5", input_size=8, act="relu", pool="max")
    model = build_scratch_model("lenet5", input_size=8, act="relu", pool="max", seed=1)
    load_torch_state_dict(model, twin.state_dict())
    x = np.random.default_rng(9).normal(size=(3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(model.forward(x), twin(torch.from_numpy(x)).detach().numpy(), atol=1e-6)
    with pytest.raises(ConfigError, match=re.escape("missing ['head.fc.bias']")):
        load_torch_state_dict(model, {k: v for k, v in twin.state_dict().items() if k != "head.fc.bias"})


def test_init_is_seeded_and_follows_pytorch_bounds():
    a, b = build_scratch_model("lenet5", seed=1), build_scratch_model("lenet5", seed=1)
    assert all(np.array_equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    c = build_scratch_model("lenet5", seed=2)
    assert not np.array_equal(a.state_dict()["head.fc.weight"], c.state_dict()["head.fc.weight"])
    weight = a.state_dict()["features.c3.conv.weight"]  # fan_in 6·5·5 = 150: U(−1/√150, 1/√150)
    assert np.abs(weight).max() <= 1 / np.sqrt(150) and np.abs(weight).max() > 0.9 / np.sqrt(150)


def test_conv_channel_error_is_the_torch_layers_error():
    x = np.zeros((2, 3, 8, 8), dtype=np.float32)
    with pytest.raises(ShapeError) as ours:
        build_scratch_model("lenet5", input_size=8).forward(x)
    with pytest.raises(ShapeError) as theirs:
        cnnlab.create("lenet5", input_size=8)(torch.from_numpy(x))
    assert str(ours.value) == str(theirs.value)
    assert str(ours.value).startswith("layer 'features.c1.conv' (Conv2d 1→6, 5×5): each of its 6 kernels has 1")


def test_linear_feature_error_is_the_torch_layers_error():
    x = np.zeros((2, 7), dtype=np.float32)
    with pytest.raises(ShapeError) as ours:
        Linear(5, 3).forward(x)
    with pytest.raises(ShapeError) as theirs:
        TorchLinear(5, 3)(torch.from_numpy(x))
    assert str(ours.value) == str(theirs.value)


def test_other_shape_errors_are_specific():
    with pytest.raises(ShapeError, match="expects a batch of feature maps \\(N, C, H, W\\), got shape 3×8×8"):
        Conv2d(3, 4, 3).forward(np.zeros((3, 8, 8)))
    with pytest.raises(ShapeError, match="the input's 2×2 map \\(padded to 2×2\\) is smaller than the 3×3 window"):
        Conv2d(1, 1, 3).forward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ShapeError, match="model was built for 1×28×28 images but digits/test holds 1×8×8 images"):
        evaluate(build_scratch_model("mlp", input_size=28), load_digits("test"))
    with pytest.raises(ShapeError, match="the model has 5 outputs but digits/test has 10 classes"):
        evaluate(build_scratch_model("mlp", input_size=8, num_classes=5), load_digits("test"))


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("lenet7", {}, "unknown scratch model 'lenet7'; did you mean 'lenet5'?"),
        ("lenet5", {"widht": 3}, "model 'lenet5' takes no argument 'widht'"),
        ("lenet5", {"act": "gelu"}, "unknown activation (NumPy reference) 'gelu'"),
        ("lenet5", {"input_size": 9}, "lenet5 zero-pads images smaller than 32×32 evenly"),
        ("mlp", {"norm": "instance"}, "instance norm needs feature maps"),
    ],
)
def test_bad_model_arguments(name, kwargs, message):
    with pytest.raises(ConfigError) as info:
        build_scratch_model(name, **kwargs)
    assert message in str(info.value)


def test_input_grad_off_skips_only_the_input_gradient_and_is_restored():
    model = build_scratch_model("lenet5", input_size=8, dtype=np.float64)
    x = np.random.default_rng(10).normal(size=(2, 1, 8, 8))
    dy = np.ones((2, 10))
    model.forward(x)
    dx = model.backward(dy)
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    with input_grad_off(model):
        model.forward(x)
        assert model.backward(dy) is None
    assert all(np.array_equal(p.grad, grads[name]) for name, p in model.named_parameters())
    model.forward(x)
    np.testing.assert_array_equal(model.backward(dy), dx)


@pytest.mark.parametrize("name", SCRATCH_MODELS)
def test_builders_take_the_zoo_arguments_with_the_zoo_defaults(name):
    def defaults(fn):
        return {k: p.default for k, p in inspect.signature(fn).parameters.items() if k not in ("seed", "dtype")}

    assert defaults(getattr(scratch_models, name)) == defaults(type(cnnlab.create(name)))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("lenet5", {"input_size": 9}),
        ("lenet5", {"input_size": (28, 32)}),
        ("lenet5", {"num_classes": 0}),
        ("lenet5", {"dropout": 1.0}),
        ("lenet5", {"norm": "group:4"}),
        ("lenet5", {"pool": "lp"}),
        ("mlp", {"in_channels": 0}),
        ("mlp", {"input_size": 0}),
        ("mlp", {"norm": "instance"}),
        ("mlp", {"widht": 3}),
    ],
)
def test_bad_arguments_fail_as_the_zoo_fails(name, kwargs):
    with pytest.raises(ConfigError) as ours:
        build_scratch_model(name, **kwargs)
    with pytest.raises(ConfigError) as theirs:
        cnnlab.create(name, **kwargs)
    assert str(ours.value).replace(" (NumPy reference)", "") == str(theirs.value)


def test_residual_mlp_is_refused_rather_than_built_plain():
    with pytest.raises(ConfigError, match=re.escape("residual=True needs the torch engine")):
        build_scratch_model("mlp", residual=True)
