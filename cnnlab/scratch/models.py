"""Scratch twins of zoo models: same layers, same names, so that weights move to PyTorch and back unchanged.

`build_scratch_model('lenet5', input_size=8)` mirrors `cnnlab.create('lenet5', input_size=8)` layer for layer:
every parameter has the same qualified name and shape ('features.c1.conv.weight', 'head.fc.bias', ...), so
`to_torch_state_dict(model)` loads into the PyTorch model with `strict=True`.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Mapping

import numpy as np
import torch

from ..errors import unknown_name
from ..models import create as create_torch_model
from ._base import Layer, Sequential, init_layers, name_layers
from .activations import create_act
from .conv import Conv2d
from .dropout import Dropout
from .linear import Flatten, Linear
from .norm import create_norm
from .pool import AvgPool2d, MaxPool2d


class ScratchClassifier(Sequential):
    """`features` then `head`, like the zoo's `Classifier`; remembers how to build its PyTorch twin.

    Attributes:
        name, config: the zoo model name and keyword arguments of the PyTorch twin.
        input_size: (C, H, W) the model was built for. num_classes: outputs.
    """

    def __init__(self, features: Layer, head: Layer, *, name: str, config: dict, twin: torch.nn.Module, dtype):
        super().__init__(features=features, head=head)
        self.name, self.config, self.dtype = name, config, np.dtype(dtype)
        self.input_size, self.num_classes = tuple(twin.input_size), twin.num_classes


def _twin(name: str, config: Mapping[str, object]) -> tuple[torch.nn.Module, dict[str, object]]:
    """The PyTorch twin built on the meta device (it validates `config` exactly as the zoo does, at no cost), and
    `config` completed with the twin's defaults."""
    with torch.device("meta"):
        twin = create_torch_model(name, **config)
    signature = inspect.signature(type(twin))
    defaults = {k: p.default for k, p in signature.parameters.items() if p.default is not p.empty}
    return twin, {**defaults, **config}


def _unit(layers: dict[str, Layer | None]) -> Sequential:
    """A named Sequential without the absent (None) parts, as `ConvNormAct` and `LinearNormAct` leave them out."""
    return Sequential(**{key: layer for key, layer in layers.items() if layer is not None})


def _head(widths: list[int], num_classes: int, act: str | None, dropout: float, rng, dtype) -> Sequential:
    """`cnnlab.layers.ClassifierHead` (no pooling): flatten → (dropout → fc → act)* → dropout → fc."""
    hidden: list[Layer] = []
    for width_in, width_out in itertools.pairwise(widths):
        if dropout > 0:
            hidden.append(Dropout(dropout, rng=np.random.default_rng(rng.integers(2**63))))
        hidden.append(Linear(width_in, width_out, rng=rng, dtype=dtype))
        act_layer = create_act(act)
        if act_layer is not None:
            hidden.append(act_layer)
    if dropout > 0:
        hidden.append(Dropout(dropout, rng=np.random.default_rng(rng.integers(2**63))))
    fc = Linear(widths[-1], num_classes, rng=rng, dtype=dtype)
    return Sequential(flatten=Flatten(), hidden=Sequential(*hidden), fc=fc)


def lenet5(*, seed: int = 0, dtype=np.float32, **config) -> ScratchClassifier:
    """LeNet-5 from scratch layers, mirroring `cnnlab.models.LeNet5` (see its docstring for the arguments).

    C1 5×5 conv (6) → S2 pool → C3 5×5 conv (16) → S4 pool → F5 120 → F6 84 → output. Images smaller than
    32×32 are zero-padded to 32×32 by C1's padding, as LeCun padded MNIST.

    Args:
        seed: initializes the weights (PyTorch's default init scheme) and the dropout masks.
        dtype: float32 for training, float64 for gradient checks.
        config: num_classes, in_channels, input_size, act ('tanh'), norm (None), pool ('avg' | 'max'), dropout.
    """
    twin, full = _twin("lenet5", config)
    rng = np.random.default_rng(seed)
    act, norm, dropout = full["act"], full["norm"], full["dropout"]
    in_channels = twin.input_size[0]
    pad = twin.features.c1.conv.padding  # zero padding that brings small images to 32×32

    def pool() -> Layer:
        return MaxPool2d(2) if full["pool"] == "max" else AvgPool2d(2, count_include_pad=False)

    def conv_unit(c_in: int, c_out: int, padding) -> Sequential:
        norm_layer = create_norm(norm, c_out, dtype=dtype)
        conv = Conv2d(c_in, c_out, 5, padding=padding, bias=norm_layer is None, rng=rng, dtype=dtype)
        return _unit({"conv": conv, "norm": norm_layer, "act": create_act(act)})

    features = Sequential(c1=conv_unit(in_channels, 6, pad), s2=pool(), c3=conv_unit(6, 16, 0), s4=pool())
    flat = next(m.in_features for m in twin.head.modules() if isinstance(m, torch.nn.Linear))  # 16·5·5 at 32×32
    # (N, 16, 5, 5) -> (N, 400) -> 120 -> 84 -> num_classes
    head = _head([flat, 120, 84], twin.num_classes, act, dropout, rng, dtype)
    return name_layers(ScratchClassifier(features, head, name="lenet5", config=config, twin=twin, dtype=dtype))


