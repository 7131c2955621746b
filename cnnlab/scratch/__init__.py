"""The NumPy reference: every layer's forward and backward pass written out by hand, micrograd style.

Each layer's `forward(x)` caches what its `backward(dy)` needs; `backward` stores ∂l/∂θ in each parameter's `grad`
and returns ∂l/∂x. Every layer is checked against PyTorch autograd in float64 (tests/scratch/scratch_oracle.py).

The reference imports and trains without torch: only `torch_bridge` (weights to a PyTorch twin and back, whose
names `to_torch`, `to_torch_state_dict` and `load_torch_state_dict` are also here, imported on first use) and
`explain_backprop`'s autograd column need it.
"""

from ._base import Layer, Param, Sequential, input_grad_off, name_layers
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Tanh, create_act
from .conv import Conv2d
from .data import ArrayDataset, ArrayLoader, channel_stats
from .dropout import Dropout
from .explain import BackpropExplanation, explain_backprop, format_backprop
from .linear import Flatten, Linear
from .losses import LogSoftmax, MSELoss, NLLLoss, SigmoidBCE, SoftmaxCrossEntropy
from .models import SCRATCH_MODELS, ScratchClassifier, build_scratch_model
from .norm import BatchNorm, ChannelAffine, GroupNorm, InstanceNorm, LayerNorm, Standardize, create_norm
from .optim import SGD, Adam, Optimizer, create_optimizer
from .pool import AvgPool2d, MaxPool2d
from .train import EpochStats, ScratchResult, evaluate, fit

__all__ = [
    "SCRATCH_MODELS",
    "SGD",
    "Adam",
    "ArrayDataset",
    "ArrayLoader",
    "AvgPool2d",
    "BackpropExplanation",
    "BatchNorm",
    "ChannelAffine",
    "Conv2d",
    "Dropout",
    "EpochStats",
    "Flatten",
    "GroupNorm",
    "Identity",
    "InstanceNorm",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "NLLLoss",
    "Optimizer",
    "Param",
    "ReLU",
    "ScratchClassifier",
    "ScratchResult",
    "Sequential",
    "Sigmoid",
    "SigmoidBCE",
    "SoftmaxCrossEntropy",
    "Standardize",
    "Tanh",
    "build_scratch_model",
    "channel_stats",
    "create_act",
    "create_norm",
    "create_optimizer",
    "evaluate",
    "explain_backprop",
    "fit",
    "format_backprop",
    "input_grad_off",
    "load_torch_state_dict",
    "name_layers",
    "to_torch",
    "to_torch_state_dict",
]

_TORCH_BRIDGE = ("load_torch_state_dict", "to_torch", "to_torch_state_dict")


def __getattr__(name: str):
    """The torch bridge's names, imported on first use (PEP 562) so that the reference imports without torch."""
    if name in _TORCH_BRIDGE:
        from . import torch_bridge

        return getattr(torch_bridge, name)
    raise AttributeError(f"module 'cnnlab.scratch' has no attribute {name!r}")
