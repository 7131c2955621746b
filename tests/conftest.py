"""Suite-wide settings and fixtures."""

import importlib
import os
import sys
from pathlib import Path

import pytest
import torch

# Runs in the suite draw no pictures unless a test asks for them (`--plots`, `plots=True`): they would add a second
# or two to each of a hundred runs. tests/engine/test_pictures.py and the first commands of test_recipes.py draw.
os.environ["CNNLAB_PLOTS"] = "0"

# One torch thread, here and in every process a test starts: the suite's models are small, and it runs beside the
# background trainings of test_recipes.py, so a second thread mostly waits at each operation's barrier for a busy
# core (on 2 cores, in-process tests used 10% more CPU than wall time with two threads). A test that compares with
# another process gets the same count on both sides.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """Tests that wait for a background training (their module's `WAITS_FOR_BACKGROUND` names them) run after the
    rest, so that the rest of the suite runs beside that training instead of waiting for it. The modules whose tests
    train on two processes at once (`TWO_PROCESSES = True`: torchrun's) run after those: beside the background
    trainings, which keep a core, the two processes share one and take twice as long; once those end, each process
    has a core of its own."""
    waiting = [i for i in items if getattr(i, "originalname", "") in getattr(i.module, "WAITS_FOR_BACKGROUND", ())]
    if waiting:
        two = [i for i in items if getattr(i.module, "TWO_PROCESSES", False)]
        items[:] = [i for i in items if i not in waiting and i not in two] + waiting + two


def pytest_configure(config):
    """The whole suite (`make test`: no paths, no selection) starts the first commands of engine/test_recipes.py
    now, before collection, which takes about 13 s of one core while the other would idle. Any other run starts
    them, if it selects their tests, once they are collected (below)."""
    option = config.option
    selected = option.keyword or option.markexpr or option.deselect or option.collectonly or getattr(option, "lf", 0)
    if config.args_source is pytest.Config.ArgsSource.TESTPATHS and not selected:
        sys.path.insert(0, str(Path(__file__).parent / "engine"))  # where collection imports the module from
        importlib.import_module("test_recipes").start_in_background(None)


def pytest_collection_finish(session):
    """A test module may define `start_in_background(items)`: it is called once, with the selected tests, as soon as
    they are known, so that a module's long trainings (subprocesses) overlap the rest of the suite instead of
    holding it up (tests/engine/test_recipes.py)."""
    if session.config.option.collectonly:
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
