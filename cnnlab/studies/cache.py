"""Cached results: one JSON file per (study, profile, arm, seed), written atomically.

Layout: OUT/<study>/<profile>/<arm>/seed-<k>.json, each holding the numbers with the design digest they were
measured under, the seconds they took and the versions. A file whose digest differs from the study's current one
is stale: it is measured again and replaced. A killed run leaves only whole files (or none), so running the same
command again resumes where it stopped.

A record is read back only if it is whole and sound (`load_arm`): valid UTF-8 JSON holding an object, no NaN or
Infinity (the writer stores a non-finite number as null and refuses NaN, so one in a file was put there by hand),
`seconds` a finite number, `numbers` an object, and numbers of the same shape as the other seeds of the same arm.
Anything else is *bad*: `cnnlab study run` measures it again and says so; `cnnlab study report` refuses the cache,
naming the file, rather than decide from fewer seeds than were run.

Trainings that several studies or arms share (the detector's default arm in three detector studies) are kept once,
keyed by what determines their numbers rather than by study and arm: OUT/_shared/<kind>/<key>/seed-<k>.json, where
the key is a hash of the training's configuration (`shared_numbers`). A worker that needs one another worker is
computing waits for it (an advisory lock) instead of training it twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import DISK_FULL, atomic_write_text, write_failure
from ..errors import ConfigError, RunWriteError, short_repr

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
    """The cached record of `unit`, or None when it is absent, bad (`load_arm`) or measured under another digest."""
    return load_arm(out, unit.study, unit.profile, unit.arm, digest).good.get(unit.seed)


@dataclass(frozen=True)
class ArmRecords:
    """What the cache holds for one (study, profile, arm) under one design digest.

    Attributes:
        good: seed -> its record, measured under the digest and sound.
        bad: seed -> one line naming its file and what is wrong with it (a file measured under another digest is
            neither: it is stale, not bad).
    """

    good: dict[int, dict[str, Any]]
    bad: dict[int, str]


def load_arm(out: Path, study: str, profile: str, arm: str, digest: str) -> ArmRecords:
    """Every cached seed of (study, profile, arm), sorted into sound records of `digest` and bad files.

    A record is checked against what the study's `run` returns without running it again, in two steps. Alone: it is
    an object naming this unit, with a finite `seconds`, an object of `numbers` and an object or no `environment`,
    and it holds no NaN or Infinity, which cnnlab never writes (`check_numbers` turns a non-finite number into null,
    and the file is written with allow_nan=False), so every number in a sound record is finite or null. Then beside
    its siblings: `run` returns the same keys with the same kinds of value for every seed of an arm (a list may be
    longer or empty, a number may be null), so a record that lacks a key another seed holds, or holds a string or
    a list where most seeds hold a number, was damaged or edited (every disagreeing seed is bad when no kind has a
    majority there). A study whose `run` returns other keys than before must change its `version`: the digest
    then makes the old records stale instead of bad.
    """
    folder = Path(out) / study / profile / arm
    good: dict[int, dict[str, Any]] = {}
    bad: dict[int, str] = {}
    for seed in cached_seeds(out, study, profile, arm):
        path = folder / f"seed-{seed}.json"
        try:
            record = parse_record(path)
        except FileNotFoundError:  # removed since it was listed
            continue
        except RecordError as exc:
            bad[seed] = f"{path} {exc}"
            continue
        if record.get("digest") != digest:
            continue
        problem = _record_problem(record, Unit(study, profile, arm, seed))
        if problem:
            bad[seed] = f"{path} {problem}"
        else:
            good[seed] = record
    for seed, problem in _disagreements({s: value_kinds(r["numbers"]) for s, r in good.items()}).items():
        bad[seed] = f"{folder / f'seed-{seed}.json'} {problem}"
        del good[seed]
    return ArmRecords(good, dict(sorted(bad.items())))


class RecordError(ValueError):
    """Why a cached JSON file cannot be read back, as the end of a sentence that starts with its path."""


def parse_record(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; FileNotFoundError when absent, a RecordError when it cannot be used."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RecordError(f"is larger than {MAX_FILE_BYTES // 2**20} MiB, more than any record")
        text = path.read_bytes().decode("utf-8")
        record = json.loads(text, parse_constant=_refuse_constant)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise RecordError(f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise RecordError("is not UTF-8 text") from None
    except RecordError:
        raise
    except ValueError:
        raise RecordError("is not valid JSON (cut short?)") from None
    except RecursionError:
        raise RecordError("is nested deeper than any record") from None
    if not isinstance(record, dict):
        raise RecordError(f"holds a JSON {_json_kind(record)}, not an object")
    return record


def _refuse_constant(name: str) -> float:
    raise RecordError(f"holds {name}, which cnnlab never writes (a non-finite number is stored as null)")


def read_record(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is absent, unreadable, too large or not an object."""
    try:
        return parse_record(path)
    except (OSError, RecordError):
        return None


