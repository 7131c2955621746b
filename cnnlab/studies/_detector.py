"""What the detector studies share: the shapes detection data, one recipe-like training run of `tinydet`, its
numbers, the per-arm learning-rate tuning, and the competence requirement their trained parts must meet.

The training follows cnnlab's default recipe for tinydet on shapes (`cnnlab.engine.recipes`: AdamW, weight decay
0.05, warmup then cosine decay, batch 32, flips and ±2-px shifts that move the boxes), with a shorter schedule:

- quick: 448 easy scenes (difficulty 0.1, data seed 11; 200 test scenes), 4 epochs, a narrow model (widths
  8/16/32, neck 16), peak rate 0.02 (the short run needs a higher rate than the recipe's 3e-3 to leave the start);
- full: the recipe's own data (10,000 / 2,000 scenes, difficulty 0.5, data seed 0) and model (widths 16/32/64,
  neck 32, stride-2 head), its peak rate 3e-3, 7 of its 30 epochs, the cosine decay fitted to the 7 (about 5
  core-minutes a run on one thread).

Every arm of every study trains for the same number of optimizer steps on the same scenes (equal steps and
samples): the claims compare losses and structures per unit of training, and their costs differ only by the few
MACs a structure adds. Each training is a shared one (`_common.shared`), keyed by its configuration and seed: a
configuration that several studies share (GIoU, concat, nearest: the default arm of box-loss, neck-merge and
upsample) trains once per seed and study cache, whichever worker asks first, and so does each tuning run.
"""

from __future__ import annotations

from typing import Any

from ..models import summarize
from ._base import Context, Requirement
from ._common import fit, shapes_data, shared
from .evidence import reaches

VERSION = 1  # of this training code: part of every shared training's key
TUNE_SEED = 999  # the seed of the runs that pick a per-arm rate; never one of the measured seeds
LR_FACTORS = (0.5, 1.0, 2.0)  # the full profile's tuning grid: these multiples of its peak rate
DEFAULT_ARM = {"merge": "concat", "upsample": "nearest"}  # tinydet's neck (with the GIoU loss: the recipe's)

# Budgets of the detector studies: scenes, epochs, model, optimizer. `n_val` scenes of the test stream after the
# `n_test` measured ones score the tuning runs, so no rate is picked on the measured test scenes.
PROFILES = {
    "quick": {"n_train": 448, "n_test": 200, "n_val": 128, "difficulty": 0.1, "data_seed": 11, "epochs": 4,
              "lr": 0.02, "weight_decay": 0.05, "warmup": 0.5, "augment": "flip,translate:2",
              "widths": (8, 16, 32), "neck_width": 16, "head_stride": 2, "lr_factors": (1.0,)},
    "full": {"n_train": 10_000, "n_test": 2_000, "n_val": 1_000, "difficulty": 0.5, "data_seed": 0, "epochs": 7,
             "lr": 0.003, "weight_decay": 0.05, "warmup": 1.0, "augment": "flip,translate:2",
             "widths": (16, 32, 64), "neck_width": 32, "head_stride": 2, "lr_factors": LR_FACTORS},
}  # fmt: skip

RECIPE_MAP, RECIPE_MAP50 = 0.743, 0.984  # the default recipe's test mAP and AP50 (benchmarks/README.md)
MIN_MAP = 0.5  # what 'a trained detector' means here, in mAP@[.5:.95]
COMPETENCE_BASIS = (
    f"cnnlab's default recipe (tinydet on 10,000 shapes scenes, 30 epochs, about 10 minutes on 2 cores) reaches "
    f"mAP {RECIPE_MAP:.2f} / AP50 {RECIPE_MAP50:.2f} on the 2,000 test scenes, and 0.54 after 5 of its epochs; "
    f"{MIN_MAP:.1f} leaves a quarter of its mAP for a shorter schedule and stays far above a detector that has not "
    "learned to localize. The quick profile's seconds of training cannot reach it: its verdict is undertrained "
    "by design and says so"
)


