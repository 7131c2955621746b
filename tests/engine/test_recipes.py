"""Default recipes: defaults < recipe < config file < flags, config.json records what was used, and `cnnlab train
--help` and `cnnlab models NAME` show them (test_first_commands.py: each reaches its target with no flag but
--data)."""

import argparse
import json

import pytest

from cnnlab.cli import _train_config, build_parser, main
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
