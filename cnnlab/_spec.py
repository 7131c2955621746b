"""Parsing of specs such as 'relu', 'leaky_relu:0.1', 'group:8' or 'he:2.0'; torch-free, shared by the layers and
the NumPy reference."""

from __future__ import annotations

import math

from .errors import ConfigError


def parse_spec(spec: str, kind: str) -> tuple[str, float | None]:
    """Split 'name' or 'name:value' into (name, value). Names are case-insensitive; '-' equals '_'."""
    name, sep, value = spec.strip().partition(":")
    name = name.lower().replace("-", "_")
    if not sep:
        return name, None
    try:
        return name, float(value)
    except ValueError:
        raise ConfigError(
            f"bad {kind} spec {spec!r}: the part after ':' must be a number, as in 'leaky_relu:0.1' or 'group:8'"
        ) from None


# ----- group norm: 'group' or 'group:G' (torch-free: the NumPy reference counts groups the same way)

DEFAULT_GROUPS = 32  # Wu & He (2018) found 32 groups best on ImageNet


def group_count(channels: int, requested: float | None) -> int:
    """The groups of a group norm over `channels` channels: `requested` (G of 'group:G') when it divides them,
    else for None the largest divisor of `channels` not above 32 (LeNet's 6 and 16 channels get 6 and 16)."""
    if requested is None:
        return max(g for g in range(1, min(DEFAULT_GROUPS, channels) + 1) if channels % g == 0)
    groups = int(requested)
    if groups != requested or groups < 1 or channels % groups:
        raise ConfigError(
            f"group norm with {requested:g} groups cannot split {channels} channels evenly; "
            f"choose a divisor of {channels}, e.g. 'group:{math.gcd(channels, DEFAULT_GROUPS)}'"
        )
    return groups


# ----- weight initialization: 'he', 'xavier:0.5', 'orthogonal', 'default:2.0' (torch-free: the NumPy reference
# parses the same specs)

INIT_SCHEMES = ("default", "xavier", "xavier_uniform", "xavier_normal", "he", "he_normal", "he_uniform", "he_fan_out",
                "orthogonal")  # fmt: skip
_ALIASES = {"xavier": "xavier_uniform", "he": "he_normal"}  # PyTorch's xavier_uniform_, kaiming_normal_ (fan_in)


def parse_init(spec: str) -> tuple[str, float]:
    """'he:2.0' -> ('he_normal', 2.0): the scheme (aliases resolved) and the gain that multiplies its weights."""
    name, gain = parse_spec(spec, "init")
    if name not in INIT_SCHEMES:
        close = [s for s in INIT_SCHEMES if s.startswith(name[:2])] or INIT_SCHEMES
        raise ConfigError(f"unknown init {spec!r}; choose one of: {', '.join(close)} (optionally ':GAIN', as 'he:2.0')")
    gain = 1.0 if gain is None else gain
    if not (gain > 0 and math.isfinite(gain)):
        raise ConfigError(f"init {spec!r}: the gain after ':' must be a positive number, as in 'he:2.0'")
    return _ALIASES.get(name, name), gain


def init_std(scheme: str, fan_in: int, fan_out: int, gain: float = 1.0, *, receptive: int = 1) -> float:
    """The standard deviation of the weights a scheme draws for a layer with `fan_in` inputs and `fan_out` outputs
    per weight (inputs × kernel area, outputs × kernel area for a conv).

    xavier (Glorot & Bengio, 2010): Var = 2 / (fan_in + fan_out), keeping activations and gradients alike in size
    through linear or tanh layers; he (He et al., 2015): Var = 2 / fan_in (fan_out for he_fan_out), making up for
    the half of a ReLU's inputs it zeroes; orthogonal (Saxe et al., 2014): the weight flattened to an
    (outputs, fan_in) matrix has orthonormal rows or columns, so every entry has variance 1 / max(outputs, fan_in),
    where outputs = fan_out / `receptive` (the kernel area of a conv, 1 for a linear layer). The gain multiplies
    the standard deviation. 'default' (PyTorch's U(−1/√fan_in, 1/√fan_in) for the weights of Linear and Conv
    layers): Var = 1 / (3·fan_in).
    """
    scheme = _ALIASES.get(scheme, scheme)
    if scheme in ("xavier_uniform", "xavier_normal"):
        var = 2.0 / (fan_in + fan_out)
    elif scheme in ("he_normal", "he_uniform"):
        var = 2.0 / fan_in
    elif scheme == "he_fan_out":
        var = 2.0 / fan_out
    elif scheme == "orthogonal":
        var = 1.0 / max(fan_in, fan_out // receptive)
    elif scheme == "default":
        var = 1.0 / (3.0 * fan_in)
    else:
        raise ConfigError(f"unknown init scheme {scheme!r}")
    return gain * math.sqrt(var)
