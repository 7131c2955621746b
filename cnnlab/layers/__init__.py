"""Building blocks of classic CNNs, each a switchable component: convolutions, pooling, norms, blocks, heads."""

from ._named import name_layers
from .activations import ACT_NAMES, ActSpec, create_act, get_act_layer
from .blocks import RESIDUAL_MODES, BasicBlock, Bottleneck, ZeroPadShortcut, make_shortcut, resolve_residual
from .catalog import BLOCKS, create_block
from .conv import Conv2d, ConvNormAct
from .dense import DenseBlock, DenseLayer, Transition
from .heads import ClassifierHead
from .inception import Inception
from .init import init_weights
from .inplace import set_inplace
from .linear import Linear, LinearNormAct
from .merge import Add, Concat
from .norm import NORM_NAMES, LayerNorm2d, NormSpec, create_norm, is_weight_norm, weight_norm
from .pooling import Flatten, GlobalPool2d, create_pool
from .upsample import Upsample

__all__ = [
    "ACT_NAMES",
    "BLOCKS",
    "NORM_NAMES",
    "RESIDUAL_MODES",
    "ActSpec",
    "Add",
    "BasicBlock",
    "Bottleneck",
    "ClassifierHead",
    "Concat",
    "Conv2d",
    "ConvNormAct",
    "DenseBlock",
    "DenseLayer",
    "Flatten",
    "GlobalPool2d",
    "Inception",
    "LayerNorm2d",
    "Linear",
    "LinearNormAct",
    "NormSpec",
    "Transition",
    "Upsample",
    "ZeroPadShortcut",
    "create_act",
    "create_block",
    "create_norm",
    "create_pool",
    "get_act_layer",
    "init_weights",
    "is_weight_norm",
    "make_shortcut",
    "name_layers",
    "resolve_residual",
    "set_inplace",
    "weight_norm",
]
