"""Normalization factory: BatchNorm, LayerNorm, InstanceNorm, GroupNorm and WeightNorm.

The first four normalize activations and are layers; they differ only in which axes of an (N, C, H, W) batch share
one mean and variance:

    batch     over N, H, W for each channel   (statistics of the mini-batch; running averages in eval mode)
    layer     over C, H, W for each sample    (here: GroupNorm with one group, so any H×W works)
    instance  over H, W for each sample and channel
    group     over H, W and C/G channels for each sample and group of channels

Weight normalization is different: it normalizes no activation but re-parametrizes the weight of the conv or
linear layer before it as w = g · v / ‖v‖ (Salimans & Kingma, 2016). It is therefore not a layer: `create_norm`
refuses 'weight', and the conv and linear factories (`ConvNormAct`, `LinearNormAct`) apply it to their own weight.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torch.nn.utils import parametrizations

from .._spec import group_count, parse_spec
from ..errors import ConfigError, unknown_name

NormSpec = str | Callable[[int], nn.Module] | None

NORM_NAMES: tuple[str, ...] = ("batch", "layer", "instance", "group", "weight", "none")


class LayerNorm2d(nn.GroupNorm):
    """LayerNorm over (C, H, W) of each sample, with a per-channel scale and shift.

    GroupNorm with a single group computes exactly these statistics and, unlike `nn.LayerNorm([C, H, W])`, does not
    fix H and W when the model is built.
    """

    def __init__(self, num_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__(1, num_channels, eps=eps, affine=affine)


def is_weight_norm(norm: NormSpec) -> bool:
    """True when `norm` asks for weight normalization of the preceding conv or linear layer."""
    return isinstance(norm, str) and parse_spec(norm, "norm")[0] == "weight"


def weight_norm(layer: nn.Module) -> nn.Module:
    """Re-parametrize `layer.weight` as g · v / ‖v‖, one g per output channel; returns `layer`."""
    return parametrizations.weight_norm(layer, name="weight", dim=0)


def create_norm(norm: NormSpec, channels: int, *, dim: int = 2) -> nn.Module | None:
    """Build the normalization layer for `channels` features, or return None for 'none'/None.

    Args:
        norm: 'batch', 'layer', 'instance', 'group' or 'group:G', 'none', a callable taking the channel count, or
            None. 'weight' is refused: it is a re-parametrization, applied by `ConvNormAct(norm='weight')`.
        channels: number of channels (feature maps) or features (vectors).
        dim: 2 for (N, C, H, W) feature maps, 1 for (N, C) feature vectors.
    """
    if norm is None:
        return None
    if not isinstance(norm, str):
        if callable(norm):
            return norm(channels)
        raise ConfigError(f"norm must be a name, a callable or None, got {type(norm).__name__}")
    if dim not in (1, 2):
        raise ConfigError(f"norm dim must be 1 (vectors) or 2 (feature maps), got {dim}")
    name, value = parse_spec(norm, "norm")
    if name not in NORM_NAMES:
        raise unknown_name("norm", norm, NORM_NAMES)
    if value is not None and name != "group":
        raise ConfigError(f"norm {name!r} takes no parameter (got {norm!r}); only 'group:G' does")
    if name == "none":
        return None
    if name == "weight":
        raise ConfigError(
            "weight normalization re-parametrizes a conv or linear weight and is not a layer of its own; "
            "pass norm='weight' to ConvNormAct or LinearNormAct, or call cnnlab.layers.weight_norm(layer)"
        )
    if name == "batch":
        return nn.BatchNorm2d(channels) if dim == 2 else nn.BatchNorm1d(channels)
    if name == "layer":
        return LayerNorm2d(channels) if dim == 2 else nn.LayerNorm(channels)
    if name == "instance":
        if dim == 1:
            raise ConfigError("instance norm needs feature maps (N, C, H, W); a feature vector has no H, W")
        # Learnable per-channel scale and shift, like every other norm here (PyTorch's default has none).
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.GroupNorm(group_count(channels, value), channels)  # group; works on (N, C) and (N, C, H, W)
