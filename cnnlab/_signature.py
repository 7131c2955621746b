"""Checking keyword arguments against a builder's signature, so a typo gets a clear error, not a TypeError."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping

from .errors import ConfigError, suggest


def keyword_names(*fns: Callable) -> set[str]:
    """Names that can be passed by keyword to any of `fns` (a **kwargs catch-all is not counted)."""
    names: set[str] = set()
    for fn in fns:
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                names.add(p.name)
    return names


def check_kwargs(what: str, kwargs: Mapping[str, object], accepted: Iterable[str]) -> None:
    """Raise ConfigError naming the first keyword of `kwargs` that `what` does not accept."""
    accepted = set(accepted)
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(f"{what} takes no argument {key!r}; {suggest(key, accepted)}")
