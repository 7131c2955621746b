"""Default recipes: the training settings a (model, data) pair starts from when the generic defaults fall short,
as torchvision documents a recipe per model. The command line applies them between the defaults and the user's
own settings: defaults < recipe < --config FILE < flags, so anything the user gives still wins, and the run's
config.json records the values used.
"""

from __future__ import annotations

from typing import Any

# (model, data) -> TrainConfig fields. Each recipe says why in a clause.
RECIPES: dict[tuple[str, str], dict[str, Any]] = {
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


def format_recipes() -> str:
    """One line per recipe, for `cnnlab train --help`."""
    lines = []
    for (model, data), values in RECIPES.items():
        settings = ", ".join(f"{k}={v}" for k, v in values.items())
        lines.append(f"{model} on {data}: {settings}")
    return "\n".join(lines)
