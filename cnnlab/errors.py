"""The library's error types and the messages they share.

Every error a user can cause by what they pass in (a name, a shape, a file) derives from `CnnlabError`; the CLI
prints those as one line and exits with status 2. Errors about values are also `ValueError`s, so plain Python
code can catch them the usual way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CnnlabError(Exception):
    """Base class for errors caused by the caller's input."""


class ConfigError(CnnlabError, ValueError):
    """An unknown name, a bad argument or an inconsistent combination of arguments."""


class ShapeError(CnnlabError, ValueError):
    """A tensor whose shape does not fit the layer it was fed to."""


class AnnotationError(CnnlabError, ValueError):
    """A malformed box, annotation or detection: a missing field, a NaN coordinate, an unknown image id..."""


def suggest(name: object, options: Iterable[str]) -> str:
    """'did you mean 'x' or 'y'?' for close matches of `name`, else 'choose one of: ...' listing all options."""
    options = sorted(options)
    close = difflib.get_close_matches(str(name), options, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "choose one of: " + ", ".join(options)


def unknown_name(kind: str, name: object, options: Iterable[str]) -> ConfigError:
    """An error for an unknown `name` of `kind`, naming close matches or else every option."""
    return ConfigError(f"unknown {kind} {name!r}; {suggest(name, options)}")


def shape_str(shape: Iterable[int]) -> str:
    """(8, 1, 32, 32) -> '8×1×32×32'."""
    return "×".join(str(int(s)) for s in shape)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def conv_channel_message(
    where: str, in_channels: int, out_channels: int, kernel_size: tuple[int, int], groups: int, input_shape
) -> str:
    """The rule of a convolution: every kernel has as many channels as the input.

    Shared by the PyTorch layers and the NumPy reference so both speak the same language.
    """
    kh, kw = kernel_size
    per_kernel = in_channels // groups
    got = tuple(input_shape)
    got_channels = got[-3] if len(got) >= 3 else None
    if groups == 1:
        rule = (
            f"each of its {out_channels} kernels has {in_channels} input channels "
            f"({per_kernel}×{kh}×{kw}), one per channel of the input"
        )
    else:
        rule = (
            f"its input must have {in_channels} channels ({groups} groups; each of its {out_channels} kernels "
            f"has {per_kernel} input channels, {per_kernel}×{kh}×{kw})"
        )
    if got_channels is None or len(got) not in (3, 4):
        arrived = f"but the input has shape {shape_str(got)}, not (N, C, H, W)"
        fix = "pass a batch of images shaped (N, C, H, W)"
    else:
        arrived = f"but the input has shape {shape_str(got)}, which is {_count(got_channels, 'channel')}"
        fix = (
            f"build the model with in_channels={got_channels}, "
            f"or convert the images to {_count(in_channels, 'channel')}"
        )
    return f"{where}: {rule}, {arrived}; {fix}"


def linear_features_message(where: str, in_features: int, out_features: int, input_shape) -> str:
    """A fully connected layer's feature count is fixed when it is built; say what arrived and the usual cause.

    Shared by the PyTorch layers and the NumPy reference so both speak the same language.
    """
    got = tuple(input_shape)
    features = got[-1] if got else 0
    return (
        f"{where}: it connects {in_features} input features to each of its {out_features} outputs, "
        f"but the input has shape {shape_str(got)} ({features} features); "
        "if this follows a flattened feature map, the image size differs from the one the model was "
        "built for: pass the model your input size (input_size=..., or small_input=True)"
    )


class DataError(CnnlabError, ValueError):
    """A data file or folder that is missing, damaged or not in the expected format."""
