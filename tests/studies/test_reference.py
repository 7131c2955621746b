"""The committed reference run in the report: its verdicts lead the verdict table, beside the quick verdicts
measured now, with provenance and the reason where they differ."""

from dataclasses import replace

from cnnlab.cli import main
from cnnlab.studies import Verdict, load_reference, run_study
from cnnlab.studies.report import render_report, why_they_differ


def test_the_reference_verdict_leads_and_the_difference_is_explained(toy, tmp_path):
    quick = run_study("toy")
    reference = run_study("toy", profile="full", out=tmp_path / "ref")
    assert reference.environment["commit"] and reference.environment["cores"] >= 1
    assert why_they_differ(reference, quick) == "they agree"
    undecided = replace(quick, verdict=Verdict("inconclusive", "too noisy", "0.1"))
    assert why_they_differ(reference, undecided) == "3 seeds decide only large effects (reference: 5)"
    unlearned = replace(undecided, checks=tuple(replace(c, met=False) for c in quick.checks))
    assert why_they_differ(reference, unlearned).startswith("the quick nets did not meet their competence")

    page = render_report([undecided], reference=load_reference(tmp_path / "ref"))
    head = page[page.index("<thead>") : page.index("</thead>")]
    assert head.index("reference verdict") < head.index("quick verdict, measured now")
    row = page[page.index('<tr><td><a href="#toy-full">') :].split("</tr>")[0]
    assert row.index("badge supported") < row.index("badge inconclusive")
    assert "3 seeds decide only large effects (reference: 5)" in row
    assert "reference run (committed)" in page and "committed results: commit" in page
    assert page.index('id="toy-full"') < page.index('id="toy-quick"')


def test_without_a_reference_the_table_is_the_measured_one(toy, tmp_path):
    assert load_reference(tmp_path / "absent") == [] and load_reference(tmp_path) == []
    page = render_report([run_study("toy")])
    assert "reference verdict" not in page and "<th>verdict</th>" in page


def test_cli_report_takes_a_reference_folder(toy, tmp_path, capsys):
    run_study("toy", out=tmp_path / "quick")
    run_study("toy", profile="full", out=tmp_path / "ref")
    assert main(["study", "report", str(tmp_path / "quick"), "--reference", str(tmp_path / "ref")]) == 0
    assert "reference verdict" in (tmp_path / "quick" / "report.html").read_text()
    assert main(["study", "report", str(tmp_path / "quick"), "--reference", str(tmp_path / "nope")]) == 2
    assert "--reference" in capsys.readouterr().err


def test_a_reference_run_still_landing_is_not_shown(toy, tmp_path):
    run_study("toy", profile="full", out=tmp_path / "ref")
    assert len(load_reference(tmp_path / "ref")) == 1
    (tmp_path / "ref" / "toy" / "full" / "verdict.json").unlink()  # units landed, the study not yet decided
    assert load_reference(tmp_path / "ref") == []
