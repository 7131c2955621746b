"""Checks of the arguments every model takes, and LeNet-5's geometry; torch-free, shared by the zoo and the NumPy
reference's twins."""

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


def lenet_geometry(input_size: int | tuple[int, int]) -> tuple[int, int, int]:
    """LeNet-5's (padding of C1, height, width of the S4 maps): images smaller than 32×32 are zero-padded evenly to
    32×32 (28×28 MNIST by 2, as in the paper's 32×32 input); C1 and C3 take 4 pixels, S2 and S4 halve."""
    h, w = pair(input_size)
    pad = 0
    if min(h, w) < 32:
        if h != w or h % 2:
            raise ConfigError(
                f"lenet5 zero-pads images smaller than 32×32 evenly to 32×32; got {h}×{w}, "
                "use a square image of even size (e.g. 28)"
            )
        pad = (32 - h) // 2
    side_h, side_w = (((s + 2 * pad - 4) // 2 - 4) // 2 for s in (h, w))  # C1 -4, S2 /2, C3 -4, S4 /2
    return pad, side_h, side_w
