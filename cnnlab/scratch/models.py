"""Scratch twins of zoo models: same layers, same names, so that weights move to PyTorch and back unchanged.

`build_scratch_model('lenet5', input_size=8)` mirrors `cnnlab.create('lenet5', input_size=8)` layer for layer:
every parameter has the same qualified name and shape ('features.c1.conv.weight', 'head.fc.bias', ...), so
`cnnlab.scratch.torch_bridge.to_torch_state_dict(model)` loads into the PyTorch model with `strict=True`. The
builders take the zoo models' keyword arguments with the same defaults and check them with the same rules, in
NumPy alone: building a twin needs no torch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from .._arguments import check_common, lenet_geometry, pair
from .._signature import check_kwargs, keyword_names
from ..errors import ConfigError, unknown_name
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

    def __init__(
        self, features: Layer, head: Layer, *, name: str, config: dict, input_size: tuple, num_classes: int, dtype
    ):
        super().__init__(features=features, head=head)
        self.name, self.config, self.dtype = name, config, np.dtype(dtype)
        self.input_size, self.num_classes = tuple(input_size), num_classes


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


POOL_NAMES = ("avg", "max")


def lenet5(
    *,
    seed: int = 0,
    dtype=np.float32,
    num_classes: int = 10,
    in_channels: int = 1,
    input_size: int | tuple[int, int] = 32,
    act: str = "tanh",
    norm: str | None = None,
    pool: str = "avg",
    dropout: float = 0.0,
) -> ScratchClassifier:
    """LeNet-5 from scratch layers, mirroring `cnnlab.models.LeNet5` (see its docstring for the arguments).

    C1 5×5 conv (6) → S2 pool → C3 5×5 conv (16) → S4 pool → F5 120 → F6 84 → output. Images smaller than
    32×32 are zero-padded to 32×32 by C1's padding, as LeCun padded MNIST.

    Args:
        seed: initializes the weights (PyTorch's default init scheme) and the dropout masks.
        dtype: float32 for training, float64 for gradient checks.
        (the rest): the zoo model's arguments, with its defaults.
    """
    check_common(num_classes, in_channels, dropout)
    if pool not in POOL_NAMES:
        raise unknown_name("pooling (NumPy reference)", pool, POOL_NAMES)
    h, w = pair(input_size)
    pad, side_h, side_w = lenet_geometry(input_size)
    rng = np.random.default_rng(seed)

    def pool_layer() -> Layer:
        return MaxPool2d(2) if pool == "max" else AvgPool2d(2, count_include_pad=False)

    def conv_unit(c_in: int, c_out: int, padding: int) -> Sequential:
        norm_layer = create_norm(norm, c_out, dtype=dtype)
        conv = Conv2d(c_in, c_out, 5, padding=padding, bias=norm_layer is None, rng=rng, dtype=dtype)
        return _unit({"conv": conv, "norm": norm_layer, "act": create_act(act)})

    features = Sequential(c1=conv_unit(in_channels, 6, pad), s2=pool_layer(), c3=conv_unit(6, 16, 0), s4=pool_layer())
    # (N, 16, 5, 5) -> (N, 400) -> 120 -> 84 -> num_classes
    head = _head([16 * side_h * side_w, 120, 84], num_classes, act, dropout, rng, dtype)
    config = {"num_classes": num_classes, "in_channels": in_channels, "input_size": input_size, "act": act,
              "norm": norm, "pool": pool, "dropout": dropout}  # fmt: skip
    model = ScratchClassifier(
        features,
        head,
        name="lenet5",
        config=config,
        input_size=(in_channels, h, w),
        num_classes=num_classes,
        dtype=dtype,
    )
    return name_layers(model)


def mlp(
    *,
    seed: int = 0,
    dtype=np.float32,
    num_classes: int = 10,
    in_channels: int = 1,
    input_size: int | tuple[int, int] = 28,
    depth: int = 4,
    width: int = 256,
    act: str = "relu",
    norm: str | None = None,
    dropout: float = 0.0,
    residual: bool = False,
) -> ScratchClassifier:
    """The multilayer perceptron from scratch layers, mirroring `cnnlab.models.MLP` (see it for the arguments).

    Flatten → depth × (linear → norm → act → dropout) → linear.

    Args:
        seed: initializes the weights (PyTorch's default init scheme) and the dropout masks.
        dtype: float32 for training, float64 for gradient checks.
        (the rest): the zoo model's arguments, with its defaults; `residual=True` is the torch engine's alone.
    """
    check_common(num_classes, in_channels, dropout)
    if residual:
        raise ConfigError("the NumPy reference builds the plain MLP only; residual=True needs the torch engine")
    h, w = pair(input_size)
    rng = np.random.default_rng(seed)
    features_in = in_channels * h * w
    layers: list[Layer] = [Flatten()]  # (N, C, H, W) -> (N, C·H·W)
    for _ in range(depth):
        norm_layer = create_norm(norm, width, dim=1, dtype=dtype)
        fc = Linear(features_in, width, bias=norm_layer is None, rng=rng, dtype=dtype)
        drop = Dropout(dropout, rng=np.random.default_rng(rng.integers(2**63))) if dropout > 0 else None
        layers.append(_unit({"fc": fc, "norm": norm_layer, "act": create_act(act), "drop": drop}))
        features_in = width
    head = _head([features_in], num_classes, None, 0.0, rng, dtype)
    config = {"num_classes": num_classes, "in_channels": in_channels, "input_size": input_size, "depth": depth,
              "width": width, "act": act, "norm": norm, "dropout": dropout}  # fmt: skip
    model = ScratchClassifier(
        Sequential(*layers),
        head,
        name="mlp",
        config=config,
        input_size=(in_channels, h, w),
        num_classes=num_classes,
        dtype=dtype,
    )
    return name_layers(model)


_BUILDERS: dict[str, Callable[..., ScratchClassifier]] = {"lenet5": lenet5, "mlp": mlp}
SCRATCH_MODELS: tuple[str, ...] = tuple(_BUILDERS)
_ACCEPTS: dict[str, frozenset[str]] = {
    name: frozenset(keyword_names(fn) - {"seed", "dtype"}) for name, fn in _BUILDERS.items()
}


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
    check_kwargs(f"model {name!r}", config, _ACCEPTS[name])
    model = _BUILDERS[name](seed=seed, dtype=dtype, **config)
    return init_layers(model, init, np.random.default_rng([seed, 1]))
