"""Every run shows itself: the pictures a finished (or diverged) run draws into its folder, the same figures for a
notebook, and several runs' curves overlaid.

At the end of `cnnlab train` (both engines, every task) the run folder gains:
- `curves.png`: training and validation loss, the task's metric (accuracy; mAP for detection; the loss is the mean
  squared error for regression) and the learning rate per epoch; the best epoch marked; the title says whether the
  run finished, stopped early or diverged;
- classification: `confusion.png` (the test split's confusion matrix: counts, shaded by share of the true class)
  and `mistakes.png` (the most confidently wrong test images, predicted and true class);
- multi-label: `pr_curves.png` (each class's precision-recall curve on the test split, AP in the legend);
- detection: `pr_curves.png` (each class's COCO precision-recall curve at IoU 0.5 and 0.75, from cnnlab's COCO
  evaluation: the numbers of `cnnlab eval`) and `predictions.png` (test images with predicted boxes, class and score,
  the ground truth dashed).

The numbers come from the run itself (its history, its model on its test split); a picture is never read back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import _figures as figures
from .._io import atomic_path, refuse_existing
from .._painter import Painter
from ..data import DetectionDataset, TensorDataset, make_loader, render_grid
from ..errors import CnnlabError, ConfigError
from .config import TrainConfig
from .evaluate import class_probabilities, main_logits
from .result import RunResult
from .run import read_json

GRID = 16  # images in a mistakes or predictions grid
SHOW_SCORE = 0.25  # predicted boxes drawn from this score up (Ultralytics' prediction plots use 0.25 too)
FILES = ("curves.png", "confusion.png", "mistakes.png", "pr_curves.png", "predictions.png")


@dataclass(frozen=True)
class RunView:
    """What a run's pictures are drawn from."""

    config: TrainConfig
    task: str  # 'classification', 'multilabel', 'regression' or 'detection' (see task_of)
    history: Sequence[Mapping[str, Any]]  # the per-epoch rows
    best_epoch: int | None
    ending: str  # how the run ended, for the curves' title
    model: nn.Module | None = None  # the trained model, for the test-split pictures (None: curves only)
    test: TensorDataset | DetectionDataset | None = None  # the test split, normalized like the training data
    # the run's own evaluation of `test`, when known: a detector's (per-image detections, CocoResult), a classifier's
    # (scores, targets) as `class_scores` returns them; else the pictures predict the test split themselves
    evaluated: tuple[Any, Any] | None = None


def task_of(data: TensorDataset | DetectionDataset) -> str:
    """'detection', 'multilabel', 'regression' or 'classification'."""
    if isinstance(data, DetectionDataset):
        return "detection"
    if getattr(data, "multilabel", False):
        return "multilabel"
    return "regression" if getattr(data, "regression", False) else "classification"


def ending_of(config: TrainConfig, epochs: int, *, diverged: str | None = None) -> str:
    """How a run that completed `epochs` ended: finished, stopped early or diverged."""
    if diverged:
        return f"diverged in epoch {epochs + 1} of {config.epochs} ({diverged})"
    if epochs < config.epochs:
        why = f", {config.early_stopping} epochs without a better validation number" if config.early_stopping else ""
        return f"stopped early after epoch {epochs} of {config.epochs}{why}"
    return f"{epochs} epochs"


# A picture to draw: ("figure", name in _figures.FIGURES, its keyword arguments: JSON numbers, strings and lists),
# or ("image", a function returning a PIL image, e.g. a grid of test images with their captions and a title, None):
# drawn when it is written, after the figures have gone to a painter.
Spec = tuple[str, Any, Any]


def curves_spec(view: RunView) -> Spec:
    """curves.png: the history, titled with what ran and how it ended."""
    best = f", best epoch {view.best_epoch}" if view.best_epoch else ""
    title = f"{view.config.model} on {view.config.data}: {view.ending}{best}"
    task = "classification" if view.task == "multilabel" else view.task
    args = {"history": [dict(row) for row in view.history], "task": task, "title": title,
            "best_epoch": view.best_epoch}  # fmt: skip
    return ("figure", "curves", args)


