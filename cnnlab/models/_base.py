"""What every model in the zoo shares: features → head, and the weight initializations of the classic papers."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..errors import ConfigError


class Classifier(nn.Module):
    """`features` maps (N, C, H, W) images to a feature map; `head` maps it to (N, num_classes) logits.

    Attributes:
        input_size: the (C, H, W) the model was built for (used by `summary` when no input is given).
        num_classes: number of outputs.
    """

    features: nn.Module
    head: nn.Module
    input_size: tuple[int, int, int]
    num_classes: int

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def check_common(num_classes: int, in_channels: int, dropout: float = 0.0) -> None:
    """Validate the arguments every model takes."""
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}")
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ConfigError(f"in_channels must be a positive integer, got {in_channels!r}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout is a probability in [0, 1), got {dropout!r}")


def pair(size: int | tuple[int, int], what: str = "input_size") -> tuple[int, int]:
    """32 -> (32, 32); (28, 32) stays; anything else raises."""
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h < 1 or w < 1:
        raise ConfigError(f"{what} must be positive, got {size!r}")
    return int(h), int(w)


def init_weight_(module: nn.Module, fn: Callable[[torch.Tensor], object]) -> None:
    """Apply initializer `fn` to `module.weight`, also when weight normalization re-parametrizes it.

    A re-parametrized weight is computed on every access, so initializing it in place would be lost: the new
    value is assigned instead, and weight norm's right inverse sets g and v from it.
    """
    if parametrize.is_parametrized(module, "weight"):
        weight = torch.empty_like(module.weight)
        fn(weight)
        with torch.no_grad():
            module.weight = weight
    else:
        fn(module.weight)


def init_norms_(model: nn.Module) -> None:
    """Norm layers start as identity maps: scale 1, shift 0."""
    for m in model.modules():
        norms = nn.BatchNorm2d | nn.BatchNorm1d | nn.GroupNorm | nn.InstanceNorm2d | nn.LayerNorm
        if isinstance(m, norms) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def kaiming_init_(model: nn.Module, *, linear_std: float | None = None) -> None:
    """He et al. (2015) init for every conv (normal, fan_out, ReLU gain), as torchvision's ResNet, VGG, DenseNet.

    Conv biases start at 0. With `linear_std`, linear weights are N(0, linear_std²) and biases 0 (VGG);
    otherwise linear layers keep PyTorch's default.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            init_weight_(m, lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            init_weight_(m, lambda w: nn.init.normal_(w, 0.0, linear_std))
            nn.init.zeros_(m.bias)
    init_norms_(model)
