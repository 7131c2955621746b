"""The library's error types and the messages they share.

Every error a user can cause by what they pass in (a name, a shape, a file) derives from `CnnlabError`; the CLI
prints those as one line and exits with status 2. Errors about values are also `ValueError`s, so plain Python
code can catch them the usual way.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable

MAX_NAME = 100  # longer names (or non-strings) get no close-match search: difflib is quadratic in the length
_REPR = reprlib.Repr()  # keyword arguments need Python 3.12
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 60, 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


class CnnlabError(Exception):
    """Base class for errors caused by the caller's input."""

    exit_status = 2  # what the CLI exits with after printing the error's one line


class ConfigError(CnnlabError, ValueError):
    """An unknown name, a bad argument or an inconsistent combination of arguments."""


class ShapeError(CnnlabError, ValueError):
    """A tensor whose shape does not fit the layer it was fed to."""


class AnnotationError(CnnlabError, ValueError):
    """A malformed box, annotation or detection: a missing field, a NaN coordinate, an unknown image id..."""


def short_repr(value: object) -> str:
    """repr(value) cut to a few dozen characters, without first building the whole text of a huge or deeply nested
    value (a YAML file of nested aliases expands to billions of items)."""
    text = _REPR.repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def suggest(name: object, options: Iterable[str]) -> str:
    """'did you mean 'x' or 'y'?' for close matches of `name`, else 'choose one of: ...' listing all options.

    Only a string of at most `MAX_NAME` characters is compared with the options; anything else is no one's typo.
    """
    options = sorted(options)
    close = []
    if isinstance(name, str) and len(name) <= MAX_NAME:
        close = difflib.get_close_matches(name, options, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "choose one of: " + ", ".join(options)


def unknown_name(kind: str, name: object, options: Iterable[str]) -> ConfigError:
    """An error for an unknown `name` of `kind`, naming close matches or else every option."""
    return ConfigError(f"unknown {kind} {short_repr(name)}; {suggest(name, options)}")


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


class TrainingDiverged(CnnlabError):
    """The training loss or a gradient became NaN or infinite, or the loss rose far above where the run started
    (see `cnnlab._divergence`). The input was valid but the run failed, so the CLI exits with its own status."""

    exit_status = 3


class RunWriteError(CnnlabError):
    """A run, or an export, could not write one of its files (a full disk, an I/O error); the files written before
    stay intact, so the command can be run again once there is room."""

    exit_status = 4


STARTUP_INTERRUPTED = "interrupted while starting, before anything was done; run the command again"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a training run; the message says how to continue it. Still a KeyboardInterrupt, so code that
    stops on Ctrl-C keeps doing so."""

    exit_status = 130  # 128 + SIGINT, the shell's convention
