"""Activation factory: the classic linear, sigmoid, tanh, ReLU and Leaky ReLU, plus ELU, GELU and SiLU.

A spec is a name ('relu'), a name with its one parameter ('leaky_relu:0.1' sets the negative slope,
'elu:0.5' sets alpha), a module class or a zero-argument callable (e.g. `functools.partial(nn.LeakyReLU, 0.2)`),
or None for no layer at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from torch import nn

from .._spec import parse_spec
from ..errors import ConfigError, unknown_name

ActSpec = str | Callable[[], nn.Module] | None

# Activations are built out-of-place, so that a forward hook may keep any layer's output; the trainer switches
# ReLUs in place where that is safe (see inplace.py).
_ACTS: dict[str, type[nn.Module]] = {
    "linear": nn.Identity,  # f(x) = x: what a network without non-linearity computes
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,  # 1 / (1 + e^-x), saturates at 0 and 1
    "tanh": nn.Tanh,  # saturates at -1 and 1
    "relu": nn.ReLU,  # max(0, x); units can die
    "leaky_relu": nn.LeakyReLU,  # x for x > 0, slope·x otherwise (slope 0.01 unless given)
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
# The one parameter a 'name:value' spec sets.
_PARAM = {"leaky_relu": "negative_slope", "elu": "alpha"}

ACT_NAMES: tuple[str, ...] = (*_ACTS, "none")


def get_act_layer(act: ActSpec) -> Callable[[], nn.Module] | None:
    """Resolve an activation spec to a zero-argument layer constructor, or None for no layer."""
    if act is None:
        return None
    if isinstance(act, str):
        name, value = parse_spec(act, "activation")
        if name == "none":
            return None
        if name not in _ACTS:
            raise unknown_name("activation", act, ACT_NAMES)
        if value is None:
            return _ACTS[name]
        if name not in _PARAM:
            raise ConfigError(
                f"activation {name!r} takes no parameter (got {act!r}); only "
                + ", ".join(f"'{n}:<{p}>'" for n, p in _PARAM.items())
                + " do"
            )
        return functools.partial(_ACTS[name], **{_PARAM[name]: value})
    if callable(act):
        return act
    raise ConfigError(f"activation must be a name, a module class or None, got {type(act).__name__}")


def create_act(act: ActSpec) -> nn.Module | None:
    """Build the activation layer for `act`, or return None when `act` means no layer.

    Args:
        act: 'linear'/'identity', 'sigmoid', 'tanh', 'relu', 'leaky_relu[:slope]', 'elu[:alpha]', 'gelu',
            'silu', 'none', a module class or callable, or None.
    """
    layer = get_act_layer(act)
    return None if layer is None else layer()
