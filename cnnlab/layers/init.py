"""Weight initialization as a switch: `init_weights(model, 'he')`, `'xavier:0.5'`, `'orthogonal'`, `'he:2.0'`.

Every convolution, linear and recurrent layer's weights are drawn anew by the scheme (formulas in
`cnnlab._spec.init_std`) and their biases set to zero; normalization layers keep their ones and zeros. 'default'
keeps PyTorch's own initialization (a gain still multiplies it: 'default:2.0'). A gain above or below 1 builds
exploding or vanishing signals on purpose: through L layers the scale of the activations changes by about gain^L.

Fans: a Linear(in, out) has fan_in = in, fan_out = out; a Conv2d adds the kernel area to both (PyTorch's
convention). Each of a recurrent layer's weight matrices (input-to-hidden, hidden-to-hidden, one block per gate)
is initialized as a linear map of its own.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from .._spec import parse_init

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def _draw(weight: torch.Tensor, scheme: str, gain: float) -> torch.Tensor:
    """A new tensor shaped like `weight` (out, in, *kernel), drawn by `scheme` with torch's global generator."""
    w = torch.empty_like(weight)
    if scheme == "default":
        return weight.detach() * gain
    if scheme == "xavier_uniform":
        return nn.init.xavier_uniform_(w, gain=gain)
    if scheme == "xavier_normal":
        return nn.init.xavier_normal_(w, gain=gain)
    if scheme == "he_normal":
        return nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu").mul_(gain)
    if scheme == "he_uniform":
        return nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu").mul_(gain)
    if scheme == "he_fan_out":
        return nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu").mul_(gain)
    return nn.init.orthogonal_(w, gain=gain)


def _set(module: nn.Module, name: str, value: torch.Tensor) -> None:
    if parametrize.is_parametrized(module, name):  # weight norm: assigning goes through its right inverse
        setattr(module, name, value)
    else:
        getattr(module, name).copy_(value)


@torch.no_grad()
def init_weights(model: nn.Module, init: str = "default") -> nn.Module:
    """Re-initialize `model`'s conv, linear and recurrent weights by `init` ('he', 'xavier:0.5', …); returns it."""
    scheme, gain = parse_init(init)
    if scheme == "default" and gain == 1.0:
        return model
    for module in model.modules():
        if isinstance(module, _LAYERS):
            weight = module.weight
            _set(module, "weight", _draw(weight, scheme, gain))
            if module.bias is not None and scheme != "default":
                module.bias.zero_()
        elif isinstance(module, nn.RNNBase):
            gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
            for name, param in module.named_parameters(recurse=False):
                if name.startswith("weight"):
                    blocks = param.chunk(gates, dim=0)  # (gates·H, in) -> gates × (H, in)
                    param.copy_(torch.cat([_draw(b, scheme, gain) for b in blocks]))
                elif scheme != "default":
                    param.zero_()
    return model
