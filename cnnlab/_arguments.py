"""Checks of the arguments every model takes; torch-free, shared by the zoo and the NumPy reference's twins."""

from __future__ import annotations

from .errors import ConfigError


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
