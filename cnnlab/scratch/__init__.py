"""The NumPy reference: every layer's forward and backward pass written out by hand, micrograd style.

Each layer's `forward(x)` caches what its `backward(dy)` needs; `backward` stores ∂l/∂θ in each parameter's `grad`
and returns ∂l/∂x. Every layer is checked against PyTorch autograd in float64 (tests/scratch/scratch_oracle.py).
"""

from ._base import Layer, Param, Sequential, input_grad_off, name_layers
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Tanh, create_act
from .conv import Conv2d
from .dropout import Dropout
from .linear import Flatten, Linear
from .losses import LogSoftmax, MSELoss, NLLLoss, SigmoidBCE, SoftmaxCrossEntropy
from .norm import BatchNorm, ChannelAffine, GroupNorm, InstanceNorm, LayerNorm, Standardize, create_norm
from .optim import SGD, Adam, Optimizer, create_optimizer
from .pool import AvgPool2d, MaxPool2d

__all__ = [
    "SGD",
    "Adam",
    "AvgPool2d",
    "BatchNorm",
    "ChannelAffine",
    "Conv2d",
    "Dropout",
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
    "Sequential",
    "Sigmoid",
    "SigmoidBCE",
    "SoftmaxCrossEntropy",
    "Standardize",
    "Tanh",
    "create_act",
    "create_norm",
    "create_optimizer",
    "input_grad_off",
    "name_layers",
]
