"""What a verdict rests on: competence and premise requirements checked before the rule, published anchors beside
our numbers, the design history; the runner, `study show` and the report show them."""

import math

import numpy as np
import pytest
from _toy_study import COMPETENCE, PREMISE, PROFILES, make

from cnnlab.cli import main
from cnnlab.studies import Anchor, Results, Revision, Verdict, judge, plateaued, reaches, requirement, run_study
from cnnlab.studies.evidence import relative_change
from cnnlab.studies.report import competence_summary, format_verdicts, render_report


def results(treated, control, profile="quick", **extra) -> Results:
    runs = {
        "control": tuple({"score": c, **extra} for c in control),
        "treated": tuple({"score": t, **extra} for t in treated),
    }
    return Results("toy", profile, PROFILES[profile], tuple(range(len(treated))), runs)


def test_the_rule_stands_when_every_requirement_is_met():
    j = judge(make(), results([1.0, 1.01, 1.02], [0.0, 0.01, 0.02]))
    assert j.verdict == j.measured and j.verdict.kind == "supported"
    assert [c.met for c in j.checks] == [True, True] and j.competent and j.premise_met
    assert j.checks[0].measured == "the treated arm reached 1.01"


def test_an_undertrained_reference_arm_makes_the_verdict_inconclusive_with_its_numbers():
    # a rule that says supported whatever the numbers: the unmet competence requirement still decides
    study = make(decide=lambda r: Verdict("supported", "treated beats control", "+0.4"))
    j = judge(study, results([0.40, 0.41, 0.42], [0.0, 0.0, 0.0]))
    assert j.measured.kind == "supported"
    assert j.verdict.kind == "inconclusive" and not j.competent
    assert j.verdict.sentence.startswith("Undertrained: the treated arm reached 0.41 (needs the treated arm reaches")
    assert "The rule alone would read these numbers as supported: treated beats control" in j.verdict.sentence
    assert j.verdict.number == "+0.4"


def test_a_missing_premise_makes_the_verdict_inconclusive():
    j = judge(make(), results([1.8, 1.81, 1.82], [0.8, 0.81, 0.82]))
    assert j.measured.kind == "supported" and j.competent and not j.premise_met
    assert j.verdict.kind == "inconclusive"
    assert j.verdict.sentence.startswith(
        "Premise absent: the control arm reached 0.81 (needs the control arm reaches ≤"
    )


def test_competence_is_checked_before_the_premise():
    j = judge(make(), results([0.1, 0.1, 0.1], [0.9, 0.9, 0.9]))
    assert j.verdict.sentence.startswith("Undertrained:") and "Premise" not in j.verdict.sentence


def test_a_diverged_seed_fails_a_threshold():
    j = judge(make(), results([1.0, math.nan, 1.0], [0.0, 0.0, 0.0]))
    assert not j.competent and "the treated arm reached diverged or missing" in j.verdict.sentence


def test_requirements_apply_to_their_profiles_only():
    full_only = reaches("competence", {"treated": "treated"}, "score", at_least=5.0, scale=1, unit="",
                        basis="b", profiles=("full",))  # fmt: skip
    study = make(requirements=(COMPETENCE, full_only))
    assert judge(study, results([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])).competent
    full = results([1.0] * 5, [0.0] * 5, profile="full")
    assert not judge(study, full).competent


def test_a_disagreeing_anchor_says_why_in_the_sentence():
    def compare(r):
        gain = float(np.mean(r.values("treated", "score") - r.values("control", "score")))
        return f"gain {gain:.2f}", gain > 2.0

    anchor = Anchor("Doe & Roe (2001), Toys", "Fig. 3", "toy data", "gain 2.5", compare, "our toys are smaller")
    j = judge(make(literature=(anchor,)), results([1.0, 1.01, 1.02], [0.0, 0.01, 0.02]))
    assert j.comparisons[0].here == "gain 1.00" and j.comparisons[0].agrees is False
    assert j.verdict.kind == "supported"
    assert j.verdict.sentence.endswith(". Unlike Doe & Roe (2001), Toys (Fig. 3): our toys are smaller.")
    agreeing = Anchor("Doe", "Fig. 1", "toys", "gain 1", lambda r: ("gain 1.00", True), "n/a")
    assert judge(make(literature=(agreeing,)), results([1.0] * 3, [0.0] * 3)).verdict.sentence.startswith("treated")


def test_a_study_that_trains_must_say_what_learned_means_for_every_profile():
    with pytest.raises(ValueError, match="declares no competence requirement for profile 'quick'"):
        make(requirements=(PREMISE,))._check_evidence()
    with pytest.raises(ValueError, match="for profile 'full'"):
        make(requirements=(reaches("competence", {"treated": "t"}, "score", at_least=0.5, basis="b",
                                   profiles=("quick",)),))._check_evidence()  # fmt: skip
    make(requirements=(), trains=False)._check_evidence()  # a study that trains nothing needs none


