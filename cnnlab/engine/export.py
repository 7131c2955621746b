"""Trained weights as `model.safetensors`: a format that holds tensors only and loads without any code running."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes
from torch import nn

from .._io import atomic_write
from ..errors import CnnlabError


def export_safetensors(model: nn.Module, path: Path) -> None:
    """Write `model`'s state dict (contiguous, on CPU) to `path` atomically."""
    export_safetensors_state(model.state_dict(), path)


def export_safetensors_state(state_dict: dict[str, torch.Tensor], path: Path) -> None:
    """Write a state dict (contiguous, on CPU) to `path` atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    data = save_bytes(tensors, metadata={"format": "pt", "producer": "cnnlab"})
    atomic_write(path, lambda f: f.write(data))


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict written by `export_safetensors`."""
    path = Path(path)
    if not path.is_file():
        raise CnnlabError(f"no weights at {path}; a finished run directory holds model.safetensors")
    try:
        return load_bytes(path.read_bytes())
    except Exception as exc:  # safetensors raises its own SafetensorError for malformed files
        raise CnnlabError(f"{path} is not a readable safetensors file ({exc}); train the run again") from None
