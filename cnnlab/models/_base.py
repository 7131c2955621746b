"""What every model in the zoo shares: features → head, and the weight initializations of the classic papers."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrize

from .._arguments import check_common, pair  # noqa: F401 (the model files import them from here)


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


def init_weight_(module: nn.Module, fn: Callable[[torch.Tensor], object]) -> None:
    """Apply initializer `fn` to `module.weight`, also when weight normalization re-parametrizes it.

    A re-parametrized weight is computed on every access, so initializing it in place would be lost: the new
    value is assigned instead, and weight norm's right inverse sets g and v from it. A weight on the meta device
    (shapes without values) is left as it is.
    """
    if module.weight.is_meta:
        return
    if parametrize.is_parametrized(module, "weight"):
        weight = torch.empty_like(module.weight)
        fn(weight)
        with torch.no_grad():
            module.weight = weight
    else:
        fn(module.weight)


def on_meta(model: nn.Module) -> bool:
    """Whether `model` was built on the meta device (`cnnlab models`, `summary`): shapes without values, so there
    is nothing to initialize; on the meta device initializers run as slow Python reference code."""
    return any(p.is_meta for p in model.parameters())


def init_norms_(model: nn.Module) -> None:
    """Norm layers start as identity maps: scale 1, shift 0."""
    if on_meta(model):
        return
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
    if on_meta(model):
        return
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            init_weight_(m, lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            init_weight_(m, lambda w: nn.init.normal_(w, 0.0, linear_std))
            nn.init.zeros_(m.bias)
    init_norms_(model)
