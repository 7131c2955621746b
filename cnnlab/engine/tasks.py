"""What is learned: a task owns its loss, what it counts while training, and the metric that picks the best epoch.

The trainer is the same loop for every task; it asks the task for
- `data_loss(output, batch, reduction)`: the loss of one batch ('mean' over the batch, or 'sum' for the
  trainer to divide, which keeps data-parallel runs equal to one process where the task allows it);
- `observe(output, batch)`: keep what the running training metric needs (True when a count is due) and `count()`;
- `evaluate(model, loader, ...)`: the loss and metrics over a split, each sample counted once;
- `monitor` / `maximize`: the validation metric that picks the best epoch and drives early stopping.

Classification (single-label, multi-label, regression) counts correct predictions and picks the lowest validation
loss; detection picks the highest validation COCO mAP.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn

from ..data import DetectionDataset, TensorDataset
from ..errors import ConfigError, unknown_name
from .config import TrainConfig
from .distributed import World, all_reduce_sum, gather_objects
from .evaluate import class_probabilities, evaluate, main_logits
from .losses import CorrectCounter, loss_sum, resolve_loss

ONE_PROCESS = World()  # a run without torchrun
AUX_WEIGHT = 0.3  # GoogLeNet's auxiliary losses are added with weight 0.3 (Szegedy et al., 2015, §5)
BOX_LOSSES = ("l1", "iou", "giou", "diou", "ciou")
CLS_LOSSES = ("focal", "bce")


def make_task(
    config: TrainConfig, data: TensorDataset | DetectionDataset, model: nn.Module, world: World = ONE_PROCESS
):
    """The task of `data`: detection for a DetectionDataset, classification (or regression) otherwise; `world` is
    the run's processes (a detector's loss counts the objects of all of them)."""
    if isinstance(data, DetectionDataset):
        return DetectionTask(model, box_loss=config.box_loss, cls_loss=config.cls_loss, world=world)
    return ClassificationTask(config.loss, multilabel=data.multilabel, regression=getattr(data, "regression", False),
                              label_smoothing=config.label_smoothing, threshold=config.threshold)  # fmt: skip


class ClassificationTask:
    """Class ids (softmax), 0/1 per class (per-class sigmoid) or real values (squared error)."""

    name = "classification"
    monitor, maximize = "loss", False

    def __init__(self, loss: str, *, multilabel: bool, regression: bool, label_smoothing: float, threshold: float):
        self.loss_name = resolve_loss(loss, multilabel, regression)
        self.regression = regression
        self.label_smoothing, self.threshold = label_smoothing, threshold
        self.counter = CorrectCounter(threshold=threshold)  # batches not yet counted
        self.evaluated: tuple[Any, Any] | None = None  # see evaluate(keep=True)
        self.running = None if regression else "accuracy"  # the training metric shown and logged

    def data_loss(self, output: Any, batch: Any, reduction: str) -> torch.Tensor:
        logits, targets = main_logits(output), batch.targets
        loss = loss_sum(self.loss_name, logits, targets, label_smoothing=self.label_smoothing, reduction=reduction)
        if isinstance(output, tuple):  # GoogLeNet's auxiliary heads during training
            aux = sum(loss_sum(self.loss_name, a, targets, reduction=reduction) for a in output[1:])
            loss = loss + AUX_WEIGHT * aux
        return loss

    def observe(self, output: Any, batch: Any) -> bool:
        return self.counter.add(main_logits(output), batch.targets)

    def count(self) -> int:
        """Correct predictions of the batches observed since the last count."""
        return self.counter.count()

    @property
    def waiting(self) -> int:
        """Samples observed but not yet counted."""
        return self.counter.samples

    def evaluate(self, model: nn.Module, loader, *, world: World, autocast: AbstractContextManager,
                 memory_format: torch.memory_format, keep: bool = False) -> dict[str, float]:  # fmt: skip
        """The split's loss and accuracy; with `keep`, also `self.evaluated`: (scores, targets) as NumPy arrays, the
        softmax (or per-class sigmoid) probabilities of this process's samples in order, for the run's pictures."""
        outputs: list | None = [] if keep else None
        metrics = evaluate(model, loader, loss=self.loss_name, world=world, autocast=autocast,
                           memory_format=memory_format, threshold=self.threshold, keep=outputs)  # fmt: skip
        if outputs and not self.regression:
            logits, targets = torch.cat([o for o, _ in outputs]), torch.cat([t for _, t in outputs])
            scores = class_probabilities(logits, multilabel=targets.dim() == 2)  # multi-label targets are (N, K)
            self.evaluated = (scores.double().numpy(), targets.numpy())
        if self.regression:
            del metrics["accuracy"]
        return metrics


class DetectionTask:
    """Boxes and classes per image: the model's own `detection_loss` and `decode`, scored by COCO mAP.

    The model must provide `detection_loss(outputs, boxes, labels, box_loss=..., cls_loss=...) -> dict` with the
    total under 'loss' divided by the batch's objects (at least 1), and `decode(outputs) -> [{'boxes', 'scores',
    'labels'}]` per image (cnnlab's `tinydet`).

    Under data parallelism the training loss is divided by the objects of the whole global batch, summed over the
    processes (as DETR does), so that N processes take the step one process takes on the same global batch; and
    evaluation gathers every process's detections, so that each process scores all the images alike (the best epoch
    and early stopping then agree everywhere).
    """

    name = "detection"
    monitor, maximize = "map", True
    running = None

    def __init__(self, model: nn.Module, *, box_loss: str, cls_loss: str, world: World = ONE_PROCESS):
        if box_loss not in BOX_LOSSES:
            raise unknown_name("box loss", box_loss, BOX_LOSSES)
        if cls_loss not in CLS_LOSSES:
            raise unknown_name("class loss", cls_loss, CLS_LOSSES)
        for method in ("detection_loss", "decode"):
            if not callable(getattr(model, method, None)):
                raise ConfigError(
                    f"{type(model).__name__} is not a detector (it has no {method}); detection data needs a "
                    "detection model such as tinydet"
                )
        self.model, self.box_loss, self.cls_loss, self.world = model, box_loss, cls_loss, world
        self.evaluated: tuple[list, Any] | None = None

    def _loss(self, output: Any, batch: Any) -> torch.Tensor:
        """The batch's loss per object (at least 1)."""
        terms = self.model.detection_loss(output, batch.boxes, batch.labels, box_loss=self.box_loss,
                                          cls_loss=self.cls_loss)  # fmt: skip
        return terms["loss"]

    def _loss_sum(self, output: Any, batch: Any) -> tuple[torch.Tensor, int]:
        """The batch's loss summed over its objects, and its number of objects."""
        objects = int((batch.labels >= 0).sum())
        return self._loss(output, batch) * max(objects, 1), objects

    def data_loss(self, output: Any, batch: Any, reduction: str) -> torch.Tensor:
        """The loss per object of the global batch ('mean'), or that times this process's images ('sum', which the
        trainer divides by the global batch's images per process)."""
        world = self.world.size
        if world == 1:
            loss = self._loss(output, batch)
            return loss if reduction == "mean" else loss * batch.boxes.shape[0]
        loss_sum, objects = self._loss_sum(output, batch)
        # DDP averages the processes' gradients, so each process contributes world × its sum / all objects.
        counts = torch.tensor([objects, batch.boxes.shape[0]], dtype=torch.float64, device=loss_sum.device)
        all_reduce_sum(counts, self.world)
        all_objects, all_images = counts.tolist()
        loss = loss_sum * world / max(all_objects, 1)
        return loss if reduction == "mean" else loss * all_images / world

    def observe(self, output: Any, batch: Any) -> bool:
        return False

    def count(self) -> int:
        return 0

    waiting = 0

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader, *, world: World, autocast: AbstractContextManager,
                 memory_format: torch.memory_format, keep: bool = False) -> dict[str, float]:  # fmt: skip
        """Mean loss, then COCO evaluation of the decoded detections (on the main process, which sees every
        image of a single-process run; under DDP each process scores its own share). `self.evaluated` always keeps
        the split's (detections, CocoResult), which the evaluation computes anyway, so `keep` changes nothing."""
        from ..metrics import coco_evaluate  # the metrics package is imported only when a detector evaluates

        was_training = model.training
        model.eval()
        loader.epoch, loader.position = 0, 0
        totals = torch.zeros(2, dtype=torch.float64)  # loss summed over objects, objects
        truths, found = [], []
        for batch in loader:
            if batch.inputs.shape[0] == 0:  # a rank's share of the last batch can be empty
                continue
            with autocast:
                output = model(batch.inputs.contiguous(memory_format=memory_format))
            loss_sum, objects = self._loss_sum(output, batch)
            totals += torch.tensor([float(loss_sum), objects], dtype=torch.float64)
            for i, dets in enumerate(model.decode(output)):
                real = batch.labels[i] >= 0  # not padding
                truths.append({"boxes": batch.boxes[i][real].cpu(), "labels": batch.labels[i][real].cpu()})
                found.append({k: v.detach().float().cpu() if k != "labels" else v.cpu() for k, v in dets.items()})
        model.train(was_training)
        loss_value, objects = all_reduce_sum(totals.to(_device(model)), world).tolist()
        if world.size > 1:  # every process scores all images, in rank order
            shares = gather_objects((truths, found), world)
            truths = [t for share_truths, _ in shares for t in share_truths]
            found = [f for _, share_found in shares for f in share_found]
        result = coco_evaluate(truths, found, per_class=False)
        self.evaluated = (found, result)  # the last split's detections and evaluation, for the run's pictures
        return {"loss": loss_value / objects if objects else math.nan, "map": result.AP, "map50": result.AP50,
                "map75": result.AP75}  # fmt: skip


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
