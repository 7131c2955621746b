"""Setting a run up: the device, mixed precision, memory layout, seeds and the model sized for its data."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..layers import set_inplace
from ..models import create, model_kwargs
from .config import TrainConfig


def resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but this PyTorch sees no CUDA device; use --device cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def autocast_for(amp: str, device: torch.device) -> tuple[contextlib.AbstractContextManager, str]:
    """Mixed precision. Off by default: on an H100, bf16 autocast trained resnet20 and small-input resnet18 at
    batch 256 more slowly than fp32, whose convolutions already use TF32 (benchmarks/gpu_throughput.py)."""
    if amp not in ("off", "bf16", "fp16"):
        raise ConfigError(f"amp must be 'off', 'bf16' or 'fp16', got {amp!r}")
    if amp == "off":
        return contextlib.nullcontext(), amp
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError("fp16 mixed precision needs a CUDA device; on CPU use --amp bf16 or off")
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype), amp


def memory_format_for(setting: str, model: nn.Module) -> torch.memory_format:
    """channels_last for conv nets unless turned off (benchmarks/engine_speed.py measures the gain)."""
    if setting not in ("auto", "on", "off"):
        raise ConfigError(f"channels_last must be 'auto', 'on' or 'off', got {setting!r}")
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    use = setting == "on" or (setting == "auto" and has_conv)
    return torch.channels_last if use else torch.contiguous_format


def speed_settings(model: nn.Module, config: TrainConfig) -> torch.memory_format:
    """Apply the trainer's speed settings to `model`: in-place ReLUs and residual adds (`config.inplace`), and
    return the memory layout (`config.channels_last`) the model and its inputs take. benchmarks/engine_speed.py
    times exactly this path against plain NCHW."""
    set_inplace(model, enabled=config.inplace)
    return memory_format_for(config.channels_last, model)


def model_keywords(config: TrainConfig, num_classes: int, input_size: tuple[int, int, int]) -> dict[str, Any]:
    """Keyword arguments that size `config.model` for the data (classes, channels and, where the model takes it,
    image size) and apply the config's switches; used by both engines."""
    kwargs: dict[str, Any] = {"num_classes": num_classes, "in_channels": input_size[0]}
    if "input_size" in model_kwargs(config.model):
        kwargs["input_size"] = input_size[1:]
    for key in ("act", "norm", "dropout"):
        if getattr(config, key) is not None:
            kwargs[key] = getattr(config, key)
    if config.init != "default":
        kwargs["init"] = config.init
    kwargs.update(config.model_kwargs)
    return kwargs


def build_model(config: TrainConfig, num_classes: int, input_size: tuple[int, int, int]) -> nn.Module:
    """The model of `config` sized for the data."""
    return create(config.model, **model_keywords(config, num_classes, input_size))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
