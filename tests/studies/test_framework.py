"""The study framework: definitions, the cache (resume, digests), the runner, the CLI and the report file."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from _toy_study import CALLS_ENV, PROFILES, make

from cnnlab.cli import main
from cnnlab.studies import Results, Study, Table, Verdict, get_study, load_results, run_studies, run_study
from cnnlab.studies.cache import Unit, check_out_dir, load_unit
from cnnlab.studies.report import GENERATOR, render_report, write_report

HERE = Path(__file__).parent


def calls(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def counted(tmp_path, monkeypatch):
    path = tmp_path / "calls.txt"
    monkeypatch.setenv(CALLS_ENV, str(path))
    return path


def test_verdict_and_study_validate_their_fields():
    with pytest.raises(ValueError, match="supported, refuted, nuanced, inconclusive"):
        Verdict("proven", "x")
    with pytest.raises(ValueError, match="lower-case"):
        make(id="Toy Study")
    with pytest.raises(ValueError, match="distinct"):
        make(arms=("a", "a"))
    with pytest.raises(ValueError, match="may hold"):
        make(arms=("a/b",))
    with pytest.raises(ValueError, match="≥ 3 seeds"):
        make(seeds={"quick": 2, "full": 5})
    with pytest.raises(ValueError, match="profile 'full'"):
        make(profiles={"quick": {}})
    with pytest.raises(ValueError, match="3 cells for 2 columns"):
        Table(("a", "b"), (("1", "2", "3"),))


def test_digest_changes_with_the_design_only():
    study = make()
    assert study.digest("quick") == make().digest("quick")
    assert study.digest("quick") != make(profiles={**PROFILES, "quick": {"scale": 2.0}}).digest("quick")
    assert study.digest("quick") != make(version=2).digest("quick")
    assert study.digest("quick") != make(arms=("control", "treated", "other")).digest("quick")
    assert study.digest("quick") != study.digest("quick", real_data=True)
    assert study.digest("quick") == make(claim="reworded", rule="reworded").digest("quick")  # words are not design


def test_python_run_returns_results_and_verdict(toy, counted):
    result = run_study("toy")
    assert result.verdict.kind == "supported"
    assert result.results.seeds == (0, 1, 2)
    assert list(result.results.values("treated", "score")) == [1.0, 1.01, 1.02]
    assert result.results.series("control", "curve").tolist() == [[0, 1.5], [1, 2.5], [2, 3.5]]
    assert result.results.runs["control"][0]["nan"] is None  # JSON has no NaN: stored as null, read as NaN
    assert str(result.results.values("control", "nan")[0]) == "nan"
    assert result.command == "cnnlab study run toy --profile quick --seeds 3"
    assert len(calls(counted)) == 6


def test_cache_is_reused_and_a_changed_design_is_measured_again(toy, counted, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = run_study("toy", out=out)
    assert len(calls(counted)) == 6
    files = sorted(out.rglob("seed-*.json"))
    assert [p.relative_to(out).as_posix() for p in files][:2] == ["toy/quick/control/seed-0.json",
                                                                   "toy/quick/control/seed-1.json"]  # fmt: skip
    again = run_study("toy", out=out)
    assert len(calls(counted)) == 6  # nothing recomputed
    assert again.results == first.results and again.verdict == first.verdict
    more = run_study("toy", out=out, seeds=4)
    assert len(calls(counted)) == 8  # only seed 3 of both arms
    assert more.results.seeds == (0, 1, 2, 3)

    changed = make(profiles={**PROFILES, "quick": {"scale": 3.0}})
    from cnnlab.studies import _registry

    monkeypatch.setitem(_registry._STUDIES, "toy", changed)
    result = run_study("toy", out=out)
    assert len(calls(counted)) == 14  # the new design invalidated every cached unit of the profile
    assert result.results.values("treated", "score")[0] == 3.0
    record = json.loads((out / "toy/quick/treated/seed-0.json").read_text())
    assert record["digest"] == changed.digest("quick") and record["environment"]["torch"]


def test_a_damaged_or_foreign_cache_file_is_measured_again(toy, counted, tmp_path):
    out = tmp_path / "out"
    run_study("toy", out=out)
    (out / "toy/quick/control/seed-1.json").write_text("{not json")
    record = json.loads((out / "toy/quick/treated/seed-2.json").read_text())
    record["digest"] = "0" * 12
    (out / "toy/quick/treated/seed-2.json").write_text(json.dumps(record))
    run_study("toy", out=out)
    assert calls(counted)[6:] == ["control 1", "treated 2"]
    assert load_unit(out, Unit("toy", "quick", "control", 1), make().digest("quick")) is not None


def test_a_killed_run_resumes_where_it_stopped(toy, tmp_path, monkeypatch):
    """SIGKILL while the 4th of 8 units runs (a process of its own); the rerun (here) computes the 5 missing units
    only, and the results equal an uninterrupted run's."""
    out, log = tmp_path / "out", tmp_path / "calls.txt"
    env = {**os.environ, CALLS_ENV: str(log), "PYTHONPATH": str(HERE)}
    script = str(HERE / "_toy_study.py")
    killed = subprocess.run([sys.executable, script, str(out), "3"], env=env, capture_output=True, timeout=120)
    assert killed.returncode == -9
    assert len(list(out.rglob("seed-*.json"))) == 3
    before = {p: p.read_bytes() for p in out.rglob("seed-*.json")}
    monkeypatch.setenv(CALLS_ENV, str(log))
    run_studies(["toy"], out=out, seeds=4)  # what the script runs
    assert len(calls(log)) == 4 + 5  # 3 written + the killed one, then the 5 that were missing
    assert all(p.read_bytes() == data for p, data in before.items())  # finished units are never recomputed
    fresh = tmp_path / "fresh"
    monkeypatch.delenv(CALLS_ENV)
    run_studies(["toy"], out=fresh, seeds=4)
    numbers = {p.relative_to(out): json.loads(p.read_text())["numbers"] for p in out.rglob("seed-*.json")}
    assert numbers == {p.relative_to(fresh): json.loads(p.read_text())["numbers"] for p in fresh.rglob("seed-*.json")}