def _record_problem(record: dict[str, Any], unit: Unit) -> str:
    """What makes a record of the current digest unusable on its own ('' when nothing)."""
    for name in ("study", "profile", "arm", "seed"):
        if record.get(name) != getattr(unit, name):
            return f"names {name} {short_repr(record.get(name))}, not {getattr(unit, name)!r} as its place does"
    if not isinstance(record.get("numbers"), dict):
        return _field(record, "numbers", "an object of numbers")
    seconds = record.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        return _field(record, "seconds", "a number of seconds")
    if not isinstance(record.get("environment", {}), dict):
        return _field(record, "environment", "an object")
    return ""


def _field(record: dict[str, Any], name: str, expected: str) -> str:
    return f"has '{name}' {short_repr(record[name])}, not {expected}" if name in record else f"has no '{name}'"


def _json_kind(value: Any) -> str:
    """'number' (an int, a float, or null: a non-finite number), 'bool', 'str', 'list' or 'object'."""
    if isinstance(value, bool):
        return "bool"
    if value is None or isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    return "list" if isinstance(value, list) else "object"


Place = tuple[str | None, ...]  # ('curve', None): the elements of numbers['curve']


def value_kinds(numbers: dict[str, Any]) -> dict[Place, frozenset[str]]:
    """Each place in `numbers` (a key, a nested key, the elements of a list) with the kinds of value found there."""
    found: dict[Place, set[str]] = {}

    def visit(value: Any, place: Place) -> None:
        found.setdefault(place, set()).add(_json_kind(value))
        if isinstance(value, list):
            for item in value:
                visit(item, (*place, None))
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, (*place, key))

    for key, value in numbers.items():
        visit(value, (key,))
    return {place: frozenset(kinds) for place, kinds in found.items()}


def _disagreements(kinds: dict[int, dict[Place, frozenset[str]]]) -> dict[int, str]:
    """Seeds whose numbers differ in shape from the other seeds' of the same arm, each with what differs."""
    odd: dict[int, str] = {}
    keys = {place for own in kinds.values() for place in own if len(place) == 1}
    for seed, own in kinds.items():
        for key in sorted(keys - own.keys()):
            other = min(s for s, theirs in kinds.items() if key in theirs)
            odd.setdefault(seed, f"lacks numbers{_where(key)}, which seed {other} holds")
    for place in sorted({p for own in kinds.values() for p in own}, key=str):
        held = {seed: own[place] for seed, own in kinds.items() if place in own}
        counts = Counter(held.values())
        if len(counts) == 1:
            continue
        usual, n = counts.most_common(1)[0]
        for seed, found in held.items():
            if found != usual or 2 * n <= len(held):
                other = min(s for s, theirs in held.items() if theirs != found)
                odd.setdefault(seed, f"holds {' or '.join(sorted(found))} at numbers{_where(place)}, where seed "
                               f"{other} holds {' or '.join(sorted(held[other]))}")  # fmt: skip
    return odd


def _where(place: Place) -> str:
    """('curve', None) -> "['curve'][…]"."""
    return "".join("[…]" if key is None else f"[{key!r}]" for key in place)


def save_unit(out: Path, unit: Unit, record: dict[str, Any]) -> None:
    write_record(unit.path(out), record, out)


def save_verdict_record(out: Path, study: str, profile: str, record: dict[str, Any]) -> None:
    write_record(Path(out) / study / profile / "verdict.json", record, out)


def write_record(path: Path, record: dict[str, Any], out: Path) -> None:
    """Write `record` to `path` atomically; a failed write (a full disk) is one RunWriteError line saying that the
    records already in `out` are intact and how to go on."""
    text = json.dumps(record, allow_nan=False, indent=1) + "\n"
    try:
        atomic_write_text(path, text, durable=False)
    except OSError as exc:
        raise _write_failed(exc, path, out) from exc


def _write_failed(exc: OSError, path: Path, out: Path) -> RunWriteError:
    reason = write_failure(exc, path.parent)
    fix = "make room, then" if reason == DISK_FULL else "once that is fixed,"
    return RunWriteError(
        f"cannot write {path}: {reason}; the finished units in {out} are intact; {fix} run the same command to continue"
    )


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".lock").touch()
    except OSError as exc:
        raise _write_failed(exc, path, Path(out)) from exc
    with _locked(path.with_suffix(".lock")):
        found = _read_shared(path, config)  # another worker may have finished it while this one waited
        if found is not None:
            return found, True
        started = time.perf_counter()
        numbers = compute()
        record = {"config": json.loads(json.dumps(config, default=str)), "seed": seed,
                  "seconds": time.perf_counter() - started, "numbers": numbers}  # fmt: skip
        write_record(path, record, Path(out))
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
