"""Default recipes: the training settings a (model, data) pair starts from when the generic defaults fall short,
as torchvision documents a recipe per model. The command line applies them between the defaults and the user's
own settings: defaults < recipe < --config FILE < flags, so anything the user gives still wins, and the run's
config.json records the values used. A recipe holds for both engines where the model has a NumPy twin
(`--engine scratch`): it uses only what the scratch trainer supports.

The accuracies each recipe reaches, per seed, are in docs/training.md (section Default recipes).
"""

from __future__ import annotations

import json
from typing import Any

# (model, data) -> TrainConfig fields. Each recipe says why in a clause. Pairs the generic defaults already train
# well have none (mlp on digits: about 97%).
RECIPES: dict[tuple[str, str], dict[str, Any]] = {
    # max pooling lifts LeNet-5 on the 8×8 digits (zero-padded to 32×32) above 97% on every seed where the classic
    # average pooling does not; it keeps its tanh, so `--kw pool=avg` gives the classic net back
    ("lenet5", "digits"): {
        "model_kwargs": {"pool": "max"},
        "optimizer": "sgd",
        "lr": 0.05,
        "weight_decay": 5e-4,
        "batch_size": 32,
        "epochs": 30,
    },
    # two convs per stage and random crops and flips: depth and augmentation are what shapes rewards
    ("small_cnn", "shapes"): {
        "model_kwargs": {"convs": 2},
        "optimizer": "adam",
        "lr": 3e-3,
        "epochs": 12,
        "augment": "crop:2,flip",
    },
    # Adam at a higher rate with crops and flips: in a short run it leaves chance faster than He et al.'s SGD at 0.1;
    # five epochs are too few on some seeds
    ("resnet20", "shapes"): {
        "optimizer": "adam",
        "lr": 3e-3,
        "epochs": 10,
        "augment": "crop:2,flip",
    },
    # a detector on the shapes scenes: the detection task, AdamW with warmup and cosine decay, flips and small
    # shifts that move the boxes with the pixels; the length fits about ten minutes on a 2-core CPU
    ("tinydet", "shapes"): {
        "data_kwargs": {"task": "detection"},
        "optimizer": "adamw",
        "lr": 3e-3,
        "weight_decay": 0.05,
        "schedule": "warmup_cos",
        "warmup": 1.0,
        "epochs": 30,
        "batch_size": 32,
        "augment": "flip,translate:2",
    },
}


def recipe_for(model: str, data: str) -> dict[str, Any]:
    """The recipe of (model, data), or {} when the generic defaults apply."""
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in RECIPES.get((model, data), {}).items()}


def recipes_of(model: str) -> dict[str, dict[str, Any]]:
    """The recipes of `model`, by data set name (empty when it has none)."""
    return {data: recipe_for(model, data) for (name, data) in RECIPES if name == model}


def as_flags(values: dict[str, Any]) -> str:
    """A recipe as the `cnnlab train` flags that give the same settings, e.g. '--act relu --kw pool=max'."""
    flags = []
    for key, value in values.items():
        if key in ("model_kwargs", "data_kwargs"):
            option = "--kw" if key == "model_kwargs" else "--data-kw"
            flags.extend(f"{option} {k}={_text(v)}" for k, v in value.items())
        elif isinstance(value, bool):
            flags.append(f"--{'' if value else 'no-'}{key.replace('_', '-')}")
        else:
            flags.append(f"--{key.replace('_', '-')} {value}")
    return " ".join(flags)


def _text(value: Any) -> str:
    """A keyword value as `--kw` reads it back: strings bare, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def format_recipes() -> str:
    """One line per recipe, as flags, for `cnnlab train --help`."""
    return "\n".join(f"  {model} on {data}: {as_flags(values)}" for (model, data), values in RECIPES.items())
