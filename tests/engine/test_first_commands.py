"""The user's first command: each default recipe (test_recipes.py) reaches its target with no flag but --data (and
the engine), trained in full with its own epochs.

The five runs are one-thread processes in two lanes, which take them in this order, each the next one not yet
taken, as soon as pytest starts when it runs the whole suite, else once the tests are collected (conftest.py): they
train beside the rest of the suite, which would otherwise wait for the longest of them, and the tests below wait for
their results. resnet20, the longest (about ten minutes of one core), starts first and keeps the highest priority
(YIELDS): on two cores, resnet20 keeps one, the suite and the other runs share the other, and the lane that resnet20
frees takes any run still waiting. Under pytest-xdist (`make test`) the controlling process starts them and the
worker that runs the tests below reads their results from the files the lanes write.
"""

import atexit
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cnnlab.engine.config import TrainConfig
from cnnlab.engine.recipes import recipe_for

TARGETS = [
    ("resnet20", "shapes", "torch", 0.88),
    ("small_cnn", "shapes", "torch", 0.85),
    ("lenet5", "digits", "torch", 0.97),
    ("lenet5", "digits", "scratch", 0.97),
    ("mlp", "digits", "torch", 0.95),
]
LANES = 2
# How far each run yields the CPU (niceness added to the session's own; the suite's own tests yield 5): resnet20, the
# critical path, not at all; small_cnn, the second longest (about three minutes of one core), as much as the suite,
# so that it is not left to run last on a core of its own; the three short ones (under half a minute each), as far as
# Linux allows (19): they take only what the others leave.
YIELDS = {"resnet20": 0, "small_cnn": 5}
SHORT_RUNS_YIELD = 19
WAITS_FOR_BACKGROUND = ("test_the_first_command_reaches_its_target",)  # conftest.py runs these last
ROOT = "CNNLAB_TEST_FIRST_RUNS"  # environment variable: the folder of the runs a controlling process started


def _name(target) -> str:
    model, data, engine = target[:3]
    return f"{model}-{data}-{engine}"


class FirstRuns:
    """The five first commands, each a subprocess, taken in order by two lanes (daemon threads); each run's folder
    is ROOT/NAME and its outcome ROOT/NAME.json (return code and stderr), written once the run has ended. Processes
    still running when the tests end (an interrupted session) are killed."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="cnnlab-first-runs-"))
        self.running: list[subprocess.Popen] = []
        self.stopped = False
        self.waiting = queue.SimpleQueue()
        for target in TARGETS:
            self.waiting.put(target)
        self.lanes = [threading.Thread(target=self._lane, daemon=True) for _ in range(LANES)]
        for lane in self.lanes:
            lane.start()
        # The suite's own tests (this thread and every process it starts, pytest-xdist's workers too) yield 5 steps of
        # niceness to resnet20 (see YIELDS). Linux applies niceness per thread, and the lanes were started above, at
        # the session's own.
        os.nice(5)
        atexit.register(self.stop)

    def _lane(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "CNNLAB_PLOTS"}  # the first command draws its pictures
        env["OMP_NUM_THREADS"] = "1"
        while not self.stopped:
            try:
                target = self.waiting.get_nowait()
            except queue.Empty:
                return
            model, data, engine, _ = target
            out = self.root / _name(target)
            argv = [sys.executable, "-m", "cnnlab", "train", model, "--data", data, "--engine", engine, "--out",
                    str(out), "--no-progress"]  # fmt: skip
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
            yields = YIELDS.get(model, SHORT_RUNS_YIELD)
            if yields:  # niceness relative to this lane's own
                os.setpriority(os.PRIO_PROCESS, process.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + yields))
            self.running.append(process)
            _, stderr = process.communicate()
            outcome = self.root / f"{_name(target)}.json.tmp"
            outcome.write_text(json.dumps({"returncode": process.returncode, "stderr": stderr[-2000:]}))
            outcome.replace(outcome.with_suffix(""))  # whole or absent: a reader polls for it

    def results(self) -> Path:
        for lane in self.lanes:
            lane.join()
        return self.root

    def stop(self) -> None:
        self.stopped = True
        for process in self.running:
            if process.poll() is None:
                process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


_FIRST: list[FirstRuns] = []


def start_in_background(items) -> None:
    """Called by conftest.py: before collection with None when the whole suite runs, else once the tests are
    collected, with them: start the first commands if their tests will run. A process that starts them tells the
    processes it starts (pytest-xdist's workers) where they are."""
    if not _FIRST and (items is None or any(getattr(i, "originalname", "") in WAITS_FOR_BACKGROUND for i in items)):
        _FIRST.append(FirstRuns())
        os.environ[ROOT] = str(_FIRST[0].root)


def _wait_for_outcomes(root: Path, timeout: float = 3600.0) -> None:
    """Wait until a controlling process's lanes have written every run's outcome into `root`."""
    deadline = time.monotonic() + timeout
    while missing := [t for t in TARGETS if not (root / f"{_name(t)}.json").exists()]:
        assert time.monotonic() < deadline, f"no outcome of {[_name(t) for t in missing]} in {root}"
        time.sleep(1.0)


@pytest.fixture(scope="module")
def first_runs():
    """The folder holding each run's folder and outcome (FirstRuns)."""
    if _FIRST:  # started in this process
        yield _FIRST[0].results()
        _FIRST[0].stop()
    elif os.environ.get(ROOT):  # started by the controlling process of pytest-xdist's workers
        _wait_for_outcomes(Path(os.environ[ROOT]))
        yield Path(os.environ[ROOT])
    else:  # collected without conftest.py's hooks (a pytest-xdist worker in a narrower run): start them now
        _FIRST.append(FirstRuns())
        yield _FIRST[0].results()
        _FIRST[0].stop()


@pytest.mark.parametrize(("model", "data", "engine", "target"), TARGETS, ids=lambda v: str(v))
def test_the_first_command_reaches_its_target(first_runs, model, data, engine, target):
    name = _name((model, data, engine))
    done = json.loads((first_runs / f"{name}.json").read_text())
    assert done["returncode"] == 0, done["stderr"]
    out = first_runs / name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= target
    epochs = recipe_for(model, data).get("epochs", TrainConfig().epochs)  # mlp on digits: the generic defaults
    assert json.loads((out / "config.json").read_text())["epochs"] == epochs
    assert {"curves.png", "confusion.png", "mistakes.png"} <= {p.name for p in out.glob("*.png")}