def rehearsal_specs(view: RunView) -> list[Spec]:
    """The figures a painter draws early in a run and keeps, not written (see `Painter.draw`): the curves so far,
    their last row repeated up to the run's last epoch (so that the epoch axis has its final ticks), then the same
    with a loss falling over decades (the log axis the final curves may need) and, for a classifier, a confusion
    matrix of its classes. The run's final figures are drawn into them."""
    kind, name, args = curves_spec(view)
    rows = args["history"]
    if rows:
        last = rows[-1]
        rows = [*rows, *({**last, "epoch": e} for e in range(last["epoch"] + 1, view.config.epochs + 1))]
    specs = [(kind, name, {**args, "history": rows})]
    if rows and _finite_positive(loss := rows[-1].get("train_loss")):
        specs.append((kind, name, {**args, "history": [*rows[:-1], {**rows[-1], "train_loss": loss / 1000}]}))
    if view.task == "classification" and view.test is not None:
        classes = [str(c) for c in view.test.classes]
        counts = np.eye(len(classes), dtype=np.int64).tolist()
        specs.append(("figure", "confusion", {"counts": counts, "classes": classes, "title": "rehearsal"}))
    return specs


def model_specs(view: RunView) -> dict[str, Spec]:
    """The pictures of the final model on the test split, by file name (none without a model and a test split)."""
    if view.model is None or view.test is None or len(view.test) == 0:
        return {}
    model, was_training = view.model, view.model.training
    model.eval()
    try:
        if view.task == "detection":
            return _detection_specs(model, view.test, view.config, view.evaluated)
        if view.task in ("classification", "multilabel"):
            multilabel = view.task == "multilabel"
            return _classification_specs(model, view.test, view.config, multilabel=multilabel, known=view.evaluated)
        return {}
    finally:
        model.train(was_training)


def as_figure(spec: Spec):
    """The matplotlib Figure of a spec."""
    kind, what, args = spec
    return figures.FIGURES[what](**args) if kind == "figure" else figures.picture_figure(what())


def run_figures(view: RunView) -> dict[str, Any]:
    """The run's figures by file name (see the module's docstring); matplotlib Figures, drawn on the Agg canvas."""
    return {name: as_figure(spec) for name, spec in {"curves.png": curves_spec(view), **model_specs(view)}.items()}


def draw(specs: Mapping[str, Spec], run_dir: str | Path, painter: Painter | None = None) -> None:
    """Write each spec into `run_dir` atomically: images here, figures here or, given a painter, in its process."""
    figures_first = sorted(specs.items(), key=lambda item: item[1][0] != "figure")  # a painter starts on them
    for name, (kind, what, args) in figures_first:
        path = Path(run_dir) / name
        if kind == "image":
            with atomic_path(path) as tmp:
                what().save(tmp, format="PNG", compress_level=1)  # as save_figure: zlib's fastest level
        elif painter is not None:
            painter.draw(path, what, args)
        else:
            figures.save_figure(figures.FIGURES[what](**args), path)


def draw_run(view: RunView, run_dir: str | Path) -> None:
    """Draw the run's pictures into `run_dir`, in this process (see `Painter` for drawing beside a training)."""
    draw({"curves.png": curves_spec(view), **model_specs(view)}, run_dir)


def _finite_positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and 0 < value < float("inf")


# ----- classification


@torch.no_grad()
def class_scores(model: nn.Module, data: TensorDataset, *, multilabel: bool) -> tuple[np.ndarray, np.ndarray]:
    """(scores, targets) of `model` (in eval mode) on every sample of `data`: softmax probabilities (N, K) and class
    ids (N,), or per-class sigmoid probabilities (N, K) and 0/1 targets (N, K) for multi-label data."""
    device = next(model.parameters()).device
    loader = make_loader(data, 256, shuffle=False, seed=0, augment=None, device=device)
    scores, targets = [], []
    for batch in loader:
        logits = main_logits(model(batch.inputs)).float()
        scores.append(class_probabilities(logits, multilabel=multilabel).cpu())
        targets.append(batch.targets.cpu())
    return torch.cat(scores).double().numpy(), torch.cat(targets).numpy()