def mlp(*, seed: int = 0, dtype=np.float32, **config) -> ScratchClassifier:
    """The multilayer perceptron from scratch layers, mirroring `cnnlab.models.MLP` (see it for the arguments).

    Flatten → depth × (linear → norm → act → dropout) → linear.

    Args:
        seed: initializes the weights (PyTorch's default init scheme) and the dropout masks.
        dtype: float32 for training, float64 for gradient checks.
        config: num_classes, in_channels, input_size, depth (4), width (256), act ('relu'), norm (None), dropout.
    """
    twin, full = _twin("mlp", config)
    rng = np.random.default_rng(seed)
    act, norm, dropout, width = full["act"], full["norm"], full["dropout"], full["width"]
    features_in = int(np.prod(twin.input_size))
    layers: list[Layer] = [Flatten()]  # (N, C, H, W) -> (N, C·H·W)
    for _ in range(full["depth"]):
        norm_layer = create_norm(norm, width, dtype=dtype)
        fc = Linear(features_in, width, bias=norm_layer is None, rng=rng, dtype=dtype)
        drop = Dropout(dropout, rng=np.random.default_rng(rng.integers(2**63))) if dropout > 0 else None
        layers.append(_unit({"fc": fc, "norm": norm_layer, "act": create_act(act), "drop": drop}))
        features_in = width
    head = _head([features_in], twin.num_classes, None, 0.0, rng, dtype)
    model = ScratchClassifier(Sequential(*layers), head, name="mlp", config=config, twin=twin, dtype=dtype)
    return name_layers(model)


_BUILDERS: dict[str, Callable[..., ScratchClassifier]] = {"lenet5": lenet5, "mlp": mlp}
SCRATCH_MODELS: tuple[str, ...] = tuple(_BUILDERS)


def build_scratch_model(
    name: str, *, seed: int = 0, dtype=np.float32, init: str = "default", **config
) -> ScratchClassifier:
    """Build the scratch twin of zoo model `name` ('lenet5' or 'mlp').

    Args:
        name: the zoo model to mirror.
        seed: initializes weights and dropout masks.
        dtype: np.float32 (training) or np.float64 (gradient checks).
        init: weight initialization, as for `cnnlab.create`: 'default' (PyTorch's), 'xavier', 'he', 'orthogonal' …
            with an optional gain ('he:2.0'); biases become zero under any other scheme.
        config: the zoo model's keyword arguments (unknown ones raise ConfigError, as `cnnlab.create` does).
    """
    if name not in _BUILDERS:
        raise unknown_name("scratch model", name, SCRATCH_MODELS)
    model = _BUILDERS[name](seed=seed, dtype=dtype, **config)
    return init_layers(model, init, np.random.default_rng([seed, 1]))


def to_torch_state_dict(model: Layer) -> dict[str, torch.Tensor]:
    """The model's parameters and buffers as tensors (copies), named as the PyTorch twin names them."""
    return {name: torch.from_numpy(np.array(array)) for name, array in model.state_dict().items()}


def load_torch_state_dict(model: Layer, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Copy a PyTorch twin's `state_dict()` into the scratch model (names and shapes must match exactly)."""
    model.load_state_dict({name: t.detach().cpu().numpy() for name, t in state_dict.items()})


def to_torch(model: ScratchClassifier) -> torch.nn.Module:
    """The PyTorch twin (`cnnlab.create(model.name, **model.config)`) holding this model's weights, in its mode."""
    twin = create_torch_model(model.name, **model.config).to(dtype=getattr(torch, model.dtype.name))
    twin.load_state_dict(to_torch_state_dict(model), strict=True)
    return twin.train(model.training)
