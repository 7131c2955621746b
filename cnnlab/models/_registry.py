"""The model registry: `register_model`, `create`, `list_models`."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable

from torch import nn

from .._signature import check_kwargs, keyword_names
from .._spec import parse_init
from ..errors import ConfigError, unknown_name
from ..layers import init_weights, name_layers

_MODELS: dict[str, Callable[..., nn.Module]] = {}
_ACCEPTS: dict[str, frozenset[str]] = {}


def _accepted_kwargs(fn: Callable) -> frozenset[str]:
    """Keyword names `fn` accepts; a builder that forwards **kwargs accepts those of its annotated return class."""
    signature = inspect.signature(fn, eval_str=True)
    names = keyword_names(fn)
    forwards = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    if forwards:
        target = signature.return_annotation
        if not (inspect.isclass(target) and issubclass(target, nn.Module)):
            raise ConfigError(
                f"model builder {fn.__name__!r} forwards **kwargs, so it must annotate its return type with the "
                "model class whose keyword arguments it accepts"
            )
        names |= keyword_names(target)
    return frozenset(names)


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: add `fn` to the registry under its function name.

    Builders take keyword arguments only. One that forwards `**kwargs` to a model class annotates its return type
    with that class (`def resnet18(**kwargs) -> ResNet`), and `create` checks keywords against the class.
    """
    name = fn.__name__
    if name in _MODELS:
        raise ConfigError(f"model {name!r} is already registered (by {_MODELS[name].__module__}); pick another name")
    _ACCEPTS[name] = _accepted_kwargs(fn)
    _MODELS[name] = fn
    return fn


def create(name: str, *, init: str = "default", **kwargs) -> nn.Module:
    """Build model `name` with keyword arguments such as num_classes, in_channels, act, norm, dropout.

    `init` re-draws every conv, linear and recurrent weight by a scheme: 'default' (the model's own), 'xavier',
    'xavier_normal', 'he', 'he_uniform', 'he_fan_out', 'orthogonal', with an optional gain ('he:2.0'); see
    `cnnlab.layers.init_weights`. Unknown names and keyword arguments raise ConfigError (a ValueError) with close
    matches.
    """
    if name not in _MODELS:
        raise unknown_name("model", name, _MODELS)
    check_kwargs(f"model {name!r}", kwargs, _ACCEPTS[name])
    parse_init(init)  # a bad spec fails before the model is built
    return init_weights(name_layers(_MODELS[name](**kwargs)), init)


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of registered models, optionally filtered by a shell pattern such as 'resnet*'."""
    names = sorted(_MODELS)
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def model_kwargs(name: str) -> frozenset[str]:
    """The keyword arguments model `name` accepts."""
    if name not in _MODELS:
        raise unknown_name("model", name, _MODELS)
    return _ACCEPTS[name]


def model_doc(name: str) -> str:
    """First line of the builder's docstring."""
    if name not in _MODELS:
        raise unknown_name("model", name, _MODELS)
    doc = inspect.getdoc(_MODELS[name]) or ""
    return doc.splitlines()[0] if doc else ""