def _classification_specs(model: nn.Module, data: TensorDataset, config: TrainConfig, *, multilabel: bool,
                          known: tuple | None = None):  # fmt: skip
    from ..metrics import average_precision, confusion_matrix, pr_curve

    scores, targets = known if known is not None else class_scores(model, data, multilabel=multilabel)
    where = f"{config.model} on {data.name or config.data}, {len(targets)} test images"
    if multilabel:
        curves = []
        for k, name in enumerate(data.classes):
            if targets[:, k].any():  # a class without positives has no recall to draw
                curve = pr_curve(targets[:, k], scores[:, k])
                ap = average_precision(targets[:, k], scores[:, k])
                curves.append((name, curve.recall.tolist(), curve.precision.tolist(), ap))
        panels = [("per class, sigmoid scores", curves)]
        return {"pr_curves.png": ("figure", "pr", {"panels": panels, "title": f"Precision-recall per class: {where}"})}
    predicted = scores.argmax(axis=1)
    counts = confusion_matrix(targets, predicted, num_classes=len(data.classes))
    title = f"Confusion matrix: {where}, {np.trace(counts) / len(targets):.2%} right"
    out = {"confusion.png": ("figure", "confusion", {"counts": counts.tolist(), "classes": list(data.classes),
                                                     "title": title})}  # fmt: skip
    if isinstance(data, TensorDataset) and data.images.shape[1] not in (1, 3):
        return out  # sequences or points, not pictures
    wrong = np.flatnonzero(predicted != targets)
    chosen = wrong[np.argsort(-scores[wrong, predicted[wrong]], kind="stable")][:GRID]  # the most confident first
    names = data.classes
    images = [_image(data, i) for i in chosen.tolist()]
    captions = [f"{names[predicted[i]]} ({scores[i, predicted[i]]:.0%}), true {names[targets[i]]}" for i in chosen]
    if len(chosen):
        title = f"The {len(chosen)} most confidently wrong of {len(wrong)} mistakes: predicted (confidence), true class"
    else:
        title = f"All {len(targets)} test images are classified right"
    grid = partial(render_grid, images, captions, columns=max(1, min(8, len(images))), cell=128, title=title)
    out["mistakes.png"] = ("image", grid, None)
    return out


def _image(data, i: int) -> torch.Tensor:
    """Image `i` of `data` as (C, H, W) floats in [0, 1] (a lazy folder data set yields uint8)."""
    if isinstance(data, (TensorDataset, DetectionDataset)):
        return data.images[i]
    image, _ = data[i]
    return image.float() / 255 if image.dtype == torch.uint8 else image


# ----- detection


def _detection_specs(model: nn.Module, data: DetectionDataset, config: TrainConfig, known: tuple | None):
    from ..metrics import coco_evaluate
    from ..metrics.plot import mean_pr_curve
    from .detection_inference import coco_results, detect

    if known is None:  # as `cnnlab eval` scores a run
        found = detect(model, data)
        result = coco_evaluate(data.to_coco(), coco_results(data, found))
    else:  # the run's own test evaluation: the numbers of metrics.json
        found, result = known
    recall = list(result.recall_thresholds)
    panels = []
    for threshold, ap in ((0.5, result.AP50), (0.75, result.AP75)):
        t = int(np.flatnonzero(np.isclose(result.iou_thresholds, threshold))[0])
        curves = []
        for k, name in enumerate(data.classes):
            precision = result.precision[t, :, k, 0, -1]  # (R,) at the 101 recall points, all areas, 100 detections
            if (precision > -1).all():  # −1: the class has no ground truth in the split
                curves.append((name, recall, precision.tolist(), float(precision.mean())))
        if curves:
            curves.append(("all classes", recall, mean_pr_curve(result, threshold).tolist(), float(ap)))
        panels.append((f"IoU {threshold}", curves))
    where = f"{config.model} on {data.name or config.data}, {len(data)} test images"
    title = f"COCO precision-recall per class: {where}"
    out = {"pr_curves.png": ("figure", "pr", {"panels": panels, "title": title})}
    n = min(GRID, len(data))
    boxes = [
        [(b, int(k), f"{data.classes[k]} {s:.2f}")
         for b, k, s in zip(f["boxes"].tolist(), f["labels"].tolist(), f["scores"].tolist(), strict=True)
         if s >= SHOW_SCORE]
        for f in found[:n]
    ]  # fmt: skip
    truths = [list(zip(data.boxes[i].tolist(), data.labels[i].tolist(), strict=True)) for i in range(n)]
    captions = [f"{len(b)} shown, {len(t)} true" for b, t in zip(boxes, truths, strict=True)]
    title = f"Boxes scoring at least {SHOW_SCORE}, with class and score (ground truth dashed): first {n} test images"
    grid = partial(render_grid, [_image(data, i) for i in range(n)], captions, boxes, columns=min(8, n), cell=192,
                   dashed=truths, title=title)  # fmt: skip
    out["predictions.png"] = ("image", grid, None)
    return out


# ----- from a run folder


def run_pictures(run: RunResult | str | Path) -> dict[str, Any]:
    """The figures a run draws at its end, for a notebook: {file name: matplotlib Figure}.

    Args:
        run: a run folder, or the RunResult of `train` (its folder; an in-memory run has none, so only its curves
            are drawn, from `result.history`).
    """
    if isinstance(run, RunResult) and run.run_dir is None:
        metrics = run.test_metrics
        task = "detection" if "map" in metrics else "classification" if "accuracy" in metrics else "regression"
        title = f"in-memory run: {run.epochs} epochs" + (f", best epoch {run.best_epoch}" if run.best_epoch else "")
        return {"curves.png": figures.curves_figure(run.history, task=task, title=title, best_epoch=run.best_epoch)}
    return run_figures(view_run(run.run_dir if isinstance(run, RunResult) else run))


