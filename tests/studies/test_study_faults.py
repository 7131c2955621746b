"""`cnnlab study run` and `study report` when things go wrong: too many jobs, Ctrl-C, a damaged or edited cached
record, a full disk, a killed parent. Each is one line on stderr, an exit status, and a cache that a rerun of the
same command completes."""

import contextlib
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _toy_study import CALLS_ENV, SLEEP_ENV

from cnnlab.cli import main
from cnnlab.studies import cache, report, runner
from cnnlab.studies.cache import load_arm

HERE = Path(__file__).parent
CONTROL_1 = "toy/quick/control/seed-1.json"


def calls(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


@pytest.fixture
def counted(tmp_path, monkeypatch):
    path = tmp_path / "calls.txt"
    monkeypatch.setenv(CALLS_ENV, str(path))
    return path


@pytest.fixture
def cached(toy, counted, tmp_path, capsys) -> Path:
    """A toy study cache, every unit measured (6 calls)."""
    out = tmp_path / "out"
    assert main(["study", "run", "toy", "--out", str(out)]) == 0
    capsys.readouterr()
    return out


def test_jobs_beyond_the_cores_are_capped_with_one_line(toy, tmp_path, capsys, monkeypatch):
    asked = []
    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    monkeypatch.setattr(runner, "_run_parallel", lambda todo, jobs, *rest: asked.append(jobs))
    assert main(["study", "run", "toy", "--jobs", "1000", "--out", str(tmp_path / "out")]) == 0
    assert asked == [2]
    assert capsys.readouterr().err == "cnnlab study run: --jobs 1000 capped at 2, the cores of this machine\n"


def test_ctrl_c_says_what_is_kept_and_how_to_continue(toy, counted, tmp_path, capsys, monkeypatch):
    run_unit = runner.run_unit

    def interrupted_at_the_third(*args, **kw):
        if len(calls(counted)) == 2:
            raise KeyboardInterrupt
        return run_unit(*args, **kw)

    out = tmp_path / "out"
    with monkeypatch.context() as patched:
        patched.setattr(runner, "run_unit", interrupted_at_the_third)
        assert main(["study", "run", "toy", "--out", str(out)]) == 130
    assert one_line(capsys) == (
        f"cnnlab study run: interrupted; 2 finished units are kept in {out} — run the same command to continue"
    )
    assert main(["study", "run", "toy", "--out", str(out), "--report", str(tmp_path / "r.html")]) == 0
    assert len(calls(counted)) == 2 + 4  # the 2 kept, then the 4 missing


BAD_FILES = {  # what a damaged file holds -> what the line says about it
    b'{"study": "toy", "numb': "is not valid JSON (cut short?)",
    b"[1, 2, 3]": "holds a JSON list, not an object",
    b'{"study": "to\xff"}': "is not UTF-8 text",
}


@pytest.mark.parametrize("content", BAD_FILES, ids=["truncated", "list", "not-utf8"])
def test_a_damaged_record_is_measured_again_by_run_and_refused_by_report(cached, counted, capsys, content):
    path = cached / CONTROL_1
    path.write_bytes(content)
    assert main(["study", "report", str(cached)]) == 2
    assert one_line(capsys) == (
        f"cnnlab study report: error: {path} {BAD_FILES[content]}; run 'cnnlab study run toy --profile quick "
        f"--seeds 3 --out {cached}' to measure it again"
    )
    assert not (cached / "report.html").exists()
    assert main(["study", "run", "toy", "--out", str(cached)]) == 0
    assert capsys.readouterr().err == f"cnnlab study run: {path} {BAD_FILES[content]}; measuring it again\n"
    assert calls(counted)[6:] == ["control 1"]
    assert main(["study", "report", str(cached)]) == 0


def _edit(path: Path, change) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


EDITS = {  # an edit of control/seed-1.json -> what the line says about it
    "nan": (lambda r: r["numbers"].update(score=float("nan")), "holds NaN, which cnnlab never writes"),
    "str-number": (lambda r: r["numbers"].update(score="0.01"), "holds str at numbers['score'], where seed 0 holds"),
    "str-in-list": (lambda r: r["numbers"]["curve"].append("x"), "holds number or str at numbers['curve'][…]"),
    "str-seconds": (lambda r: r.update(seconds="12"), "has 'seconds' '12', not a number of seconds"),
    "no-key": (lambda r: r["numbers"].pop("score"), "lacks numbers['score'], which seed 0 holds"),
    "no-numbers": (lambda r: r.pop("numbers"), "has no 'numbers'"),
    "other-seed": (lambda r: r.update(seed=2), "names seed 2, not 1 as its place does"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_an_edited_record_is_measured_again_by_run_and_refused_by_report(cached, counted, capsys, edit):
    """Before: a NaN flipped the verdict to inconclusive, a string was a ValueError traceback, a missing key a
    KeyError traceback."""
    change, said = EDITS[edit]
    path = cached / CONTROL_1
    _edit(path, change)
    assert main(["study", "report", str(cached)]) == 2
    err = one_line(capsys)
    assert err.startswith(f"cnnlab study report: error: {path} {said}"), err
    assert err.endswith(f"; run 'cnnlab study run toy --profile quick --seeds 3 --out {cached}' to measure it again")
    assert main(["study", "run", "toy", "--out", str(cached)]) == 0
    out, err = capsys.readouterr()
    assert re.fullmatch(rf"cnnlab study run: {re.escape(str(path))} {re.escape(said)}.*; measuring it again\n", err)
    assert "toy: supported" in out and calls(counted)[6:] == ["control 1"]
    assert main(["study", "report", str(cached)]) == 0


def test_records_are_checked_against_their_siblings_by_majority(toy, cached):
    """The shape of the numbers comes from the arm's other seeds: an empty list or a null (a non-finite number)
    is no disagreement; a string where two seeds hold a number marks that seed alone; with two seeds that
    disagree, neither can be trusted."""
    digest = toy.digest("quick")
    _edit(cached / "toy/quick/control/seed-0.json", lambda r: r["numbers"].update(curve=[], nan=None))
    assert sorted(load_arm(cached, "toy", "quick", "control", digest).good) == [0, 1, 2]
    _edit(cached / CONTROL_1, lambda r: r["numbers"].update(score="high"))
    arm = load_arm(cached, "toy", "quick", "control", digest)
    assert sorted(arm.good) == [0, 2] and list(arm.bad) == [1]
    (cached / "toy/quick/control/seed-2.json").unlink()
    assert sorted(load_arm(cached, "toy", "quick", "control", digest).bad) == [0, 1]


def test_a_seed_the_verdict_was_decided_with_cannot_silently_go_missing(cached, capsys):
    (cached / "toy/quick/treated/seed-2.json").unlink()
    assert main(["study", "report", str(cached)]) == 2
    assert one_line(capsys) == (
        f"cnnlab study report: error: {cached}/toy/quick/treated/seed-2.json is missing, but "
        f"{cached}/toy/quick/verdict.json was decided with it; run 'cnnlab study run toy --profile quick --seeds 3 "
        f"--out {cached}' to measure it again"
    )


def _disk_full_at(monkeypatch, module, name: str) -> None:
    """Make `module.atomic_write_text` fail as a full disk does for files called `name`."""
    write = module.atomic_write_text

    def full(path, text, **kw):
        if Path(path).name == name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write(path, text, **kw)

    monkeypatch.setattr(module, "atomic_write_text", full)


@pytest.mark.parametrize("name", ["seed-2.json", "verdict.json"])
def test_a_full_disk_during_run_is_one_line_and_the_rerun_goes_on(toy, counted, tmp_path, capsys, monkeypatch, name):
    out = tmp_path / "out"
    with monkeypatch.context() as patched:
        _disk_full_at(patched, cache, name)
        assert main(["study", "run", "toy", "--out", str(out)]) == 4
    where = "control/seed-2.json" if name == "seed-2.json" else "verdict.json"
    assert one_line(capsys) == (
        f"cnnlab study run: error: cannot write {out}/toy/quick/{where}: the disk is full; the finished units in "
        f"{out} are intact; make room, then run the same command to continue"
    )
    kept = {p: p.read_bytes() for p in out.rglob("*.json")}
    assert len(kept) == (4 if name == "seed-2.json" else 6) and not list(out.rglob("*.tmp"))
    assert main(["study", "run", "toy", "--out", str(out)]) == 0
    computed = 5 + 2 if name == "seed-2.json" else 6  # control 2 again (not saved), then treated 2
    assert len(calls(counted)) == computed and all(p.read_bytes() == data for p, data in kept.items())


def test_a_full_disk_writing_the_report_is_exit_4_and_keeps_the_old_one(cached, capsys, monkeypatch):
    assert main(["study", "report", str(cached)]) == 0
    page = cached / "report.html"
    before = page.read_bytes()
    _disk_full_at(monkeypatch, report, "report.html")
    assert main(["study", "report", str(cached)]) == 4
    assert one_line(capsys).endswith(
        f"cannot write {page}: the disk is full; the previous report is intact; make room, then run the same "
        "command again"
    )
    assert page.read_bytes() == before
    assert main(["study", "run", "toy", "--out", str(cached), "--report", str(page)]) == 4  # --report alike
    capsys.readouterr()
    assert page.read_bytes() == before


def _descendants(pid: int) -> list[int]:
    """The processes below `pid`: its children, theirs and so on (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        below = [child for child, parent in parents.items() if parent in frontier]
        found.extend(below)
        frontier = below
    return found


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie has ended: only its exit status waits to be collected)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


needs_workers = pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or runner.available_cores() < 2, reason="needs /proc and 2 cores"
)


def _slow_run(out: Path, log: Path) -> subprocess.Popen:
    """`cnnlab study run toy --jobs 2` in a child whose units take 60 s each, in a process group of its own (as a
    terminal's foreground job), with Ctrl-C's default action (a suite run in the background ignores SIGINT, and a
    child inherits that)."""
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, CALLS_ENV: str(log), SLEEP_ENV: "60", "OMP_NUM_THREADS": "1"}
    code = "import sys, _toy_study; from cnnlab.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "study", "run", "toy", "--jobs", "2", "--out", str(out)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_default_sigint)  # fmt: skip


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _end_group(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of the test's own process group, so that nothing of it outlives the test."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def _while_both_units_run(proc: subprocess.Popen, log: Path) -> list[int]:
    """Wait until both workers run a unit; returns the processes below the run (the workers, the fork server they
    were forked from on Linux, the resource tracker)."""
    deadline = time.monotonic() + 120
    while len(calls(log)) < 2:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.1)
    return _descendants(proc.pid)


def _ended(pids: list[int], within: float) -> list[int]:
    """The pids still running after `within` seconds (killed then, so that the test leaves none behind)."""
    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [p for p in pids if _alive(p)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


@needs_workers
def test_ctrl_c_stops_the_workers_with_one_line(tmp_path):
    """Ctrl-C reaches the terminal's whole process group: the workers print nothing and the parent stops them."""
    out, log = tmp_path / "out", tmp_path / "calls.txt"
    proc = _slow_run(out, log)
    try:
        children = _while_both_units_run(proc, log)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        survivors = _ended(children, within=5)
    finally:
        _end_group(proc)
    assert proc.returncode == 130
    assert err == (
        f"cnnlab study run: interrupted; 0 finished units are kept in {out} — run the same command to continue\n"
    )
    assert survivors == []


@needs_workers
def test_workers_end_when_their_parent_is_killed(tmp_path):
    """Before: SIGKILL of `study run --jobs 2` left its workers running, free to write into the cache a resumed run
    reads. The resource tracker ends with them."""
    out, log = tmp_path / "out", tmp_path / "calls.txt"
    proc = _slow_run(out, log)
    try:
        children = _while_both_units_run(proc, log)
        proc.kill()  # SIGKILL, the parent alone
        proc.wait()  # not communicate(): a surviving worker holds the pipes open
        survivors = _ended(children, within=10)
    finally:
        _end_group(proc)
    assert len(children) >= 3 and survivors == []
    assert not list(out.rglob("seed-*.json"))
