"""The classic model zoo and its registry: `create('resnet20', act='sigmoid')`, `list_models('vgg*')`.

Each family lives in its own module and registers its builders when imported here.
"""

from . import alexnet, densenet, googlenet, lenet, mlp, nin, recurrent, resnet, resnet_cifar, small_cnn, tinydet, vgg  # noqa: F401
from ._base import Classifier
from ._registry import create, list_models, model_doc, model_kwargs, register_model
from .alexnet import AlexNet
from .densenet import DenseNet
from .googlenet import GoogLeNet, GoogLeNetOutputs
from .lenet import LeNet5
from .mlp import MLP
from .nin import NiN
from .recurrent import RecurrentNet
from .resnet import ResNet
from .resnet_cifar import CifarResNet
from .small_cnn import SmallCNN
from .summary import LayerRow, ModelSummary, format_summary, summarize
from .tinydet import TinyDet, TinyDetOutputs
from .vgg import VGG

__all__ = [
    "MLP",
    "VGG",
    "AlexNet",
    "CifarResNet",
    "Classifier",
    "DenseNet",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "LayerRow",
    "LeNet5",
    "ModelSummary",
    "NiN",
    "RecurrentNet",
    "ResNet",
    "SmallCNN",
    "TinyDet",
    "TinyDetOutputs",
    "create",
    "format_summary",
    "list_models",
    "model_doc",
    "model_kwargs",
    "register_model",
    "summarize",
]
