"""Every registered model, parametrized over list_models(): a new model is tested the moment it is registered."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, ShapeError
from cnnlab.layers import Add
from cnnlab.models import GoogLeNetOutputs, create, list_models, model_kwargs

MODELS = list_models()

# Published parameter counts (torchvision's model docs; He et al. 2016 for the CIFAR ResNets).
PUBLISHED_PARAMS = {
    "lenet5": 61_706,
    "alexnet": 61_100_840,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "densenet121": 7_978_856,
    "resnet20": 269_722,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
}
# Rounded counts from the papers: ResNet Table 6 (CIFAR), DenseNet Table 2 (DenseNet-BC k=12, L=100: 0.8M).
PAPER_PARAMS_M = {"resnet32": 0.46, "resnet44": 0.66, "densenet_bc100": 0.8}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def small(name):
    """Keyword arguments that give the model its small-input (32×32) layout, which keeps the suite fast."""
    return {"small_input": True} if "small_input" in model_kwargs(name) else {}


def output_tensors(model, out, n, num_classes):
    """The model's outputs as a tuple of tensors, after checking their shapes.

    A classifier gives (N, num_classes) logits. A model with `task == "detection"` gives maps to decode, a
    (N, num_classes, h, w) per-class heatmap first, then maps of the same batch and size (the boxes).
    """
    if getattr(model, "task", "classification") != "detection":
        assert out.shape == (n, num_classes)
        return (out,)
    heatmap, *others = out
    assert heatmap.dim() == 4 and heatmap.shape[:2] == (n, num_classes)
    assert all(t.shape[0] == n and t.shape[2:] == heatmap.shape[2:] for t in others)
    return (heatmap, *others)


@pytest.mark.parametrize("name", MODELS)
def test_default_layout_output_shape(name):
    with torch.device("meta"):  # shapes only: ImageNet-sized nets cost nothing here
        model = create(name, num_classes=7)
        output_tensors(model, model(torch.zeros(2, *model.input_size)), 2, 7)


@pytest.mark.parametrize("name", MODELS)
def test_forward_backward_and_determinism(name):
    model = create(name, num_classes=7, **small(name))
    x = torch.randn(2, *model.input_size)
    model.train()
    outs = output_tensors(model, model(x), 2, 7)
    assert all(torch.isfinite(out).all() for out in outs)
    sum(out.square().mean() for out in outs).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"no gradient reached {pname}"
        assert torch.isfinite(p.grad).all(), f"non-finite gradient in {pname}"
    model.eval()
    with torch.no_grad():
        first, second = output_tensors(model, model(x), 2, 7), output_tensors(model, model(x), 2, 7)
        assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
        if small(name):  # the explicit small-input option takes MNIST's 28×28 and CIFAR's 32×32 (`x`'s side)
            assert model.input_size[1:] == (32, 32)
            output_tensors(model, model(torch.randn(2, model.input_size[0], 28, 28)), 2, 7)


def test_a_model_built_on_the_meta_device_runs_none_of_its_initializers(monkeypatch):
    """The meta device holds shapes, not values (`cnnlab models` and `summary` build there): initializing is skipped."""
    calls = []
    for name in ("kaiming_normal_", "normal_", "trunc_normal_"):  # the zoo's own; PyTorch's layer defaults use others
        original = getattr(nn.init, name)
        counted = lambda t, *a, _f=original, **k: calls.append(t.device.type) or _f(t, *a, **k)  # noqa: E731
        monkeypatch.setattr(nn.init, name, counted)
    builds = [("resnet20", {}), ("resnet20", {"norm": "weight"}), ("googlenet", {"small_input": True}), ("tinydet", {})]
    with torch.device("meta"):
        for name, kwargs in builds:
            create(name, **kwargs)
    assert calls == []
    for name, kwargs in builds:
        create(name, **kwargs)
        assert calls and set(calls) == {"cpu"}, name  # built with values, every model is initialized
        calls.clear()


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_published_parameter_counts(name):
    with torch.device("meta"):
        model = create(name)
    assert n_params(model) == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS_M))
def test_paper_parameter_counts(name):
    with torch.device("meta"):
        model = create(name)
    assert round(n_params(model) / 1e6, 2 if name.startswith("resnet") else 1) == PAPER_PARAMS_M[name]


@pytest.mark.parametrize("name", [n for n in MODELS if "act" in model_kwargs(n)])
def test_one_flag_switches_every_activation(name):
    with torch.device("meta"):
        model = create(name, act="sigmoid")
    kinds = {type(m) for m in model.modules()}
    assert nn.Sigmoid in kinds
    assert nn.ReLU not in kinds


@pytest.mark.parametrize("name", [n for n in MODELS if "norm" in model_kwargs(n)])
def test_one_flag_switches_every_norm(name):
    with torch.device("meta"):
        grouped = create(name, norm="group")
        batched = create(name, norm="batch")
    kinds = {type(m) for m in grouped.modules()}
    assert nn.GroupNorm in kinds
    assert not kinds & {nn.BatchNorm1d, nn.BatchNorm2d}
    assert {type(m) for m in batched.modules()} & {nn.BatchNorm1d, nn.BatchNorm2d}


@pytest.mark.parametrize("name", [n for n in MODELS if "norm" in model_kwargs(n)])
def test_weight_norm_switch_has_no_norm_layers(name):
    with torch.device("meta"):
        model = create(name, norm="weight")
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)
    assert not any(isinstance(m, norms) for m in model.modules())
    assert any(hasattr(m, "parametrizations") for m in model.modules())


@pytest.mark.parametrize("name", [n for n in MODELS if "dropout" in model_kwargs(n)])
def test_dropout_switch(name):
    with torch.device("meta"):
        model = create(name, dropout=0.3)
    assert any(isinstance(m, nn.Dropout) and m.p == 0.3 for m in model.modules())


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_plain_twins_are_the_same_nets_without_shortcuts(depth):
    with torch.device("meta"):
        res, plain = create(f"resnet{depth}"), create(f"plain{depth}")
    assert n_params(res) == n_params(plain)  # option A shortcuts have no parameters
    assert sum(isinstance(m, Add) for m in res.modules()) == 3 * (depth - 2) // 6
    assert not any(isinstance(m, Add) for m in plain.modules())


def test_cifar_resnet_depth_must_be_6n_plus_2():
    from cnnlab.models import CifarResNet

    with pytest.raises(ConfigError, match="6n \\+ 2"):
        CifarResNet(21)


def test_lenet5_pads_mnist_to_32_and_keeps_its_size():
    with torch.device("meta"):
        assert n_params(create("lenet5", input_size=28)) == 61_706
    model = create("lenet5", input_size=28)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ConfigError, match="even size"):
        create("lenet5", input_size=27)


def test_mlp_depth_zero_is_softmax_regression():
    model = create("mlp", depth=0, input_size=8)
    assert n_params(model) == 64 * 10 + 10
    model = create("mlp", depth=20, width=32, act="sigmoid", norm="batch", input_size=8)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 21


def test_googlenet_aux_heads_in_training_only():
    model = create("googlenet", aux_logits=True, num_classes=10, small_input=True)
    out = model.train()(torch.randn(2, 3, 32, 32))
    assert isinstance(out, GoogLeNetOutputs)
    assert [t.shape for t in out] == [(2, 10)] * 3
    assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)

    def aux_size(channels):  # 1×1 conv (no bias) + BN, FC 2048→1024, FC 1024→10
        return channels * 128 + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 10 + 10

    plain = create("googlenet", num_classes=10, small_input=True)
    assert n_params(model) - n_params(plain) == aux_size(512) + aux_size(528)


def test_a_model_built_for_rgb_explains_a_grayscale_input():
    model = create("resnet20")
    with pytest.raises(ShapeError) as info:
        model(torch.zeros(8, 1, 32, 32))
    msg = str(info.value)
    assert "layer 'features.stem.conv' (Conv2d 3→16, 3×3)" in msg
    assert "each of its 16 kernels has 3 input channels" in msg
    assert "8×1×32×32" in msg


def test_common_arguments_are_validated():
    with pytest.raises(ConfigError, match="num_classes"):
        create("lenet5", num_classes=0)
    with pytest.raises(ConfigError, match="in_channels"):
        create("resnet18", in_channels=0)
    with pytest.raises(ConfigError, match="dropout"):
        create("vgg11", dropout=1.5)


def test_same_seed_same_weights():
    torch.manual_seed(3)
    a = create("resnet20")
    torch.manual_seed(3)
    b = create("resnet20")
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(pa, pb)


def test_small_cnn_size_by_hand():
    convs = (3 * 9 * 16 + 2 * 16) + (16 * 9 * 32 + 2 * 32) + (32 * 9 * 64 + 2 * 64)  # bias-free convs + BN
    assert n_params(create("small_cnn")) == convs + 64 * 4 * 4 * 10 + 10 == 33_946
    assert create("small_cnn", convs=2, in_channels=1, input_size=8)(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ConfigError, match="at least 8×8"):
        create("small_cnn", input_size=4)
