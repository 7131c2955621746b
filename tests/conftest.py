"""Suite-wide settings and fixtures."""

import importlib
import os
import sys
from pathlib import Path

import pytest
import torch

# Runs in the suite draw no pictures unless a test asks for them (`--plots`, `plots=True`): they would add a second
# or two to each of a hundred runs. tests/engine/test_pictures.py and the first commands (test_first_commands.py)
# draw.
os.environ["CNNLAB_PLOTS"] = "0"

# One torch thread, here and in every process a test starts: the suite's models are small, and it runs beside the
# background trainings of test_first_commands.py, so a second thread mostly waits at each operation's barrier for a
# busy core (on 2 cores, in-process tests used 10% more CPU than wall time with two threads). A test that compares
# with another process gets the same count on both sides.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """Tests that wait for a background training (their module's `WAITS_FOR_BACKGROUND` names them) run after the
    rest, so that the rest of the suite runs beside that training instead of waiting for it."""
    waiting = [i for i in items if getattr(i, "originalname", "") in getattr(i.module, "WAITS_FOR_BACKGROUND", ())]
    if waiting:
        items[:] = [i for i in items if i not in waiting] + waiting


def pytest_configure(config):
    """The whole suite (`make test`: no paths, no selection) starts the first commands of
    engine/test_first_commands.py now, before collection, which takes about 13 s of one core; under pytest-xdist,
    in the controlling process, before it starts its workers. Any other run starts them, if it selects their tests,
    once they are collected (below), or when their tests start (a pytest-xdist worker)."""
    option = config.option
    selected = option.keyword or option.markexpr or option.deselect or option.collectonly or getattr(option, "lf", 0)
    worker = hasattr(config, "workerinput")
    if config.args_source is pytest.Config.ArgsSource.TESTPATHS and not selected and not worker:
        sys.path.insert(0, str(Path(__file__).parent / "engine"))  # where collection imports the module from
        importlib.import_module("test_first_commands").start_in_background(None)


def pytest_collection_finish(session):
    """A test module may define `start_in_background(items)`: it is called once, with the selected tests, as soon as
    they are known, so that a module's long trainings (subprocesses) overlap the rest of the suite instead of
    holding it up (tests/engine/test_first_commands.py). Not in a pytest-xdist worker: every worker collects every
    test, and one of them runs these."""
    if session.config.option.collectonly or hasattr(session.config, "workerinput"):
        return
    started = set()
    for item in session.items:
        module = getattr(item, "module", None)
        start = getattr(module, "start_in_background", None)
        if start is not None and module.__name__ not in started:
            started.add(module.__name__)
            start(session.items)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _restore_threads():
    """A test may pin torch to one thread; the next test gets the count back (bit-exact comparisons with runs in
    subprocesses, such as the resume tests, need the same thread count on both sides)."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
