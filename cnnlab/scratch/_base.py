"""What every NumPy layer shares: parameters with gradients, train/eval mode, names, and the Sequential container.

The protocol is micrograd's, one level up: a layer's `forward(x)` computes its output and caches what the backward
pass needs; `backward(dy)` takes ∂l/∂y (same shape as y), stores ∂l/∂θ in each parameter's `grad` and returns
∂l/∂x. One `forward` is followed by at most one `backward`; a gradient is overwritten, not accumulated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import numpy as np

from .._spec import init_std, parse_init
from ..errors import ConfigError


class Param:
    """A learnable array and the gradient of the last backward pass with respect to it."""

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = data
        self.grad = np.zeros_like(data)

    def __repr__(self) -> str:
        return f"Param(shape={self.data.shape}, dtype={self.data.dtype})"


class Layer:
    """Base class. Subclasses fill `params` (learnable) and `buffers` (state such as running statistics).

    Attributes:
        params: name -> `Param`, this layer's own parameters (children report theirs themselves).
        buffers: name -> array, non-learnable state saved in a state dict.
        training: training mode (batch statistics, dropout) or evaluation mode.
        layer_name: qualified name inside a model, used in error messages (set by `name_layers`).
        needs_input_grad: False lets `backward` skip ∂l/∂x and return None (see `input_grad_off`).
    """

    layer_name: str | None = None
    needs_input_grad = True

    def __init__(self) -> None:
        self.params: dict[str, Param] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def children(self) -> Mapping[str, Layer]:
        """Named sub-layers (none for a primitive layer)."""
        return {}

    def named_layers(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """This layer and every layer inside it, with qualified names ('features.c1.conv')."""
        yield prefix, self
        for name, child in self.children().items():
            yield from child.named_layers(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self) -> Iterator[tuple[str, Param]]:
        for where, layer in self.named_layers():
            for name, param in layer.params.items():
                yield (f"{where}.{name}" if where else name), param

    def parameters(self) -> list[Param]:
        return [p for _, p in self.named_parameters()]

    def train(self, mode: bool = True) -> Layer:
        for _, layer in self.named_layers():
            layer.training = mode
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Qualified name -> array for every parameter and buffer (the arrays themselves, not copies)."""
        state = {}
        for where, layer in self.named_layers():
            for name, array in [*((n, p.data) for n, p in layer.params.items()), *layer.buffers.items()]:
                state[f"{where}.{name}" if where else name] = array
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Copy arrays into the parameters and buffers; names and shapes must match exactly."""
        own = self.state_dict()
        if set(own) != set(state):
            missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
            raise ConfigError(f"state dict does not fit the model: missing {missing}, unexpected {unexpected}")
        values = {name: np.asarray(value) for name, value in state.items()}
        for name, array in own.items():  # check everything before changing anything
            if values[name].shape != array.shape:
                raise ConfigError(
                    f"state dict entry {name!r} has shape {values[name].shape}, the model has {array.shape}"
                )
        for name, array in own.items():
            array[...] = values[name]  # in place: optimizers and callers keep their references

    def leaves(self) -> list[Layer]:
        """The primitive layers (no containers, not even empty ones) in the order the forward pass runs them."""
        return [layer for _, layer in self.named_layers() if not isinstance(layer, Sequential)]

    def where(self, description: str) -> str:
        """For error messages: `layer 'features.c1.conv' (Conv2d 1→6, 5×5)` once named, else the description."""
        return f"layer {self.layer_name!r} ({description})" if self.layer_name else description


class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse (the chain rule through a composition).

    Args:
        layers: unnamed layers, positionally (named '0', '1', ...), or named ones as keyword arguments
            (`Sequential(**mapping)`), so that a model's parameter names can mirror its PyTorch twin exactly.
    """

    def __init__(self, *layers: Layer, **named: Layer):
        super().__init__()
        if layers and named:
            raise ConfigError("Sequential takes either positional layers or named ones, not both")
        self.layers: dict[str, Layer] = {str(i): layer for i, layer in enumerate(layers)} if layers else dict(named)

    def children(self) -> Mapping[str, Layer]:
        return self.layers

    def __getitem__(self, key: str | int) -> Layer:
        return self.layers[str(key)] if isinstance(key, int) else self.layers[key]

    def __len__(self) -> int:
        return len(self.layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # y = f_n(...f_1(x)): ∂l/∂x = J_1ᵀ ⋯ J_nᵀ ∂l/∂y, each layer applying its own Jᵀ.
        for layer in reversed(self.layers.values()):
            dy = layer.backward(dy)
        return dy

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({name}): " + repr(layer).replace("\n", "\n  ") for name, layer in self.layers.items())
        name = type(self).__name__
        return f"{name}(\n{inner}\n)" if inner else f"{name}()"


@contextlib.contextmanager
def input_grad_off(model: Layer) -> Iterator[Layer]:
    """Within the block, `model.backward` skips the gradient with respect to its input and returns None.

    A training step needs ∂l/∂θ, never ∂l/∂(images): PyTorch skips it for inputs that do not require grad, and
    this does the same for the first layer (for LeNet-5 that saves C1's whole col2im).
    """
    first = model.leaves()[0] if model.leaves() else model
    before = first.needs_input_grad
    first.needs_input_grad = False
    try:
        yield model
    finally:
        first.needs_input_grad = before


def name_layers(model: Layer) -> Layer:
    """Give every layer inside `model` its qualified name, for error messages; returns `model`."""
    for name, layer in model.named_layers():
        layer.layer_name = name or None
    return model


def uniform_init(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, dtype: np.dtype) -> np.ndarray:
    """U(-1/√fan_in, 1/√fan_in): PyTorch's default for conv and linear weights and biases.

    (kaiming_uniform_ with a=√5 gives the bound gain·√(3/fan_in) = √(1/3)·√(3/fan_in) = 1/√fan_in.)
    """
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def draw_init(rng: np.random.Generator, weight: np.ndarray, scheme: str, gain: float) -> np.ndarray:
    """New weights shaped like `weight` (out, in, *kernel) by an init scheme of `cnnlab._spec` ('he_normal', …),
    the NumPy counterpart of `cnnlab.layers.init_weights`; the standard deviations follow `init_std`."""
    shape = weight.shape
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    if scheme == "default":
        return weight * gain
    if scheme == "orthogonal":  # QR of a Gaussian matrix, signs fixed by R's diagonal (as torch.nn.init)
        flat = rng.standard_normal((shape[0], fan_in))
        q, r = np.linalg.qr(flat.T if shape[0] < fan_in else flat)
        q *= np.sign(np.diag(r))
        q = q.T if shape[0] < fan_in else q
        return (gain * q).reshape(shape).astype(weight.dtype)
    std = init_std(scheme, fan_in, fan_out, gain, receptive=receptive)
    if scheme in ("xavier_uniform", "he_uniform"):
        bound = std * np.sqrt(3.0)  # U(−a, a) has standard deviation a/√3
        return rng.uniform(-bound, bound, shape).astype(weight.dtype)
    return (std * rng.standard_normal(shape)).astype(weight.dtype)


def init_layers(model: Layer, init: str, rng: np.random.Generator) -> Layer:
    """Re-draw every 'weight' of `model`'s layers that have one by `init` ('he:2.0', …); biases become zero."""
    scheme, gain = parse_init(init)
    if scheme == "default" and gain == 1.0:
        return model
    for _, layer in model.named_layers():
        if "weight" in layer.params and layer.params["weight"].data.ndim >= 2:
            param = layer.params["weight"]
            param.data = draw_init(rng, param.data, scheme, gain)
            if "bias" in layer.params and scheme != "default":
                layer.params["bias"].data = np.zeros_like(layer.params["bias"].data)
    return model
