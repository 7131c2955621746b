"""What a study is: a claim, a controlled design, a decision rule fixed in code, and the numbers it collects.

A study runs `run(arm, seed, ctx)` once per (arm, seed): each call is independent, seeded and returns a dict of
JSON numbers, so any scheduler can run the calls anywhere and in any order. The collected numbers form `Results`;
`decide(results)` turns them into a `Verdict`, and `figure` and `table` draw them. Nothing in a rule looks at which
answer a reader expects: the rule is written before the study runs, and its thresholds are constants in the code.

A verdict also rests on what the rule takes for granted. A study that trains declares its *competence*
requirements (the reference arms learned: "the basic-block net reaches ≥ 92% test accuracy", each threshold with the
independent number that justifies it), and where the claim's mechanism needs a condition, its *premise* ("the
constant-rate arm's loss plateaus above 0"). The runner checks both before `decide` (`evidence.judge`): a failed one
makes the verdict inconclusive, whatever the rule would say. The study also names the published results it is
compared with (`Anchor`) and keeps the history of its design (`Revision`).
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
REQUIREMENT_KINDS = ("competence", "premise")
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
        cache_dir: the study cache the runner writes to (None: nothing is kept); `_common.shared` keeps there the
            numbers of trainings that several studies or arms share, so each runs once.
    """

    profile: str
    params: Mapping[str, Any]
    device: str = "cpu"
    data_dir: str | None = None
    cache_dir: str | None = None

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
class Requirement:
    """A condition a verdict rests on, checked on the results before the decision rule reads them.

    Attributes:
        kind: 'competence' (the reference arms learned the task) or 'premise' (the condition the claim's mechanism
            needs is present in this regime).
        text: what is required, with its threshold, e.g. 'the basic-block net reaches ≥ 92% test accuracy'.
        basis: why this threshold: a number measured or published independently of the study's budget, e.g.
            "resnet20's default recipe reaches 98% on these images; 92% leaves 6 points for a shorter schedule".
        check: Results -> (met, what was measured in words, e.g. 'the basic-block net reached 85.0%').
        profiles: the profiles it applies to (a threshold on MNIST does not fit 8×8 digits).
    """

    kind: str
    text: str
    basis: str
    check: Callable[[Results], tuple[bool, str]]
    profiles: tuple[str, ...] = PROFILES

    def __post_init__(self) -> None:
        if self.kind not in REQUIREMENT_KINDS:
            raise ConfigError(f"requirement kind must be one of {', '.join(REQUIREMENT_KINDS)}, got {self.kind!r}")
        if not self.text.strip() or not self.basis.strip():
            raise ConfigError(f"requirement {self.text!r}: needs its text and the basis of its threshold")
        unknown = [p for p in self.profiles if p not in PROFILES]
        if unknown or not self.profiles:
            raise ConfigError(f"requirement {self.text!r}: profiles must be among {', '.join(PROFILES)}")


@dataclass(frozen=True)
class Anchor:
    """A published result the study is compared with.

    Attributes:
        source: authors, year and title, e.g. 'He, Zhang, Ren & Sun (2016), Deep Residual Learning'.
        where: figure or table, e.g. 'Fig. 1 and Fig. 6 (left)'.
        setting: the published setting: data, model, optimizer, scale.
        published: the published number or finding.
        compare: Results -> (our comparable number in words, whether it agrees: True, False, or None when the
            profile measures nothing comparable).
        differs: why ours may differ (scale, regime, data); the verdict sentence quotes it when they disagree.
    """

    source: str
    where: str
    setting: str
    published: str
    compare: Callable[[Results], tuple[str, bool | None]]
    differs: str

    def __post_init__(self) -> None:
        for name in ("source", "where", "setting", "published", "differs"):
            if not getattr(self, name).strip():
                raise ConfigError(f"literature anchor {self.source!r}: {name} must not be empty")


@dataclass(frozen=True)
class Revision:
    """One change of a study's design, kept so a reader sees any verdict reached by changing the design.

    Attributes:
        version: the study version the change produced (≤ the study's current version).
        change: what changed.
        why: why.
        before: the verdict before the change, with its deciding number and profile ('refuted, quick: …'), or
            'not measured'.
        after: the verdict after the change, or 'not yet measured'.
    """

    version: int
    change: str
    why: str
    before: str
    after: str

    def __post_init__(self) -> None:
        for name in ("change", "why", "before", "after"):
            if not getattr(self, name).strip():
                raise ConfigError(f"revision {self.version}: {name} must not be empty")


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
        trains: whether any arm trains a network; a study that trains declares a competence requirement for every
            profile (only counting and closed-form studies have none).
        requirements: competence and premise requirements (`Requirement`), checked before `decide`.
        literature: the published results the study is compared with (`Anchor`).
        revisions: the history of the design (`Revision`), oldest first.
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
    trains: bool = True
    requirements: tuple[Requirement, ...] = ()
    literature: tuple[Anchor, ...] = ()
    revisions: tuple[Revision, ...] = ()

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
        self._check_evidence()

    def _check_evidence(self) -> None:
        if self.trains:
            for name in PROFILES:
                if not any(r.kind == "competence" for r in self.requirements_for(name)):
                    raise ConfigError(
                        f"study {self.id} trains networks but declares no competence requirement for profile "
                        f"{name!r}; say what 'learned' means for its reference arms (or trains=False)"
                    )
        versions = [r.version for r in self.revisions]
        if versions != sorted(versions) or any(v > self.version or v < 1 for v in versions):
            raise ConfigError(f"study {self.id}: revisions must be in version order, each ≤ version {self.version}")

    def requirements_for(self, profile: str) -> tuple[Requirement, ...]:
        """The competence and premise requirements that apply to `profile`."""
        return tuple(r for r in self.requirements if profile in r.profiles)

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

    def context(
        self, profile: str, *, device: str = "cpu", data_dir: str | None = None, cache_dir: str | None = None
    ) -> Context:
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
        return Context(profile, self.profiles[profile], device=device, data_dir=data_dir, cache_dir=cache_dir)


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
