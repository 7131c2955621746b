"""cnnlab: classic convolutional neural networks as switchable, tested, visible components."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cnnlab")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from .errors import CnnlabError, ConfigError, ShapeError


def version_line() -> str:
    """What `cnnlab --version` prints: 'cnnlab X (torch Y)', torch's version read from its installed metadata, so
    that the answer comes without importing torch."""
    try:
        torch_version = version("torch")
    except PackageNotFoundError:  # a torch that was not installed as a package (a source tree on the path)
        import torch

        torch_version = torch.__version__
    return f"cnnlab {__version__} (torch {torch_version})"


__all__ = ["CnnlabError", "ConfigError", "ShapeError", "__version__", "create", "list_models", "version_line"]


def __getattr__(name: str):
    """`cnnlab.create` and `cnnlab.list_models`, imported on first use (PEP 562) so that the torch-free parts,
    such as `cnnlab.metrics`, can be imported without importing torch."""
    if name in ("create", "list_models"):
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")
