"""Running studies: every (arm, seed) once, cached, in this process or in N worker processes.

`run_study` is the Python entry point; `cnnlab study run` calls `run_studies`. Each worker process runs one unit at
a time with torch threads = cores / jobs: small models slow down many times over when several processes each start
as many threads as the machine has cores, so there are never more workers than cores.

Workers ignore Ctrl-C (the parent stops them and says how to continue) and end when their parent dies, even by
SIGKILL: an orphan would go on writing into the cache that the resumed run reads. On Linux they are forked from a
fork server (multiprocessing's "forkserver"), a fresh process that imports torch and cnnlab's studies once: a worker
starts in a few milliseconds instead of the seconds a new interpreter takes to import torch, and no worker inherits
the torch thread pools of a process that has computed anything. Elsewhere each worker is a new interpreter ("spawn").
"""

from __future__ import annotations

import functools
import importlib
import multiprocessing
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from .._lifeline import end_with
from ..errors import ConfigError, RunInterrupted
from ._base import PROFILES, Results, Study, Verdict, check_numbers
from ._registry import get_study, list_studies
from .cache import ArmRecords, Unit, check_out_dir, load_arm, read_record, save_unit, save_verdict_record
from .evidence import Check, Comparison, judge


@dataclass(frozen=True)
class StudyResult:
    """A study's collected numbers, verdict and provenance.

    Attributes:
        study: the study.
        results: every (arm, seed)'s numbers.
        verdict: the verdict (`evidence.judge`): the rule's, unless a competence or premise requirement failed.
        seconds: compute time of the runs (summed over arms and seeds, including cached ones).
        environment: versions and device of the runs (of the first run, when they were measured apart).
        command: the command that reproduces the results.
        measured: what `study.decide` alone read from the numbers.
        checks: the profile's competence and premise requirements, checked.
        comparisons: the published anchors beside our numbers.
    """

    study: Study
    results: Results
    verdict: Verdict
    seconds: float
    environment: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    measured: Verdict | None = None
    checks: tuple[Check, ...] = ()
    comparisons: tuple[Comparison, ...] = ()

    @property
    def competent(self) -> bool:
        """Whether every competence requirement was met (true for a study that trains nothing)."""
        return all(c.met for c in self.checks if c.kind == "competence")


def study_result(study: Study, results: Results, seconds: float, env: dict[str, Any], command: str) -> StudyResult:
    """The judged result: requirements checked, then the rule (`evidence.judge`); nothing else makes a verdict."""
    j = judge(study, results)
    return StudyResult(study, results, j.verdict, seconds, env, command, j.measured, j.checks, j.comparisons)


