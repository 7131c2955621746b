"""The NumPy reference: every layer's forward and backward pass written out by hand, micrograd style.

Each layer's `forward(x)` caches what its `backward(dy)` needs; `backward` stores ∂l/∂θ in each parameter's `grad`
and returns ∂l/∂x. Every layer is checked against PyTorch autograd in float64 (tests/scratch/scratch_oracle.py).
"""

from ._base import Layer, Param, Sequential, input_grad_off, name_layers
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Tanh, create_act
from .conv import Conv2d
from .dropout import Dropout
from .explain import BackpropExplanation, explain_backprop, format_backprop
from .linear import Flatten, Linear
from .losses import LogSoftmax, MSELoss, NLLLoss, SigmoidBCE, SoftmaxCrossEntropy
from .models import (
    SCRATCH_MODELS,
    ScratchClassifier,
    build_scratch_model,
    load_torch_state_dict,
    to_torch,
    to_torch_state_dict,
)
from .norm import BatchNorm, ChannelAffine, GroupNorm, InstanceNorm, LayerNorm, Standardize, create_norm
from .optim import SGD, Adam, Optimizer, create_optimizer
from .pool import AvgPool2d, MaxPool2d
from .train import EpochStats, ScratchResult, evaluate, fit

__all__ = [
    "SCRATCH_MODELS",
    "SGD",
    "Adam",
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
