"""Weight initialization schemes: their standard deviations match the formulas within sampling error."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import cnnlab
from cnnlab._spec import INIT_SCHEMES, init_std, parse_init
from cnnlab.errors import ConfigError
from cnnlab.layers import init_weights
from cnnlab.scratch import build_scratch_model
from cnnlab.scratch._base import draw_init

SHAPES = [(256, 512), (384, 128), (64, 32, 3, 3)]  # Linear(512→256), Linear(128→384), Conv2d(32→64, 3×3)
SCHEMES = ["xavier", "xavier_normal", "he", "he_uniform", "he_fan_out", "orthogonal", "default"]


def fans(shape):
    k = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * k, shape[0] * k


def receptive(shape):
    return math.prod(shape[2:]) if len(shape) > 2 else 1


def layer(shape):
    return nn.Linear(shape[1], shape[0]) if len(shape) == 2 else nn.Conv2d(shape[1], shape[0], shape[2:])


def within_sampling_error(sample_std, expected, n):
    # the sample standard deviation of n draws has standard error ≈ σ/√(2n); allow 5 of them (uniform and
    # orthogonal draws vary less than Gaussian ones, so this bound holds for them too)
    return abs(sample_std - expected) <= 5 * expected / math.sqrt(2 * n)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("gain", [1.0, 0.5, 2.0])
def test_torch_weight_std_matches_formula(scheme, shape, gain):
    torch.manual_seed(0)
    module = layer(shape)
    init_weights(module, f"{scheme}:{gain}")
    fan_in, fan_out = fans(shape)
    expected = init_std(scheme, fan_in, fan_out, gain, receptive=receptive(shape))
    w = module.weight.detach()
    assert within_sampling_error(w.std().item(), expected, w.numel()), (w.std().item(), expected)
    assert abs(w.mean().item()) < 5 * expected / math.sqrt(w.numel())
    if scheme != "default":
        assert torch.count_nonzero(module.bias) == 0


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_numpy_reference_std_matches_formula(scheme, shape):
    rng = np.random.default_rng(0)
    weight = rng.uniform(-0.1, 0.1, shape).astype(np.float32)
    new = draw_init(rng, weight, parse_init(scheme)[0], 1.5)
    fan_in, fan_out = fans(shape)
    expected = init_std(scheme, fan_in, fan_out, 1.5, receptive=receptive(shape))
    if scheme == "default":
        expected = 1.5 * weight.std()
    assert new.shape == weight.shape and new.dtype == np.float32
    assert within_sampling_error(float(new.std()), expected, new.size), (new.std(), expected)


@pytest.mark.parametrize("shape", [(64, 256), (256, 64)])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape):
    module = layer(shape)
    init_weights(module, "orthogonal:2.0")
    w = module.weight.detach().double()
    gram = w @ w.T if shape[0] <= shape[1] else w.T @ w
    assert torch.allclose(gram, 4 * torch.eye(min(shape), dtype=torch.float64), atol=1e-5)
    q = draw_init(np.random.default_rng(1), np.zeros(shape, np.float64), "orthogonal", 2.0)
    gram = q @ q.T if shape[0] <= shape[1] else q.T @ q
    np.testing.assert_allclose(gram, 4 * np.eye(min(shape)), atol=1e-10)


def test_create_applies_init_everywhere_but_norm_layers():
    torch.manual_seed(0)
    model = cnnlab.create("small_cnn", init="he", num_classes=10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        fan_in, fan_out = fans(conv.weight.shape)
        assert within_sampling_error(conv.weight.std().item(), init_std("he", fan_in, fan_out), conv.weight.numel())
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(torch.all(n.weight == 1) and torch.all(n.bias == 0) for n in norms)


def test_default_keeps_the_models_own_weights_and_gain_scales_them():
    torch.manual_seed(3)
    plain = cnnlab.create("mlp", depth=2, width=16, input_size=4)
    torch.manual_seed(3)
    same = cnnlab.create("mlp", depth=2, width=16, input_size=4, init="default")
    torch.manual_seed(3)
    doubled = cnnlab.create("mlp", depth=2, width=16, input_size=4, init="default:2")
    for a, b, c in zip(plain.parameters(), same.parameters(), doubled.parameters(), strict=True):
        assert torch.equal(a, b)
        assert torch.equal(c, 2 * a) if a.dim() >= 2 else torch.equal(c, a)


def test_weight_norm_and_recurrent_layers():
    model = cnnlab.create("mlp", depth=2, width=300, input_size=8, norm="weight", init="xavier_normal")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    w = linears[1].weight.detach()  # the weight-normed 300 → 300 layer, recomputed from g and v
    assert within_sampling_error(w.std().item(), init_std("xavier_normal", 300, 300), w.numel())
    lstm = nn.LSTM(32, 64)
    init_weights(lstm, "orthogonal")
    gates = lstm.weight_hh_l0.detach().chunk(4)  # each gate's 64 × 64 block is orthonormal
    assert all(torch.allclose(g @ g.T, torch.eye(64), atol=1e-5) for g in gates)
    assert torch.count_nonzero(lstm.bias_ih_l0) == 0


def test_scratch_model_init_matches_its_torch_twin_statistically():
    model = build_scratch_model("mlp", init="he:0.5", depth=2, width=400, input_size=8, seed=2)
    weights = {n: p.data for n, p in model.named_parameters() if n.endswith("weight")}
    w = weights["features.2.fc.weight"]
    assert within_sampling_error(float(w.std()), init_std("he", 400, 400, 0.5), w.size)
    assert all(not p.data.any() for n, p in model.named_parameters() if n.endswith("bias"))


@pytest.mark.parametrize(("spec", "message"), [("kaiming", "unknown init 'kaiming'"), ("he:-1", "positive"),
                                                ("he:x", "must be a number"), ("he:nan", "positive")])  # fmt: skip
def test_bad_specs_are_one_clear_error(spec, message):
    with pytest.raises(ConfigError, match=message):
        cnnlab.create("mlp", init=spec)


def test_every_scheme_name_parses():
    assert {parse_init(s)[0] for s in INIT_SCHEMES} >= {"xavier_uniform", "he_normal", "orthogonal", "default"}


def test_train_cli_takes_init(tmp_path, capsys):
    from cnnlab.cli import main

    out = tmp_path / "run"
    assert main(["train", "mlp", "--data", "digits", "--epochs", "1", "--init", "xavier:0.5", "--out", str(out)]) == 0
    assert '"init": "xavier:0.5"' in (out / "config.json").read_text()
    assert main(["train", "mlp", "--data", "digits", "--epochs", "1", "--init", "kaimng", "--out", str(out) + "2"]) == 2
    assert "unknown init 'kaimng'" in capsys.readouterr().err
