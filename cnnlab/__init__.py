"""cnnlab: classic convolutional neural networks as switchable, tested, visible components."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cnnlab")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from .errors import CnnlabError, ConfigError, ShapeError
from .models import create, list_models

__all__ = ["CnnlabError", "ConfigError", "ShapeError", "__version__", "create", "list_models"]