def test_requirements_anchors_and_revisions_validate_their_fields():
    with pytest.raises(ValueError, match="competence, premise"):
        requirement("sanity", "x", "y", lambda r: (True, ""))
    with pytest.raises(ValueError, match="basis"):
        requirement("premise", "x", " ", lambda r: (True, ""))
    with pytest.raises(ValueError, match="profiles"):
        requirement("premise", "x", "y", lambda r: (True, ""), profiles=("slow",))
    with pytest.raises(ValueError, match="exactly one"):
        reaches("competence", {"a": "a"}, "k", basis="b")
    with pytest.raises(ValueError, match="differs must not be empty"):
        Anchor("a", "b", "c", "d", lambda r: ("", None), "")
    with pytest.raises(ValueError, match="why must not be empty"):
        Revision(1, "more epochs", "", "refuted", "supported")
    late = Revision(3, "x", "y", "refuted", "supported")
    with pytest.raises(ValueError, match="revisions must be in version order"):
        make(revisions=(late,), version=2)._check_evidence()
    early = Revision(1, "x", "y", "refuted", "supported")
    with pytest.raises(ValueError, match="revisions must be in version order"):
        make(revisions=(late, early), version=3)._check_evidence()


def test_relative_change_and_plateaued():
    curves = np.array([[4.0, 2.0, 1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.76]] * 2)
    # the last 20% of 10 points starts after point 8 (index 7): |0.76 − 0.8| / 0.8 = 5%
    assert relative_change(curves, 0.2) == pytest.approx(0.05)
    assert math.isnan(relative_change(np.array([[1.0, math.nan]]), 0.2))
    assert math.isnan(relative_change(np.array([[1.0]]), 0.2))
    req = plateaued("premise", {"treated": "the treated arm"}, "curve", basis="b", max_change=0.10)
    r = Results("toy", "quick", {}, (0, 1), {"treated": ({"curve": list(curves[0])}, {"curve": list(curves[1])})})
    met, measured = req.check(r)
    assert met and measured == "the treated arm's training loss changed by 5.0% over the last 20%"
    rising = Results("toy", "quick", {}, (0,), {"treated": ({"curve": [1.0, 0.5, 0.5, 0.5, 1.0]},)})
    assert req.check(rising)[0] is False


def test_the_runner_cannot_bypass_the_requirements(toy, monkeypatch):
    """The runner's verdict is judge()'s: a profile in which the treated arm scores 0.2 is undertrained."""
    from cnnlab.studies import _registry

    weak = make(profiles={**PROFILES, "quick": {"scale": 0.2}}, decide=lambda r: Verdict("supported", "yes", "1"))
    monkeypatch.setitem(_registry._STUDIES, "toy", weak)
    result = run_study("toy")
    assert result.measured.kind == "supported" and result.verdict.kind == "inconclusive"
    assert not result.competent and result.verdict.sentence.startswith("Undertrained:")


def test_report_and_terminal_show_what_each_verdict_rests_on(toy):
    good = run_study("toy")
    anchor = Anchor("Doe & Roe (2001), Toys", "Fig. 3", "toy data", "gain 2.5", lambda r: ("gain 1.00", False),
                    "our toys are smaller")  # fmt: skip
    revision = Revision(1, "Scale 1 instead of 0.5.", "the treated arm did not learn", "inconclusive, quick: 0.5",
                        "supported, quick: 1.0")  # fmt: skip
    from dataclasses import replace

    study = make(literature=(anchor,), revisions=(revision,))
    j = judge(study, good.results)
    shown = replace(good, study=study, verdict=j.verdict, comparisons=j.comparisons)
    page = render_report([shown])
    assert "What the verdict rests on" in page and '<span class="met">met</span>' in page
    assert "Basis: scale 1 gives it 1.0" in page
    assert "Published beside ours" in page and "<i>Published:</i> gain 2.5. <i>Here:</i> gain 1.00." in page
    assert "Design history" in page and "<b>Version 1:</b> Scale 1 instead of 0.5." in page
    assert "1 of 1 quick verdicts of studies that train rest on nets that met their competence requirement" in page
    unmet = tuple(replace(c, met=False) if c.kind == "competence" else c for c in good.checks)
    weak = replace(good, verdict=Verdict("inconclusive", "Undertrained: x", ""), checks=unmet)
    assert competence_summary([good, weak]).startswith("1 of 2 quick verdicts")
    text = format_verdicts([good, weak])
    assert "nets learned?" in text and "undertrained" in text.splitlines()[3] and text.endswith("requirement.")


def test_study_show_prints_requirements_literature_and_revisions(toy, capsys, monkeypatch):
    from cnnlab.studies import _registry

    anchor = Anchor("Doe & Roe (2001), Toys", "Fig. 3", "toy data", "gain 2.5", lambda r: ("", None), "smaller")
    revision = Revision(1, "Scale 1.", "it did not learn", "inconclusive", "supported")
    monkeypatch.setitem(_registry._STUDIES, "toy", make(literature=(anchor,), revisions=(revision,)))
    assert main(["study", "show", "toy"]) == 0
    out = capsys.readouterr().out
    assert "requires (quick):\n  competence: the treated arm reaches ≥ 0.50 score (mean over seeds)" in out
    assert "    basis: scale 1 gives it 1.0" in out and "  premise: the control arm reaches ≤ 0.50 score" in out
    assert "literature:\n  Doe & Roe (2001), Toys, Fig. 3: gain 2.5" in out
    assert "revisions:\n  v1: Scale 1. Why: it did not learn. Before: inconclusive. After: supported." in out


def test_anchors_are_not_judged_on_nets_that_did_not_learn():
    anchor = Anchor("Doe", "Fig. 1", "toys", "gain 9", lambda r: ("gain 0.41", False), "smaller toys")
    j = judge(make(literature=(anchor,)), results([0.40, 0.41, 0.42], [0.0, 0.0, 0.0]))
    assert not j.competent and j.comparisons[0].agrees is None
    assert j.comparisons[0].unjudged == "not judged: the nets did not learn" and "Unlike" not in j.verdict.sentence
