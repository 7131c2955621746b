import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.layers import ACT_NAMES, create_act, get_act_layer

X = torch.linspace(-5, 5, 101)

REFERENCE = {
    "linear": lambda x: x,
    "identity": lambda x: x,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
}


@pytest.mark.parametrize("name", [n for n in ACT_NAMES if n != "none"])
def test_every_name_builds_the_function_it_names(name):
    layer = create_act(name)
    assert isinstance(layer, nn.Module)
    torch.testing.assert_close(layer(X), REFERENCE[name](X), rtol=0, atol=0)


def test_none_means_no_layer():
    assert create_act(None) is None
    assert create_act("none") is None
    assert get_act_layer(None) is None


def test_relu_formula_from_the_note():
    # if input > 0: return input else: return 0
    out = create_act("relu")(torch.tensor([-2.0, -0.0, 0.0, 3.0]))
    assert out.tolist() == [0.0, 0.0, 0.0, 3.0]


def test_sigmoid_formula_from_the_note():
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    expected = 1 / (1 + torch.exp(-x))
    torch.testing.assert_close(create_act("sigmoid").double()(x), expected, rtol=0, atol=1e-15)


def test_leaky_relu_slope_from_spec():
    x = torch.tensor([-10.0, 4.0])
    assert create_act("leaky_relu")(x).tolist() == pytest.approx([-0.1, 4.0])
    assert create_act("leaky_relu:0.2")(x).tolist() == pytest.approx([-2.0, 4.0])
    assert create_act("elu:0.5")(torch.tensor([-100.0])).item() == pytest.approx(-0.5)


def test_names_are_case_and_dash_insensitive():
    assert isinstance(create_act("Leaky-ReLU"), nn.LeakyReLU)


def test_classes_and_partials_are_accepted():
    assert isinstance(create_act(nn.Tanh), nn.Tanh)
    layer = create_act(functools.partial(nn.LeakyReLU, 0.3))
    assert layer.negative_slope == 0.3


def test_unknown_name_names_the_options():
    with pytest.raises(ValueError) as info:
        create_act("swish")
    assert str(info.value) == (
        "unknown activation 'swish'; choose one of: elu, gelu, identity, leaky_relu, linear, none, relu, sigmoid, "
        "silu, tanh"
    )
    with pytest.raises(ConfigError, match=r"unknown activation 'sigmod'; did you mean 'sigmoid'"):
        create_act("sigmod")


def test_parameter_on_a_parameterless_activation_is_refused():
    with pytest.raises(ConfigError, match="takes no parameter"):
        create_act("relu:0.1")
    with pytest.raises(ConfigError, match="must be a number"):
        create_act("leaky_relu:big")


def test_activations_are_not_in_place():
    # Forward hooks must see each layer's own output unchanged.
    x = torch.tensor([-1.0, 1.0])
    create_act("relu")(x)
    assert x.tolist() == [-1.0, 1.0]