def view_run(run_dir: str | Path) -> RunView:
    """What a run folder's pictures are drawn from: its config, history, metrics, model and test split."""
    from .finished import load_run, target_split

    run_dir = Path(run_dir)
    config, model, train = load_run(run_dir)
    history = read_history(run_dir)
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file():
        metrics = read_json(metrics_path)
        ending = ending_of(config, int(metrics.get("epochs") or len(history)))
        best = metrics.get("best_epoch")
    else:
        ending, best = f"unfinished: {len(history)} of {config.epochs} epochs recorded", None
    test = target_split(config, train)
    return RunView(config, task_of(test), history, best, ending, model=model, test=test)


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """RUN_DIR/history.jsonl as rows; a missing or unreadable file is one clear error."""
    import json

    path = Path(run_dir) / "history.jsonl"
    if not path.is_file():
        raise CnnlabError(f"{run_dir} holds no history.jsonl: not a cnnlab run folder (pass the --out of a train)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise CnnlabError(f"{path}, line {number}: not a JSON row; the file was edited or cut short") from None
        if not isinstance(row, dict) or not isinstance(row.get("epoch"), int):
            raise CnnlabError(f"{path}, line {number}: a row needs an integer 'epoch'")
        rows.append(row)
    return rows


# ----- several runs


IGNORED = ("out", "progress", "tensorboard", "diagnose_every", "checkpoint_interval", "checkpoint_every")


def differing_options(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The config keys whose values differ between runs (where they were saved), in config order."""
    keys = [k for k in configs[0] if k not in IGNORED]
    keys += [k for c in configs[1:] for k in c if k not in keys and k not in IGNORED]
    return [k for k in keys if len({_text(c.get(k)) for c in configs}) > 1]


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={_text(v)}" for k, v in sorted(value.items()))
    return str(value)


def compare_runs(runs: Sequence[str | Path], metric: str | None = None):
    """One figure overlaying the curves of `runs` (run folders), each labelled by the options that differ between
    their configs (e.g. 'act=relu'); `metric` picks one history column (default: validation loss and, where the runs
    record it, validation accuracy or mAP)."""
    if len(runs) < 1:
        raise ConfigError("give at least one run folder to plot")
    histories = [read_history(Path(r)) for r in runs]
    configs = []
    for r in runs:
        values = read_json(Path(r) / "config.json") if (Path(r) / "config.json").is_file() else {}
        configs.append(values if isinstance(values, dict) else {})
    options = differing_options(configs) if len(runs) > 1 else []
    labels = [
        ", ".join(f"{k}={_text(c.get(k))}" for k in options) or Path(r).name for c, r in zip(configs, runs, strict=True)
    ]
    if len(set(labels)) < len(labels):  # same options: tell the runs apart by folder
        labels = [f"{label} ({Path(r).name})" for label, r in zip(labels, runs, strict=True)]
    columns = {k for h in histories for row in h for k in row}
    if metric is not None:
        if metric not in columns:
            raise ConfigError(f"--metric {metric}: the runs record {', '.join(sorted(columns - {'epoch'}))}")
        keys = [metric]
    else:
        keys = [k for k in ("val_loss", "val_accuracy", "val_map") if k in columns] or ["train_loss"]
    models = sorted({str(c.get("model", "?")) for c in configs})
    title = f"{' / '.join(models)}: {len(runs)} runs" + (f", differing in {', '.join(options)}" if options else "")
    return figures.compare_figure(list(zip(labels, histories, strict=True)), keys, title=title)


def plot_runs(runs: Sequence[str | Path], out: str | Path, metric: str | None = None) -> Path:
    """`cnnlab plot`: write `compare_runs` to `out` (refused if it exists; format from its suffix)."""
    out = Path(out)
    refuse_existing([out], error=ConfigError, flag="--out")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    suffix = out.suffix.lstrip(".").lower()
    if suffix not in FigureCanvasAgg(Figure()).get_supported_filetypes():
        raise ConfigError(f"--out {out}: choose a picture suffix such as .png, .pdf or .svg")
    figure = compare_runs(runs, metric)
    return figures.save_figure(figure, out)


__all__ = ["FILES", "Painter", "RunView", "compare_runs", "draw_run", "plot_runs", "run_figures", "run_pictures",
           "view_run"]  # fmt: skip
