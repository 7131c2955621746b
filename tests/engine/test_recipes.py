"""Default recipes: defaults < recipe < config file < flags, and config.json records what was used."""

import argparse
import json

import pytest

from cnnlab.cli import _train_config, build_parser, main
from cnnlab.engine.recipes import RECIPES, recipe_for


def config_for(argv, tmp_path=None):
    args = build_parser().parse_args(["train", *argv])
    assert isinstance(args, argparse.Namespace)
    return _train_config(args)


def test_the_recipe_fills_what_the_user_leaves_open():
    config = config_for(["tinydet", "--data", "shapes", "--epochs", "2", "--data-kw", "n_train=64"])
    recipe = RECIPES[("tinydet", "shapes")]
    assert config.epochs == 2  # a flag wins
    assert (config.optimizer, config.lr, config.augment) == (recipe["optimizer"], recipe["lr"], recipe["augment"])
    assert config.data_kwargs == {"task": "detection", "n_train": 64}  # the user's keywords add to the recipe's


def test_a_config_file_wins_over_the_recipe_and_flags_over_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('model = "tinydet"\ndata = "shapes"\nlr = 0.01\naugment = ""\n[data_kwargs]\ntask = "detection"\n')
    config = config_for(["--config", str(path), "--lr", "0.02"])
    assert config.lr == 0.02 and config.augment == "" and config.optimizer == "adamw"
    assert config_for(["lenet5", "--data", "digits"]).optimizer == "adam"  # no recipe: the generic defaults


def test_recipes_are_shown_and_recorded(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "default recipes: tinydet on shapes" in capsys.readouterr().out
    out = tmp_path / "run"
    argv = ["train", "tinydet", "--data", "shapes", "--epochs", "2", "--data-kw", "n_train=64", "--data-kw",
            "n_test=32", "--kw", "widths=[8,16,32]", "--kw", "neck_width=16", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    recorded = json.loads((out / "config.json").read_text())
    assert (
        recorded["optimizer"] == "adamw" and recorded["weight_decay"] == RECIPES[("tinydet", "shapes")]["weight_decay"]
    )
    assert recipe_for("tinydet", "shapes") is not RECIPES[("tinydet", "shapes")]  # a copy: callers cannot edit it