def test_worker_processes_give_the_same_numbers(toy, tmp_path):
    """--jobs 2 runs units in worker processes, which register the toy study by importing the module that defines
    it (its registration here is this process's own)."""
    (result,) = run_studies(["toy"], jobs=2, out=tmp_path)
    assert result.verdict.kind == "supported"
    assert result.results.values("treated", "score").tolist() == [1.0, 1.01, 1.02]


def test_one_unit_alone_then_the_rest(toy, counted, tmp_path):
    out = tmp_path / "out"
    assert run_studies(["toy"], arms=["treated"], seeds=1, first_seed=2, out=out) == []  # undecided: control absent
    assert calls(counted) == ["treated 2"]
    (result,) = run_studies(["toy"], out=out)
    assert len(calls(counted)) == 6 and result.results.seeds == (0, 1, 2)
    (loaded,) = load_results(out)
    assert loaded.results == result.results and loaded.verdict == result.verdict


def test_report_lists_every_study_and_refuses_to_overwrite_foreign_files(toy, tmp_path):
    result = run_study("toy")
    refuted = replace(result, verdict=Verdict("refuted", "control beat treated <by far>", "−1.0"))
    page = render_report([result, refuted])
    assert page.count('<span class="badge supported">supported</span></td>') == 1
    assert page.count("<tr><td><a href=") == 2
    assert "control beat treated &lt;by far&gt;" in page and "<by far>" not in page  # escaped
    assert GENERATOR in page and "<script" not in page and "http" not in page
    target = tmp_path / "report.html"
    target.write_text("<p>my notes</p>")
    with pytest.raises(ValueError, match="not a cnnlab report"):
        write_report([result], target)
    assert target.read_text() == "<p>my notes</p>"
    target.unlink()
    write_report([result], target)
    write_report([result], target)  # its own report may be replaced
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # readable like the user's other files


