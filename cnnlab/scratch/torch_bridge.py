"""The NumPy reference's bridge to PyTorch: weights to a zoo twin and back. The one module of `cnnlab.scratch`
that imports torch (and the zoo) when it is imported; the rest of the reference runs without torch installed."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ..models import create as create_torch_model
from ._base import Layer
from .models import ScratchClassifier


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
