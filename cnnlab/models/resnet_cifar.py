"""The CIFAR ResNets of He et al. (2016), §4.2, and their plain twins without shortcuts.

6n + 2 layers: a 3×3 conv (16 channels), three stages of n basic blocks at 16, 32 and 64 channels (32×32, 16×16,
8×8), global average pool, FC. Shortcuts are identities, zero-padded where channels double ("option A"), so the
residual nets have exactly as many parameters as the plain ones.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from ..errors import ConfigError
from ..layers import ActSpec, BasicBlock, ClassifierHead, ConvNormAct, NormSpec
from ._base import Classifier, check_common, kaiming_init_, pair
from ._registry import register_model
from .resnet import make_stage, without_shortcuts


class CifarResNet(Classifier):
    """ResNet-(6n+2) for 32×32 images.

    Args:
        depth: 20, 32, 44, 56, 110, … (positional; fixed by the variant); must be 6n + 2.
        num_classes, in_channels: outputs and image channels.
        act, norm: in every block and the stem (classic: ReLU, BatchNorm).
        dropout: before the final FC (classic: none).
        residual: 'zero_pad' (option A, the paper's CIFAR choice), 'identity' (projection where shapes change),
            'projection' or 'none' (plain).
        widths: channels of the three stages (the paper's 16, 32, 64); the stem has widths[0]. Narrower nets, such
            as (4, 8, 16), train deep stacks on a CPU in seconds.
        input_size: image size, int or (H, W) (any size works: the head pools globally); recorded for `summary`.
    """

    def __init__(
        self,
        depth: int,
        /,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        act: ActSpec = "relu",
        norm: NormSpec = "batch",
        dropout: float = 0.0,
        residual: bool | str = "zero_pad",
        widths: Sequence[int] = (16, 32, 64),
        input_size: int | tuple[int, int] = 32,
    ):
        super().__init__()
        check_common(num_classes, in_channels, dropout)
        widths = tuple(widths)
        if len(widths) != 3 or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ConfigError(f"widths are three positive channel counts, one per stage, got {widths!r}")
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError(f"a CIFAR ResNet has 6n + 2 layers (20, 32, 44, 56, 110, …), got depth {depth}")
        n = (depth - 2) // 6
        stages: OrderedDict[str, nn.Module] = OrderedDict(
            stem=ConvNormAct(in_channels, widths[0], 3, norm=norm, act=act)
        )
        channels = widths[0]
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages[f"layer{i + 1}"], channels = make_stage(
                BasicBlock, channels, width, n, stride, residual=residual, norm=norm, act=act
            )
        self.features = nn.Sequential(stages)
        self.head = ClassifierHead(channels, num_classes, pool="avg", dropout=dropout)
        self.input_size = (in_channels, *pair(input_size))
        self.num_classes = num_classes
        kaiming_init_(self)


@register_model
def cifar_resnet(*, depth: int = 20, **kwargs) -> CifarResNet:
    """CIFAR ResNet of any depth 6n + 2 (8, 14, 20, 26, …) and stage widths; residual='none' gives its plain twin."""
    return CifarResNet(depth, **kwargs)


@register_model
def resnet20(**kwargs) -> CifarResNet:
    """ResNet-20 for CIFAR (n = 3), 269,722 parameters."""
    return CifarResNet(20, **kwargs)


@register_model
def resnet32(**kwargs) -> CifarResNet:
    """ResNet-32 for CIFAR (n = 5)."""
    return CifarResNet(32, **kwargs)


@register_model
def resnet44(**kwargs) -> CifarResNet:
    """ResNet-44 for CIFAR (n = 7)."""
    return CifarResNet(44, **kwargs)


@register_model
def resnet56(**kwargs) -> CifarResNet:
    """ResNet-56 for CIFAR (n = 9), 853,018 parameters."""
    return CifarResNet(56, **kwargs)


@register_model
def resnet110(**kwargs) -> CifarResNet:
    """ResNet-110 for CIFAR (n = 18), 1,727,962 parameters."""
    return CifarResNet(110, **kwargs)


@register_model
def plain20(**kwargs) -> CifarResNet:
    """Plain-20: ResNet-20 without shortcuts."""
    return CifarResNet(20, **without_shortcuts(kwargs))


@register_model
def plain32(**kwargs) -> CifarResNet:
    """Plain-32: ResNet-32 without shortcuts."""
    return CifarResNet(32, **without_shortcuts(kwargs))


@register_model
def plain44(**kwargs) -> CifarResNet:
    """Plain-44: ResNet-44 without shortcuts."""
    return CifarResNet(44, **without_shortcuts(kwargs))


@register_model
def plain56(**kwargs) -> CifarResNet:
    """Plain-56: ResNet-56 without shortcuts; trains worse than plain20 (the degradation problem, Fig. 6)."""
    return CifarResNet(56, **without_shortcuts(kwargs))


@register_model
def plain110(**kwargs) -> CifarResNet:
    """Plain-110: ResNet-110 without shortcuts."""
    return CifarResNet(110, **without_shortcuts(kwargs))
