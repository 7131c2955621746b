"""Default recipes: defaults < recipe < config file < flags, config.json records what was used, `cnnlab train
--help` and `cnnlab models NAME` show them, and each recipe reaches its target with no flag but --data."""

import argparse
import atexit
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from cnnlab.cli import _train_config, build_parser, main
from cnnlab.engine.config import TrainConfig
from cnnlab.engine.recipes import RECIPES, as_flags, recipe_for, recipes_of


def config_for(argv):
    args = build_parser().parse_args(["train", *argv])
    assert isinstance(args, argparse.Namespace)
    return _train_config(args)


def test_the_recipe_fills_what_the_user_leaves_open():
    config = config_for(["tinydet", "--data", "shapes", "--epochs", "2", "--data-kw", "n_train=64"])
    recipe = RECIPES[("tinydet", "shapes")]
    assert config.epochs == 2  # a flag wins
    assert (config.optimizer, config.lr, config.augment) == (recipe["optimizer"], recipe["lr"], recipe["augment"])
    assert config.data_kwargs == {"task": "detection", "n_train": 64}  # the user's keywords add to the recipe's


def test_the_lenet5_recipe_is_applied_and_every_flag_wins_over_it():
    recipe = RECIPES[("lenet5", "digits")]
    config = config_for(["lenet5", "--data", "digits"])
    for key, value in recipe.items():
        assert getattr(config, key) == value, key
    assert config.model_kwargs == {"pool": "max"}  # the recipe's one change of architecture
    for engine in ("torch", "scratch"):
        assert config_for(["lenet5", "--data", "digits", "--engine", engine]).lr == recipe["lr"]
    flags = ["--optimizer", "adam", "--lr", "0.002", "--batch-size", "64", "--epochs", "3", "--weight-decay", "0"]
    config = config_for(["lenet5", "--data", "digits", *flags, "--kw", "pool=avg"])
    assert (config.optimizer, config.lr, config.batch_size, config.epochs) == ("adam", 0.002, 64, 3)
    assert config.weight_decay == 0.0 and config.model_kwargs == {"pool": "avg"}  # the classic LeNet-5
    assert config_for(["lenet5", "--data", "mnist"]).optimizer == "adam"  # no recipe: the generic defaults


def test_a_config_file_wins_over_the_recipe_and_flags_over_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('model = "tinydet"\ndata = "shapes"\nlr = 0.01\naugment = ""\n[data_kwargs]\ntask = "detection"\n')
    config = config_for(["--config", str(path), "--lr", "0.02"])
    assert config.lr == 0.02 and config.augment == "" and config.optimizer == "adamw"


