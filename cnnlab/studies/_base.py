"""What a study is: a claim, a controlled design, a decision rule fixed in code, and the numbers it collects.

A study runs `run(arm, seed, ctx)` once per (arm, seed): each call is independent, seeded and returns a dict of
JSON numbers, so any scheduler can run the calls anywhere and in any order. The collected numbers form `Results`;
`decide(results)` turns them into a `Verdict`, and `figure` and `table` draw them. Nothing in a rule looks at which
answer a reader expects: the rule is written before the study runs, and its thresholds are constants in the code.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError

VERDICTS = ("supported", "refuted", "nuanced", "inconclusive")
PROFILES = ("quick", "full")
_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_ARM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]*$")  # used in file names


@dataclass(frozen=True)
class Verdict:
    """The study's answer.

    Attributes:
        kind: 'supported', 'refuted', 'nuanced' (the claim holds in part) or 'inconclusive' (the measurement
            cannot decide at this budget).
        sentence: one sentence with the numbers that decided it.
        number: the deciding number, short, for the verdict table (e.g. 'gap −13.3 pts [−15.0, −11.6]').
    """

    kind: str
    sentence: str
    number: str = ""

    def __post_init__(self) -> None:
        if self.kind not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.kind!r}")


@dataclass(frozen=True)
class Table:
    """A table of formatted cells: `columns` are the headers, each row has one cell per column."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table row {row} has {len(row)} cells for {len(self.columns)} columns")

    def format(self) -> str:
        """Plain-text rendering with aligned columns."""
        cells = [self.columns, *self.rows]
        widths = [max(len(str(r[i])) for r in cells) for i in range(len(self.columns))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


@dataclass(frozen=True)
class Context:
    """What one run of a study may depend on besides its arm and seed.

    Attributes:
        profile: 'quick' (embedded data, a 2-core CPU) or 'full' (more seeds, longer budgets, real data).
        params: the profile's budget (epochs, sample counts …), part of the study's design digest.
        device: 'cpu', 'cuda' … (results on a GPU are not bit-identical to the CPU's).
        data_dir: a folder with the MNIST files, which the full profile trains on where a study says so.
    """

    profile: str
    params: Mapping[str, Any]
    device: str = "cpu"
    data_dir: str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.params[key]


@dataclass(frozen=True)
class Results:
    """The numbers of every (arm, seed) of one study and profile, aligned by seed.

    Attributes:
        study: the study id.
        profile: the profile they were run with.
        params: that profile's parameters.
        seeds: the seeds, the same for every arm.
        runs: arm -> one dict of numbers per seed, in the order of `seeds`.
    """

    study: str
    profile: str
    params: Mapping[str, Any]
    seeds: tuple[int, ...]
    runs: Mapping[str, tuple[dict[str, Any], ...]]

    def values(self, arm: str, key: str) -> np.ndarray:
        """(n_seeds,) float array of number `key` of `arm` (None, a non-finite value stored as null, is NaN)."""
        return np.array([_float(run[key]) for run in self.runs[arm]], dtype=np.float64)

    def series(self, arm: str, key: str) -> np.ndarray:
        """(n_seeds, T) array of the list `key` of `arm` (a curve per seed, all of one length)."""
        rows = [[_float(v) for v in run[key]] for run in self.runs[arm]]
        return np.array(rows, dtype=np.float64)

    def first(self, arm: str, key: str) -> Any:
        """Number `key` of `arm`'s first seed, for values that do not depend on the seed (parameter counts)."""
        return self.runs[arm][0][key]

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(self.runs)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class Study:
    """A claim turned into a controlled, seeded experiment with a decision rule fixed in code.

    Attributes:
        id: short name, e.g. 'dropout'.
        title: a few words for headings.
        topic: the topic of the classic-CNN curriculum it checks, e.g. 'Overfitting: dropout'.
        claim: the claim, in cnnlab's words.
        question: what the study measures to test it.
        design: what varies, what is held fixed, data, model and budget.
        rule: the decision rule in words (the code is `decide`).
        arms: the conditions compared; each runs once per seed.
        profiles: profile name -> its parameters (budgets); the study's design digest covers them.
        run: (arm, seed, ctx) -> dict of JSON numbers (floats, ints, strings, lists, dicts).
        decide: Results -> Verdict, a pure function.
        table: Results -> Table.
        figure: Results -> a matplotlib Figure (or a list of them), or None for no figure.
        seeds: profile name -> the default number of seeds.
        version: bump when `run` changes what it measures, so cached results of the old code are not reused.
    """

    id: str
    title: str
    topic: str
    claim: str
    question: str
    design: str
    rule: str
    arms: tuple[str, ...]
    profiles: Mapping[str, Mapping[str, Any]]
    run: Callable[[str, int, Context], dict[str, Any]]
    decide: Callable[[Results], Verdict]
    table: Callable[[Results], Table]
    figure: Callable[[Results], Any] | None = None
    seeds: Mapping[str, int] = field(default_factory=lambda: {"quick": 3, "full": 5})
    version: int = 1

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ConfigError(f"study id {self.id!r} must be lower-case letters, digits and '-'")
        if not self.arms or len(set(self.arms)) != len(self.arms):
            raise ConfigError(f"study {self.id}: arms must be distinct and at least one, got {self.arms}")
        for arm in self.arms:
            if not _ARM.match(arm):
                raise ConfigError(f"study {self.id}: arm {arm!r} may hold letters, digits and _.+=- only")
        for name in PROFILES:
            if name not in self.profiles or name not in self.seeds:
                raise ConfigError(f"study {self.id}: needs parameters and a seed count for profile {name!r}")
        if self.seeds["quick"] < 3 or self.seeds["full"] < 5:
            raise ConfigError(f"study {self.id}: the quick profile needs ≥ 3 seeds and the full one ≥ 5")

    def digest(self, profile: str, *, real_data: bool = False) -> str:
        """A hash of the design under `profile`: arms, parameters, version, and whether real data was used.

        Cached results carry it; a change in any of these makes them stale.
        """
        design = {
            "id": self.id,
            "version": self.version,
            "arms": list(self.arms),
            "profile": profile,
            "params": self.profiles[profile],
            "real_data": real_data,
        }
        text = json.dumps(design, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def context(self, profile: str, *, device: str = "cpu", data_dir: str | None = None) -> Context:
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
        return Context(profile, self.profiles[profile], device=device, data_dir=data_dir)


def check_numbers(study: str, arm: str, numbers: Any) -> dict[str, Any]:
    """The JSON form of what `run` returned: non-finite floats become None (JSON has no NaN)."""
    if not isinstance(numbers, Mapping):
        raise TypeError(f"study {study} arm {arm}: run must return a dict of numbers, got {type(numbers).__name__}")
    return {str(k): _jsonable(v, f"{study}/{arm}/{k}") for k, v in numbers.items()}


def _jsonable(value: Any, where: str) -> Any:
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_jsonable(v, where) for v in value]
    raise TypeError(f"{where}: {type(value).__name__} is not a JSON number, string, list or dict")
