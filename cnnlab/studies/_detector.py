"""What the detector studies share: the shapes detection data, one training run of `tinydet`, and its numbers."""

from __future__ import annotations

from typing import Any

from ..models import summarize
from ._base import Context
from ._common import fit, shapes_data

DATA_SEED = 11  # every arm and seed sees the same images

# Budgets of the detector studies: images, epochs, and the model's size (quick: 8×8 head maps, one merge).
PROFILES = {
    "quick": {"n_train": 600, "n_test": 300, "difficulty": 0.1, "epochs": 8, "lr": 0.01,
              "widths": (8, 16, 32), "neck_width": 16, "head_stride": 4},
    "full": {"n_train": 2000, "n_test": 500, "difficulty": 0.1, "epochs": 30, "lr": 0.005,
             "widths": (16, 32, 64), "neck_width": 32, "head_stride": 2},
}  # fmt: skip


def train_detector(ctx: Context, seed: int, *, box_loss: str = "giou", **model: Any) -> dict[str, Any]:
    """Train `tinydet` (AdamW, batch 32) on the study's shapes detection data; its COCO numbers, parameters, MACs."""
    data = shapes_data(ctx["n_train"], ctx["n_test"], task="detection", seed=DATA_SEED, difficulty=ctx["difficulty"])
    kwargs = {"widths": tuple(ctx["widths"]), "neck_width": ctx["neck_width"], "head_stride": ctx["head_stride"],
              **model}  # fmt: skip
    result = fit(ctx, seed, data, model="tinydet", box_loss=box_loss, epochs=ctx["epochs"], batch_size=32,
                 lr=ctx["lr"], optimizer="adamw", model_kwargs=kwargs)  # fmt: skip
    summary = summarize(result.model)
    m = result.test_metrics
    return {"map": m["map"], "map50": m["map50"], "map75": m["map75"], "params": summary.params, "macs": summary.macs}