def competence(arms: dict[str, str]) -> Requirement:
    """`arms` (arm -> name) reach mAP ≥ MIN_MAP in every profile (the quick profile is undertrained by design)."""
    return reaches("competence", arms, "map", basis=COMPETENCE_BASIS, at_least=MIN_MAP,
                   what="test mAP@[.5:.95]", scale=1.0, unit="", digits=2)  # fmt: skip


def detection_data(ctx: Context):
    """(train, test, validation) scenes: the measured test scenes and, after them in the same stream, the
    validation scenes that score the tuning runs."""
    train, test = shapes_data(ctx["n_train"], ctx["n_test"] + ctx["n_val"], task="detection",
                              seed=ctx["data_seed"], difficulty=ctx["difficulty"])  # fmt: skip
    n = ctx["n_test"]
    return train, test.subset(slice(None, n)), test.subset(slice(n, None), f"{test.name}[val]")


def train_detector(ctx: Context, seed: int, *, box_loss: str = "giou", lr: float | None = None,
                   **model: Any) -> dict[str, Any]:  # fmt: skip
    """Train `tinydet` with the profile's recipe (peak rate `lr`, default the profile's) on the study's scenes;
    its test COCO numbers, parameters, MACs and the rate used. A shared training: once per configuration, seed and
    study cache."""
    model = {**DEFAULT_ARM, **model}  # the same configuration has one key, however a study names it
    lr = float(ctx["lr"] if lr is None else lr)
    config = {"version": VERSION, "params": dict(ctx.params), "model": model, "box_loss": box_loss, "lr": lr}

    def compute() -> dict[str, Any]:
        train, test, _ = detection_data(ctx)
        result = _fit(ctx, seed, (train, test), box_loss, lr, model)
        summary = summarize(result.model)
        m = result.test_metrics
        return {"map": m["map"], "map50": m["map50"], "map75": m["map75"], "params": summary.params,
                "macs": summary.macs, "lr": lr}  # fmt: skip

    return shared(ctx, "detector", config, seed, compute)


def _fit(ctx: Context, seed: int, data, box_loss: str, lr: float, model: dict[str, Any]):
    kwargs = {"widths": tuple(ctx["widths"]), "neck_width": ctx["neck_width"], "head_stride": ctx["head_stride"],
              **model}  # fmt: skip
    return fit(ctx, seed, data, model="tinydet", box_loss=box_loss, epochs=ctx["epochs"], batch_size=32, lr=lr,
               optimizer="adamw", weight_decay=ctx["weight_decay"], schedule="warmup_cos", warmup=ctx["warmup"],
               augment=ctx["augment"], model_kwargs=kwargs)  # fmt: skip


def tuned_lr(ctx: Context, box_loss: str) -> tuple[float, dict[float, float]]:
    """(the peak rate of the profile's `lr_factors` × its rate with the highest validation mAP for `box_loss` on
    TUNE_SEED, every grid rate -> its validation mAP). Same steps and scenes as the measured runs; each tuning run is
    a shared training (once per study cache). A grid of one factor tunes nothing: ({that rate}, {})."""
    factors = tuple(ctx["lr_factors"])
    if len(factors) == 1:
        return float(ctx["lr"] * factors[0]), {}
    scores = {}
    for factor in factors:
        lr = float(ctx["lr"] * factor)
        config = {"version": VERSION, "params": dict(ctx.params), "box_loss": box_loss, "lr": lr, "scored_on": "val"}

        def compute(lr: float = lr) -> dict[str, float]:
            train, _, val = detection_data(ctx)
            return {"map": _fit(ctx, TUNE_SEED, (train, val), box_loss, lr, {}).test_metrics["map"]}

        scores[lr] = shared(ctx, "detector-tuning", config, TUNE_SEED, compute)["map"]
    best = max(scores, key=lambda lr: (scores[lr], -abs(lr - ctx["lr"])))  # a tie keeps the rate nearer the base
    return best, scores
