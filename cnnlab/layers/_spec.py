"""Parsing of layer specs such as 'relu', 'leaky_relu:0.1' or 'group:8'."""

from __future__ import annotations

from ..errors import ConfigError


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