def test_recipes_are_shown_in_train_help(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--help"])
    assert stop.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("default recipes (any flag you give wins):")
    shown = lines[start + 1 : start + 1 + len(RECIPES)]
    assert shown == [f"  {model} on {data}: {as_flags(values)}" for (model, data), values in RECIPES.items()]
    assert shown[0].startswith("  lenet5 on digits: --kw pool=max --optimizer sgd --lr 0.05 ")


def test_models_name_prints_its_recipes(capsys):
    assert main(["models", "lenet5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("lenet5 ")
    flags = as_flags(recipe_for("lenet5", "digits"))
    assert lines[1] == f"recipe of lenet5 on digits (any flag you give wins): {flags}"
    assert main(["models", "alexnet"]) == 0  # no recipe: the table row alone
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert main(["models", "lenet5", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["recipes"] == {"digits": RECIPES[("lenet5", "digits")]}


def test_recipe_flags_read_back_as_the_same_config():
    for (model, data), values in RECIPES.items():
        config = config_for([model, "--data", data, *as_flags(values).split()])
        assert config == config_for([model, "--data", data]), model
    assert recipes_of("tinydet") == {"shapes": RECIPES[("tinydet", "shapes")]} and recipes_of("vgg11") == {}
    assert recipe_for("tinydet", "shapes") is not RECIPES[("tinydet", "shapes")]  # a copy: callers cannot edit it


def test_the_run_records_the_recipe_and_the_flags_that_won(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "lenet5", "--data", "digits", "--epochs", "1", "--train-split", "train[:64]",
            "--test-split", "test[:32]", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    recorded = json.loads((out / "config.json").read_text())
    recipe = RECIPES[("lenet5", "digits")]
    assert recorded["epochs"] == 1  # the flag
    kept = {key: value for key, value in recipe.items() if key != "epochs"}  # the recipe's other values
    assert {key: recorded[key] for key in kept} == kept


# The user's first command: no flag but --data (and the engine), with each recipe's own epochs. The five runs are
# one-thread processes in two lanes, which take them in this order, each the next one not yet taken, as soon as
# pytest starts when it runs the whole suite, else once the tests are collected (conftest.py): they train beside
# the rest of the suite, which would otherwise wait for the longest of them, and the tests below wait for their
# results. resnet20, the longest (about ten minutes of one core), starts first and keeps the highest priority
# (YIELDS): on two cores, resnet20 keeps one, the suite and the other runs share the other, and the lane that
# resnet20 frees takes any run still waiting.
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
# so that it is not left to run last on a core of its own; the three short ones (under half a minute each), 10: they
# fill what the others leave.
YIELDS = {"resnet20": 0, "small_cnn": 5}
WAITS_FOR_BACKGROUND = ("test_the_first_command_reaches_its_target",)  # conftest.py runs these last


class FirstRuns:
    """The five first commands, each a subprocess, taken in order by two lanes (daemon threads); `results()` waits
    for them. Processes still running when the tests end (an interrupted session) are killed."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="cnnlab-first-runs-"))
        self.done: dict[tuple[str, str, str], tuple[subprocess.CompletedProcess, Path]] = {}
        self.running: list[subprocess.Popen] = []
        self.stopped = False
        self.waiting = queue.SimpleQueue()
        for target in TARGETS:
            self.waiting.put(target)
        self.lanes = [threading.Thread(target=self._lane, daemon=True) for _ in range(LANES)]
        for lane in self.lanes:
            lane.start()
        # The suite's own tests (this thread and every process it starts) yield 5 steps of niceness to resnet20 (see
        # YIELDS). Linux applies niceness per thread, and the lanes were started above, at the session's own.
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
            out = self.root / f"{model}-{data}-{engine}"
            argv = [sys.executable, "-m", "cnnlab", "train", model, "--data", data, "--engine", engine, "--out",
                    str(out), "--no-progress"]  # fmt: skip
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            yields = YIELDS.get(model, 10)
            if yields:  # niceness relative to this lane's own
                os.setpriority(os.PRIO_PROCESS, process.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + yields))
            self.running.append(process)
            stdout, stderr = process.communicate()
            self.done[(model, data, engine)] = (subprocess.CompletedProcess(argv, process.returncode, stdout, stderr),
                                                out)  # fmt: skip

    def results(self):
        for lane in self.lanes:
            lane.join()
        return self.done

    def stop(self) -> None:
        self.stopped = True
        for process in self.running:
            if process.poll() is None:
                process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


_FIRST: list[FirstRuns] = []


def start_in_background(items) -> None:
    """Called by conftest.py: before collection with None when the whole suite runs, else once the tests are
    collected, with them: start the first commands if their tests will run."""
    if not _FIRST and (items is None or any(getattr(i, "originalname", "") in WAITS_FOR_BACKGROUND for i in items)):
        _FIRST.append(FirstRuns())


@pytest.fixture(scope="module")
def first_runs():
    if not _FIRST:  # collected without conftest.py's hook: start them now
        _FIRST.append(FirstRuns())
    yield _FIRST[0].results()
    _FIRST[0].stop()


@pytest.mark.parametrize(("model", "data", "engine", "target"), TARGETS, ids=lambda v: str(v))
def test_the_first_command_reaches_its_target(first_runs, model, data, engine, target):
    done, out = first_runs[(model, data, engine)]
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= target
    epochs = recipe_for(model, data).get("epochs", TrainConfig().epochs)  # mlp on digits: the generic defaults
    assert json.loads((out / "config.json").read_text())["epochs"] == epochs
    assert {"curves.png", "confusion.png", "mistakes.png"} <= {p.name for p in out.glob("*.png")}
