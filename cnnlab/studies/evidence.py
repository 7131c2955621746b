"""What a verdict rests on: competence and premise requirements, checked before the rule decides, and the
published results beside it.

`judge(study, results)` is the only way the runner turns results into a verdict. It checks every requirement of the
results' profile first:

- a failed *competence* requirement (a reference arm did not learn) makes the verdict inconclusive, "undertrained";
- a failed *premise* (the condition the claim's mechanism needs is absent in this regime) makes it inconclusive,
  "premise absent";

in both cases the sentence gives the numbers, and what the rule alone would have read from them, so nothing is
hidden. Otherwise the rule's verdict stands; where a published anchor disagrees with our number, the sentence says
why ours may differ.

The builders below write the common requirements: `reaches` (an arm's mean over seeds reaches a threshold),
`plateaued` (a training curve's last part changed by less than a fraction: the run converged) and `requirement`
(any check written by the study).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ._base import PROFILES, Anchor, Requirement, Results, Study, Verdict


@dataclass(frozen=True)
class Check:
    """A requirement checked on one study's results: met or not, and what was measured."""

    requirement: Requirement
    met: bool
    measured: str

    @property
    def kind(self) -> str:
        return self.requirement.kind

    def line(self) -> str:
        """'met — the basic-block net reached 95.1% (requires: … ≥ 92%; basis: …)'."""
        state = "met" if self.met else "NOT met"
        return f"{state}: {self.measured} (required: {self.requirement.text}; basis: {self.requirement.basis})"


@dataclass(frozen=True)
class Comparison:
    """A published anchor beside our number: `agrees` is True, False, or None where nothing comparable ran (then
    `unjudged` may say why, e.g. the nets did not learn)."""

    anchor: Anchor
    here: str
    agrees: bool | None
    unjudged: str = ""


@dataclass(frozen=True)
class Judgement:
    """The verdict and everything it rests on.

    Attributes:
        verdict: the verdict shown to the reader.
        measured: what `decide` alone read from the numbers (equal to `verdict` when every requirement is met).
        checks: every requirement of the profile, checked.
        comparisons: every literature anchor beside our number.
    """

    verdict: Verdict
    measured: Verdict
    checks: tuple[Check, ...]
    comparisons: tuple[Comparison, ...]

    @property
    def competent(self) -> bool:
        """Whether every competence requirement is met (true for a study that trains nothing)."""
        return all(c.met for c in self.checks if c.kind == "competence")

    @property
    def premise_met(self) -> bool:
        return all(c.met for c in self.checks if c.kind == "premise")


def judge(study: Study, results: Results) -> Judgement:
    """Check `study`'s requirements on `results`, then decide; a failed requirement makes the verdict
    inconclusive, with the numbers."""
    checks = tuple(_check(req, results) for req in study.requirements_for(results.profile))
    measured = study.decide(results)
    comparisons = tuple(_compare(anchor, results) for anchor in study.literature)
    undertrained = [c for c in checks if c.kind == "competence" and not c.met]
    absent = [c for c in checks if c.kind == "premise" and not c.met]
    if undertrained or absent:  # numbers of nets that did not learn, or of another regime, neither agree nor disagree
        why = "not judged: the nets did not learn" if undertrained else "not judged: the premise is absent"
        comparisons = tuple(Comparison(c.anchor, c.here, None, why) for c in comparisons)
    rule_reading = f"(The rule alone would read these numbers as {measured.kind}: {measured.sentence})"
    if undertrained:
        failed = "; ".join(f"{c.measured} (needs {c.requirement.text})" for c in undertrained)
        verdict = Verdict("inconclusive", f"Undertrained: {failed}. {rule_reading}", measured.number)
    elif absent:
        failed = "; ".join(f"{c.measured} (needs {c.requirement.text})" for c in absent)
        verdict = Verdict("inconclusive", f"Premise absent: {failed}. {rule_reading}", measured.number)
    else:
        verdict = measured
        differing = [c for c in comparisons if c.agrees is False]
        if differing:
            why = " ".join(
                f"Unlike {c.anchor.source} ({c.anchor.where}): {full_stop(c.anchor.differs)}" for c in differing
            )
            verdict = Verdict(measured.kind, f"{full_stop(measured.sentence)} {why}", measured.number)
    return Judgement(verdict, measured, checks, comparisons)


