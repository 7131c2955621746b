"""Cached results: one JSON file per (study, profile, arm, seed), written atomically.

Layout: OUT/<study>/<profile>/<arm>/seed-<k>.json, each holding the numbers with the design digest they were
measured under, the seconds they took and the versions. A file whose digest differs from the study's current one
is stale: it is measured again and replaced. A killed run leaves only whole files (or none), so running the same
command again resumes where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write_text
from ..errors import ConfigError

MAX_FILE_BYTES = 16 * 2**20  # a unit's numbers are small; refuse to parse anything larger


@dataclass(frozen=True)
class Unit:
    """One run of a study: (study, profile, arm, seed)."""

    study: str
    profile: str
    arm: str
    seed: int

    def path(self, out: Path) -> Path:
        return Path(out) / self.study / self.profile / self.arm / f"seed-{self.seed}.json"


def load_unit(out: Path, unit: Unit, digest: str) -> dict[str, Any] | None:
    """The cached record of `unit`, or None when it is absent, unreadable or measured under another digest."""
    path = unit.path(out)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("digest") != digest or not isinstance(record.get("numbers"), dict):
        return None
    return record


def save_unit(out: Path, unit: Unit, record: dict[str, Any]) -> None:
    atomic_write_text(unit.path(out), json.dumps(record, allow_nan=False, indent=1) + "\n", durable=False)


def cached_seeds(out: Path, study: str, profile: str, arm: str) -> list[int]:
    """Seeds with a file for (study, profile, arm), sorted (their digests are not checked here)."""
    folder = Path(out) / study / profile / arm
    seeds = []
    for path in folder.glob("seed-*.json"):
        try:
            seeds.append(int(path.stem.removeprefix("seed-")))
        except ValueError:
            continue
    return sorted(seeds)


def check_out_dir(out: Path) -> Path:
    """`out` as a directory that is or can become a study cache; refuses a file or another program's folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a directory for the study results")
    if out.is_dir():
        foreign = [p.name for p in out.iterdir() if not (p.is_dir() or p.suffix in (".html", ".json"))]
        if foreign:
            raise ConfigError(
                f"--out {out} holds other files ({', '.join(sorted(foreign)[:3])}); give an empty or new directory, "
                "or one that cnnlab study run wrote"
            )
    return out