def test_cli_study_errors_are_one_line_with_exit_2(tmp_path, capsys):
    assert main(["study", "show", "dropuot"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown study 'dropuot'" in err and "cnnlab study show: error" in err
    assert main(["study", "run", "linear-colapse", "--out", str(tmp_path / "o")]) == 2
    assert "did you mean 'linear-collapse'?" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["study", "run", "linear-collapse", "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.png").write_bytes(b"\x89PNG")
    assert main(["study", "run", "linear-collapse", "--out", str(foreign)]) == 2
    assert "holds other files (cat.png)" in capsys.readouterr().err
    noted = tmp_path / "noted"  # a results folder with its README beside the records, as results/reference
    noted.mkdir()
    (noted / "README.md").write_text("# notes\n")
    assert check_out_dir(noted) == noted
    assert main(["study", "report", str(tmp_path / "none")]) == 2
    assert "is not a directory of study results" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["study", "run", "--jobs", "0"])
    assert exc.value.code == 2


def test_cli_run_report_list_show(toy, counted, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["study", "run", "toy", "--out", str(out), "--report", str(tmp_path / "r.html")]) == 0
    text = capsys.readouterr().out
    assert "toy: supported — treated − control = 1.00 (95% CI 1.00 to 1.00)" in text and "report:" in text
    assert (tmp_path / "r.html").read_text().count("<section") == 1
    assert main(["study", "report", str(out)]) == 0
    assert (out / "report.html").exists()
    assert main(["study", "show", "toy"]) == 0
    assert "rule:     positive effect ≥ 0.5" in capsys.readouterr().out
    assert main(["study", "list", "--json"]) == 0
    assert {"id": "toy", "title": "Toy", "claim": "treated beats control"} in json.loads(capsys.readouterr().out)


def test_run_must_return_json_numbers(toy, monkeypatch):
    from cnnlab.studies import _registry

    monkeypatch.setitem(_registry._STUDIES, "toy", make(run=lambda arm, seed, ctx: {"x": object()}))
    with pytest.raises(TypeError, match="toy/control/x"):
        run_study("toy")


def test_every_registered_study_is_complete():
    from cnnlab.studies import list_studies
    from cnnlab.studies._registry import CURRICULUM

    for study_id in list_studies():
        study = get_study(study_id)
        assert isinstance(study, Study)
        for text in (study.claim, study.question, study.design, study.rule, study.topic, study.title):
            assert text.strip() and "note" not in text.lower(), (study_id, text)
        assert study.seeds["quick"] >= 3 and study.seeds["full"] >= 5
        assert study.profiles["quick"] != study.profiles["full"], f"{study_id}: full must differ from quick"
        study._check_evidence()  # a study that trains says what 'learned' means for every profile
        if study_id in CURRICULUM:  # cnnlab's own studies (tests register toys)
            assert study.literature, f"{study_id}: no published result beside the verdict"


def test_results_values_align_by_seed():
    r = Results("s", "quick", {}, (4, 5), {"a": ({"x": 1, "c": [1, 2]}, {"x": None, "c": [3, 4]})})
    assert str(r.values("a", "x").tolist()) == "[1.0, nan]"
    assert r.series("a", "c").shape == (2, 2) and r.first("a", "x") == 1 and r.arms == ("a",)


def test_docs_list_every_study():
    from cnnlab.studies import list_studies
    from cnnlab.studies._registry import CURRICULUM

    assert set(CURRICULUM) <= set(list_studies())  # every study of the report's order is registered
    docs = (Path(__file__).parents[2] / "docs" / "studies.md").read_text(encoding="utf-8")
    missing = [sid for sid in CURRICULUM if f"| `{sid}` |" not in docs]
    assert not missing, f"docs/studies.md lacks a row for {missing}"