def environment(device: str) -> dict[str, Any]:
    """Where a unit ran: versions, device, cores and threads, the source commit, and when it finished."""
    dev = torch.device(device)
    return {
        "cnnlab": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "commit": source_commit(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


@functools.cache
def source_commit() -> str:
    """The git commit of cnnlab's source ('+dirty' when its files differ from it), or 'unknown' outside a clone."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return "unknown"
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                "cnnlab"], capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but this PyTorch sees no CUDA device; use --device cpu")
    return device


def run_unit(
    study: Study, unit: Unit, *, device: str = "cpu", data_dir: str | None = None, cache_dir: str | None = None
) -> dict[str, Any]:
    """Run one (arm, seed) of `study` and return its record (numbers, digest, seconds, versions). It writes nothing
    of its own; a training it shares with other studies or arms is kept under `cache_dir` (`cache.shared_numbers`)."""
    ctx = study.context(unit.profile, device=device, data_dir=data_dir, cache_dir=cache_dir)
    started = time.perf_counter()
    numbers = check_numbers(study.id, unit.arm, study.run(unit.arm, unit.seed, ctx))
    return {
        "study": study.id,
        "profile": unit.profile,
        "arm": unit.arm,
        "seed": unit.seed,
        "digest": study.digest(unit.profile, real_data=bool(data_dir)),
        "real_data": bool(data_dir),
        "seconds": time.perf_counter() - started,
        "environment": environment(device),
        "numbers": numbers,
    }


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one, else all of them)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _worker_context():
    """How workers start: forked from a fork server that has imported torch and the studies (Linux), else spawned."""
    if sys.platform.startswith("linux"):
        context = get_context("forkserver")
        context.set_forkserver_preload([__name__, "cnnlab.studies"])
        return context
    return get_context("spawn")


def _worker_init(threads: int, parent: int) -> None:
    torch.set_num_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent handles it
    end_with(parent)  # no orphan: the worker ends when the run does, even when the run is killed


def _worker_run(unit: Unit, module: str, device: str, data_dir: str | None, cache_dir: str | None) -> dict[str, Any]:
    if unit.study not in list_studies():  # a study registered outside cnnlab: import the module that defines it
        importlib.import_module(module)
    return run_unit(get_study(unit.study), unit, device=device, data_dir=data_dir, cache_dir=cache_dir)


def seed_list(study: Study, profile: str, seeds: int | None, first_seed: int) -> tuple[int, ...]:
    n = study.seeds[profile] if seeds is None else seeds
    if n < 1:
        raise ConfigError(f"--seeds must be at least 1, got {n}")
    if first_seed < 0:
        raise ConfigError(f"--first-seed must be ≥ 0, got {first_seed}")
    return tuple(range(first_seed, first_seed + n))


def collect(
    study: Study, profile: str, seeds: Sequence[int], records: dict[Unit, dict[str, Any]]
) -> tuple[Results, float, dict[str, Any]]:
    """Results of `study` from unit records (every arm × seed present), their summed seconds and environment."""
    runs, seconds, env = {}, 0.0, {}
    params = study.profiles[profile]
    for arm in study.arms:
        rows = []
        for seed in seeds:
            record = records[Unit(study.id, profile, arm, seed)]
            rows.append(record["numbers"])
            seconds += float(record.get("seconds", 0.0))
            env = env or dict(record.get("environment", {}))
        runs[arm] = tuple(rows)
    return Results(study.id, profile, params, tuple(seeds), runs), seconds, env


def reproduce_command(study_id: str, profile: str, seeds: Sequence[int], data_dir: str | None) -> str:
    words = ["cnnlab", "study", "run", study_id, "--profile", profile, "--seeds", str(len(seeds))]
    if seeds and seeds[0] != 0:
        words += ["--first-seed", str(seeds[0])]
    if data_dir:
        words += ["--data-dir", str(data_dir)]
    return shlex.join(words)


def run_studies(
    study_ids: Sequence[str],
    *,
    profile: str = "quick",
    seeds: int | None = None,
    first_seed: int = 0,
    arms: Sequence[str] | None = None,
    jobs: int = 1,
    out: str | Path | None = None,
    device: str = "cpu",
    data_dir: str | None = None,
    progress: bool = False,
    on_result: Callable[[StudyResult], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[StudyResult]:
    """Run the units of `study_ids` not yet cached under `out`, then decide each study whose arms are all present.

    Args:
        study_ids: ids, or ['all'].
        profile: 'quick' or 'full'.
        seeds: number of seeds (default: the study's for the profile); seeds are first_seed, first_seed + 1, ….
        arms: run only these arms (a study is then decided only if its other arms are cached).
        jobs: worker processes, at most the machine's cores (more are capped, with a note through `log`); each
            uses cores // jobs torch threads. 1 runs in this process.
        out: cache directory; None keeps nothing (every unit runs).
        progress: draw a progress bar over all units, with an ETA.
        on_result: called with each study's result as soon as its last unit lands.
        log: called with a one-line note: --jobs capped, a bad cached record measured again (default: stderr).

    Returns the results of the studies that could be decided, in the order asked. Ctrl-C raises `RunInterrupted`,
    whose message says how many finished units are kept and how to continue.
    """
    log = log or _to_stderr
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    cores = available_cores()
    if jobs > cores:
        log(f"--jobs {jobs} capped at {cores}, the cores of this machine")
        jobs = cores
    ids = list_studies() if list(study_ids) in (["all"], []) else list(dict.fromkeys(study_ids))
    studies = [get_study(i) for i in ids]
    device = resolve_device(device)
    if data_dir is not None and not Path(data_dir).is_dir():
        raise ConfigError(f"--data-dir {data_dir} is not a directory")
    out_dir = check_out_dir(Path(out)) if out is not None else None
    if arms:
        for study in studies:
            unknown = [a for a in arms if a not in study.arms]
            if unknown and len(studies) == 1:
                raise ConfigError(f"study {study.id} has no arm {unknown[0]!r}; its arms: {', '.join(study.arms)}")

    plan: dict[str, tuple[tuple[int, ...], list[Unit]]] = {}
    records: dict[Unit, dict[str, Any]] = {}
    todo: list[Unit] = []
    for study in studies:
        chosen = seed_list(study, profile, seeds, first_seed)
        digest = study.digest(profile, real_data=bool(data_dir))
        units = [Unit(study.id, profile, arm, seed) for seed in chosen for arm in study.arms]
        plan[study.id] = (chosen, units)
        cached = {a: load_arm(out_dir, study.id, profile, a, digest) for a in study.arms} if out_dir is not None else {}
        for unit in units:
            if unit.arm in cached and unit.seed in cached[unit.arm].good:
                records[unit] = cached[unit.arm].good[unit.seed]
            elif not arms or unit.arm in arms:
                if unit.arm in cached and unit.seed in cached[unit.arm].bad:
                    log(f"{cached[unit.arm].bad[unit.seed]}; measuring it again")
                todo.append(unit)

    results: list[StudyResult] = []
    done: set[str] = set()

    def finish_ready() -> None:
        for study in studies:
            chosen, units = plan[study.id]
            if study.id in done or not all(u in records for u in units):
                continue
            done.add(study.id)
            res, seconds, env = collect(study, profile, chosen, records)
            result = study_result(study, res, seconds, env, reproduce_command(study.id, profile, chosen, data_dir))
            if out_dir is not None:
                save_verdict(out_dir, result, real_data=bool(data_dir))
            results.append(result)
            if on_result is not None:
                on_result(result)

    def land(unit: Unit, record: dict[str, Any]) -> None:
        records[unit] = record
        if out_dir is not None:
            save_unit(out_dir, unit, record)
        finish_ready()

    finish_ready()
    bar = _progress_bar(len(todo), progress)
    cache_dir = str(out_dir) if out_dir is not None else None
    try:
        if jobs == 1 or len(todo) <= 1:
            for unit in todo:
                bar.set_postfix_str(f"{unit.study}/{unit.arm}/seed {unit.seed}", refresh=False)
                land(unit, run_unit(get_study(unit.study), unit, device=device, data_dir=data_dir, cache_dir=cache_dir))
                bar.update(1)
        else:
            _run_parallel(todo, min(jobs, len(todo)), device, data_dir, cache_dir, land, bar)
    except KeyboardInterrupt as exc:
        units = "1 finished unit is" if len(records) == 1 else f"{len(records)} finished units are"
        kept = f"{units} kept in {out_dir}" if out_dir is not None else "nothing is kept (no out directory)"
        raise RunInterrupted(f"interrupted; {kept} — run the same command to continue") from exc
    finally:
        bar.close()
    order = {sid: i for i, sid in enumerate(ids)}
    return sorted(results, key=lambda r: order[r.study.id])


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _run_parallel(todo, jobs, device, data_dir, cache_dir, land, bar) -> None:
    threads = max(1, available_cores() // jobs)
    before = set(multiprocessing.active_children())
    # not fork: a child forked from this process would inherit its torch thread pools in an undefined state
    with ProcessPoolExecutor(jobs, mp_context=_worker_context(), initializer=_worker_init,
                             initargs=(threads, os.getpid())) as pool:  # fmt: skip
        pending: dict[Future, Unit] = {}
        queue = list(todo)
        try:
            while queue or pending:
                while queue and len(pending) < jobs * 2:  # a short queue: a failed unit stops the rest soon
                    unit = queue.pop(0)
                    module = get_study(unit.study).run.__module__
                    pending[_submit(pool, _worker_run, unit, module, device, data_dir, cache_dir)] = unit
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    unit = pending.pop(future)
                    land(unit, future.result())
                    bar.update(1)
        except BaseException:  # Ctrl-C, a full disk, a failed unit: stop the workers now, not after their units
            pool.shutdown(wait=False, cancel_futures=True)
            for worker in set(multiprocessing.active_children()) - before:
                worker.terminate()  # a unit cut short leaves no file behind: every write is atomic
            raise


def _submit(pool: ProcessPoolExecutor, *call: Any) -> Future:
    """pool.submit with Ctrl-C blocked in this thread, so that a worker it starts is born with Ctrl-C blocked: one
    pressed while the worker starts up (before `_worker_init` ignores it) prints no traceback of its own."""
    if not hasattr(signal, "pthread_sigmask"):
        return pool.submit(*call)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return pool.submit(*call)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="study runs", unit="run", disable=not enabled or total == 0, dynamic_ncols=True)


def run_study(
    study_id: str,
    *,
    profile: str = "quick",
    seeds: int | None = None,
    first_seed: int = 0,
    jobs: int = 1,
    out: str | Path | None = None,
    device: str = "cpu",
    data_dir: str | None = None,
) -> StudyResult:
    """Run one study (for notebooks): `cnnlab.studies.run("dropout", profile="quick")` returns its numbers and
    verdict. With `out`, results are cached there and reused."""
    (result,) = run_studies(
        [study_id], profile=profile, seeds=seeds, first_seed=first_seed, jobs=jobs, out=out, device=device,
        data_dir=data_dir,
    )  # fmt: skip
    return result


def save_verdict(out: Path, result: StudyResult, *, real_data: bool) -> None:
    """OUT/<study>/<profile>/verdict.json: the verdict, what the rule alone read, each requirement's state and the
    seeds, under the design digest; committed with a reference run, so a test can decide its records again."""
    study, res = result.study, result.results
    record = {
        "study": study.id,
        "profile": res.profile,
        "digest": study.digest(res.profile, real_data=real_data),
        "real_data": real_data,
        "seeds": list(res.seeds),
        "seconds": result.seconds,
        "verdict": {"kind": result.verdict.kind, "sentence": result.verdict.sentence, "number": result.verdict.number},
        "measured": None if result.measured is None else result.measured.kind,
        "checks": [
            {"kind": c.kind, "text": c.requirement.text, "met": c.met, "measured": c.measured} for c in result.checks
        ],
    }
    save_verdict_record(out, study.id, res.profile, record)


def load_reference(folder: str | Path) -> list[StudyResult]:
    """The committed reference run: every study's full-profile results under `folder` measured under its current
    design ([] when the folder is absent or holds none yet)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [r for r in load_results(folder, profiles=("full",), empty_ok=True) if _finished(folder, r)]


def _finished(folder: Path, result: StudyResult) -> bool:
    """Whether `result` is a whole committed run: its verdict.json names the same seeds (a run still landing has
    units but no verdict yet, and is not shown)."""
    saved = read_record(folder / result.study.id / "full" / "verdict.json")
    return saved is not None and saved.get("seeds") == list(result.results.seeds)


def load_results(out: str | Path, *, profiles: Sequence[str] = PROFILES, empty_ok: bool = False) -> list[StudyResult]:
    """Every (study, profile) under `out` whose arms share at least one seed measured under the study's current
    design; used by the report. Units of stale designs are ignored.

    A verdict is never built from fewer seeds than were run without saying so: a bad record (`cache.load_arm`), or
    a seed that the study's verdict.json was decided with but whose file is gone, is a ConfigError naming the file
    and the command that measures it again."""
    out = Path(out)
    if not out.is_dir():
        raise ConfigError(f"{out} is not a directory of study results (run 'cnnlab study run ... --out {out}')")
    found = []
    for study_id in list_studies():
        study = get_study(study_id)
        for profile in reversed([p for p in PROFILES if p in profiles]):  # full first
            cached = {
                real_data: {arm: load_arm(out, study_id, profile, arm, study.digest(profile, real_data=real_data))
                            for arm in study.arms}
                for real_data in (True, False)
            }  # fmt: skip
            _refuse_missing_or_bad(out, study, profile, cached)
            for real_data in (True, False):
                arms = cached[real_data]
                common = set.intersection(*(set(a.good) for a in arms.values()))
                if not common:
                    continue
                seeds = tuple(sorted(common))
                records = {Unit(study_id, profile, arm, s): a.good[s] for arm, a in arms.items() for s in seeds}
                res, seconds, env = collect(study, profile, seeds, records)
                data_dir = "DIR" if real_data else None
                found.append(
                    study_result(study, res, seconds, env, reproduce_command(study_id, profile, seeds, data_dir))
                )
    if not found and not empty_ok:
        raise ConfigError(
            f"{out} holds no study results of the current designs; run 'cnnlab study run all --out {out}'"
        )
    return found


def _refuse_missing_or_bad(out: Path, study: Study, profile: str, cached: dict[bool, dict[str, ArmRecords]]) -> None:
    """Raise a ConfigError for the first bad record of (study, profile), or for a seed its verdict.json was decided
    with that an arm no longer holds. `cached`: for real data and for the embedded data, each arm's records."""
    seeds = sorted({s for arms in cached.values() for a in arms.values() for s in (*a.good, *a.bad)})
    # a file that is no JSON is bad under both digests: name it with the data most records were measured on
    for real_data in sorted(cached, key=lambda r: -sum(len(a.good) for a in cached[r].values())):
        problems = [problem for a in cached[real_data].values() for problem in a.bad.values()]
        if problems:
            command = reproduce_command(study.id, profile, range(seeds[0], seeds[-1] + 1), "DIR" if real_data else None)
            raise ConfigError(f"{problems[0]}; run '{command} --out {shlex.quote(str(out))}' to measure it again")
    path = out / study.id / profile / "verdict.json"
    saved = read_record(path)
    if saved is None or not isinstance(saved.get("seeds"), list):
        return
    real_data = saved.get("digest") == study.digest(profile, real_data=True)
    if saved.get("digest") != study.digest(profile, real_data=real_data):
        return
    decided = [s for s in saved["seeds"] if isinstance(s, int)]
    for arm, records in cached[real_data].items():
        for seed in decided:
            if seed not in records.good:
                command = reproduce_command(study.id, profile, decided, "DIR" if real_data else None)
                raise ConfigError(
                    f"{Unit(study.id, profile, arm, seed).path(out)} is missing, but {path} was decided with it; "
                    f"run '{command} --out {shlex.quote(str(out))}' to measure it again"
                )
