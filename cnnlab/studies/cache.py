"""Cached results: one JSON file per (study, profile, arm, seed), written atomically.

Layout: OUT/<study>/<profile>/<arm>/seed-<k>.json, each holding the numbers with the design digest they were
measured under, the seconds they took and the versions. A file whose digest differs from the study's current one
is stale: it is measured again and replaced. A killed run leaves only whole files (or none), so running the same
command again resumes where it stopped.

Trainings that several studies or arms share (the detector's default arm in three detector studies) are kept once,
keyed by what determines their numbers rather than by study and arm: OUT/_shared/<kind>/<key>/seed-<k>.json, where
the key is a hash of the training's configuration (`shared_numbers`). A worker that needs one another worker is
computing waits for it (an advisory lock) instead of training it twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
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
    record = read_record(unit.path(out))
    if record is None or record.get("digest") != digest or not isinstance(record.get("numbers"), dict):
        return None
    return record


def read_record(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is absent, unreadable, too large or not an object."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def save_unit(out: Path, unit: Unit, record: dict[str, Any]) -> None:
    atomic_write_text(unit.path(out), json.dumps(record, allow_nan=False, indent=1) + "\n", durable=False)


def save_verdict_record(out: Path, study: str, profile: str, record: dict[str, Any]) -> None:
    text = json.dumps(record, allow_nan=False, indent=1) + "\n"
    atomic_write_text(Path(out) / study / profile / "verdict.json", text, durable=False)


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
    """`out` as a directory that is or can become a study cache; refuses a file or another program's folder.

    Beside the records it may hold reports (.html) and notes about the results (README.md), as a committed
    reference run does."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a directory for the study results")
    if out.is_dir():
        ours = (".html", ".json")
        foreign = [p.name for p in out.iterdir() if not (p.is_dir() or p.suffix in ours or p.name == "README.md")]
        if foreign:
            raise ConfigError(
                f"--out {out} holds other files ({', '.join(sorted(foreign)[:3])}); give an empty or new directory, "
                "or one that cnnlab study run wrote"
            )
    return out


SHARED = "_shared"  # OUT/_shared/<kind>/<key>/seed-<k>.json: trainings shared by studies or arms


def shared_key(config: Mapping[str, Any]) -> str:
    """A hash of everything that determines a shared training's numbers (its configuration, data and version)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def shared_numbers(
    out: Path | None, kind: str, config: Mapping[str, Any], seed: int, compute: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """The numbers of one training that several studies or arms share, computed once per cache: (numbers, whether
    they were read back rather than computed here). Without a cache (`out` None) it just computes."""
    if out is None:
        return compute(), False
    path = Path(out) / SHARED / kind / shared_key(config) / f"seed-{seed}.json"
    found = _read_shared(path, config)
    if found is not None:
        return found, True
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_suffix(".lock")):
        found = _read_shared(path, config)  # another worker may have finished it while this one waited
        if found is not None:
            return found, True
        started = time.perf_counter()
        numbers = compute()
        record = {"config": json.loads(json.dumps(config, default=str)), "seed": seed,
                  "seconds": time.perf_counter() - started, "numbers": numbers}  # fmt: skip
        atomic_write_text(path, json.dumps(record, allow_nan=False, indent=1) + "\n", durable=False)
    return numbers, False


def _read_shared(path: Path, config: Mapping[str, Any]) -> dict[str, Any] | None:
    record = read_record(path)
    same = record is not None and record.get("config") == json.loads(json.dumps(config, default=str))
    return record["numbers"] if same and isinstance(record.get("numbers"), dict) else None


class _locked:
    """An exclusive advisory lock on `path` (`fcntl.flock`), waited for; a no-op where fcntl is missing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _locked:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except ImportError:
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the lock