def full_stop(text: str) -> str:
    """`text` ending in a full stop, so joined sentences read as sentences."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _check(req: Requirement, results: Results) -> Check:
    met, measured = req.check(results)
    return Check(req, bool(met), measured)


def _compare(anchor: Anchor, results: Results) -> Comparison:
    here, agrees = anchor.compare(results)
    return Comparison(anchor, here, None if agrees is None else bool(agrees))


def requirement(
    kind: str,
    text: str,
    basis: str,
    check: Callable[[Results], tuple[bool, str]],
    profiles: Sequence[str] = PROFILES,
) -> Requirement:
    """A requirement with a check written by the study."""
    return Requirement(kind, text, basis, check, tuple(profiles))


def reaches(
    kind: str,
    arms: Mapping[str, str],
    key: str,
    *,
    basis: str,
    at_least: float | None = None,
    at_most: float | None = None,
    what: str = "test accuracy",
    scale: float = 100.0,
    unit: str = "%",
    digits: int = 1,
    profiles: Sequence[str] = PROFILES,
) -> Requirement:
    """Every arm in `arms` (arm -> its name in words) has a mean of number `key` over seeds at least `at_least`
    (or at most `at_most`). A NaN in any seed (a diverged run) fails the requirement."""
    if (at_least is None) == (at_most is None):
        raise ValueError("give exactly one of at_least and at_most")
    bound = at_least if at_least is not None else at_most
    sign = "≥" if at_least is not None else "≤"
    names = " and ".join(arms.values())
    verb = "reach" if len(arms) > 1 else "reaches"
    text = f"{names} {verb} {sign} {_fmt(bound, scale, digits)}{unit} {what} (mean over seeds)"

    def check(r: Results) -> tuple[bool, str]:
        parts, met = [], True
        for arm, name in arms.items():
            values = r.values(arm, key)
            mean = float(np.mean(values)) if len(values) and not np.isnan(values).any() else math.nan
            ok = not math.isnan(mean) and (mean >= at_least if at_least is not None else mean <= at_most)
            met = met and ok
            got = "diverged or missing" if math.isnan(mean) else f"{_fmt(mean, scale, digits)}{unit}"
            parts.append(f"{name} reached {got}")
        return met, "; ".join(parts)

    return Requirement(kind, text, basis, check, tuple(profiles))


def plateaued(
    kind: str,
    arms: Mapping[str, str],
    key: str,
    *,
    basis: str,
    last: float = 0.2,
    max_change: float = 0.10,
    what: str = "training loss",
    profiles: Sequence[str] = PROFILES,
) -> Requirement:
    """The curve `key` (one value per epoch, per seed) of every arm in `arms` changed by less than `max_change`
    (relative) over its last `last` share of points, in the mean over seeds: the run converged at this budget."""
    text = (
        f"{' and '.join(arms.values())}: {what} changes by < {max_change:.0%} over the last {last:.0%} of training "
        "(converged)"
    )

    def check(r: Results) -> tuple[bool, str]:
        parts, met = [], True
        for arm, name in arms.items():
            change = relative_change(r.series(arm, key), last)
            ok = math.isfinite(change) and change < max_change
            met = met and ok
            parts.append(f"{name}'s {what} changed by {change:.1%} over the last {last:.0%}")
        return met, "; ".join(parts)

    return Requirement(kind, text, basis, check, tuple(profiles))


def relative_change(curves: np.ndarray, last: float) -> float:
    """|mean curve at the end − mean curve where its last `last` share starts| / that start value (NaN when the
    curves hold a NaN or are too short to have a last share)."""
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or curves.shape[1] < 2 or np.isnan(curves).any():
        return math.nan
    mean = curves.mean(axis=0)
    start = mean[max(0, min(len(mean) - 2, round(len(mean) * (1 - last)) - 1))]
    return float(abs(mean[-1] - start) / abs(start)) if start != 0 else math.nan


def _fmt(value: float, scale: float, digits: int) -> str:
    return f"{value * scale:.{digits}f}"
