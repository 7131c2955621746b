"""Device-resident batching of detection data, with `TensorLoader`'s order, shares, augmentation seeding and resume.

A `DetectionDataset` holds a variable number of boxes per image. The loader pads them once, when it is built, to
M slots per image, M the largest object count in the whole data set, so every batch has the same shapes:
boxes (b, M, 4) float32 with zero rows after an image's objects, labels (b, M) int64 with −1 there. The slots of
an image hold its objects first, in the data set's order, then the padding (box-aware augmentation keeps it so).

Order, shares and state are `_Schedule`'s (see `loader.py`): epoch e's order is drawn from (seed, e), batch b's
augmentation from (seed, e, b), (epoch, position) is the whole state, and each of W processes takes its contiguous
share of every global batch. Box-aware augmentation (`box_augment.py`) runs on the raw [0, 1] images before
normalization by the training split's mean and std. Only images of one size are batched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch

from ..errors import ConfigError, shape_str
from .augment import Augmentation
from .box_augment import BoxAugment
from .detection import DetectionDataset
from .loader import _Schedule, generator


class DetectionBatch(NamedTuple):
    inputs: torch.Tensor  # (b, C, H, W) float32, augmented and normalized
    boxes: torch.Tensor  # (b, M, 4) float32 (x0, y0, x1, y1) in pixels of the augmented image; zeros pad
    labels: torch.Tensor  # (b, M) int64 class ids; −1 pads
    global_size: int  # images in this step's batch across all processes


def pad_targets(
    boxes: Sequence[torch.Tensor], labels: Sequence[torch.Tensor], slots: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image boxes (n_i, 4) and labels (n_i,) as (N, slots, 4) float32 padded with zeros and (N, slots) int64
    padded with −1, each image's objects first, on the device of the boxes."""
    n = len(boxes)
    device = boxes[0].device if n else torch.device("cpu")
    counts = torch.tensor([len(t) for t in labels], dtype=torch.int64)
    padded_boxes = torch.zeros(n, slots, 4, dtype=torch.float32, device=device)
    padded_labels = torch.full((n, slots), -1, dtype=torch.int64, device=device)
    total = int(counts.sum())
    if total:
        image = torch.repeat_interleave(torch.arange(n), counts)  # (total,): the image of each object
        first = torch.cumsum(counts, 0) - counts  # (N,): index of each image's first object in the concatenation
        slot = torch.arange(total) - first[image]  # (total,): the object's place within its image
        image, slot = image.to(device), slot.to(device)
        padded_boxes[image, slot] = torch.cat(list(boxes)).to(device, torch.float32)
        padded_labels[image, slot] = torch.cat(list(labels)).to(device, torch.int64)
    return padded_boxes, padded_labels


def _one_size(dataset: DetectionDataset) -> torch.Tensor:
    """The dataset's images as one (N, C, H, W) tensor, or a ConfigError naming the sizes found."""
    images = dataset.images
    if torch.is_tensor(images):
        return images
    sizes = sorted({tuple(x.shape) for x in images})
    if len(sizes) == 1:
        return torch.stack(list(images))
    listed = ", ".join(shape_str(s) for s in sizes[:4]) + (", ..." if len(sizes) > 4 else "")
    raise ConfigError(f"{dataset.name or 'detection dataset'}: the detection loader batches images of one size, "
                      f"but these come in {len(sizes)} sizes ({listed}); resize the images "
                      "and their boxes to one size first")  # fmt: skip


class DetectionLoader(_Schedule):
    """Batches a `DetectionDataset` already on its device, without per-image Python work.

    Args:
        dataset: images of one size (move it with `dataset.to(device)` first); its mean/std normalize.
        batch_size: global batch size in images (summed over processes).
        shuffle: draw a new order every epoch (training); False keeps file order (evaluation).
        drop_last: drop the last, smaller batch of an epoch.
        seed: seeds the order and the augmentation.
        augment: a box-aware augmentation (`build_box_augment`), applied to each batch before normalization.
        normalize: subtract the dataset's per-channel mean and divide by its std.
        rank, world_size: this process's share of each batch under data parallelism.
        max_objects: slots per image, M (default: the largest object count in the data set, at least 1); pass
            the same value to the training and evaluation loaders to give both one shape.
    """

    def __init__(
        self,
        dataset: DetectionDataset,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        augment: BoxAugment | None = None,
        normalize: bool = True,
        rank: int = 0,
        world_size: int = 1,
        max_objects: int | None = None,
    ):
        where = dataset.name or "detection dataset"
        if isinstance(augment, Augmentation):
            raise ConfigError(f"{where}: augmentation {augment!r} moves pixels but not boxes; build it with "
                              "build_box_augment (cnnlab.data) for detection data")  # fmt: skip
        images = _one_size(dataset)
        super().__init__(
            len(dataset),
            batch_size,
            device=images.device,
            name=dataset.name,
            mean=dataset.mean,
            std=dataset.std,
            shuffle=shuffle,
            drop_last=drop_last,
            seed=seed,
            augment=augment,
            normalize=normalize,
            rank=rank,
            world_size=world_size,
        )
        most = max(len(t) for t in dataset.labels)
        if max_objects is None:
            max_objects = max(most, 1)
        if max_objects < most:
            raise ConfigError(f"{where}: an image holds {most} objects, more than max_objects={max_objects}")
        self.dataset = dataset
        self.images = images
        self.max_objects = max_objects
        self.boxes, self.labels = pad_targets(dataset.boxes, dataset.labels, max_objects)  # (N, M, 4), (N, M)
        self.boxes, self.labels = self.boxes.to(images.device), self.labels.to(images.device)
        self._normalized: torch.Tensor | None = None  # filled on first use when nothing augments

    def order(self, epoch: int) -> torch.Tensor:
        """The image order of `epoch`, on the dataset's device."""
        return self._order(epoch).to(self.images.device)

    def __iter__(self) -> Iterator[DetectionBatch]:
        """The remaining batches of the current epoch; afterwards the loader stands at the next epoch's start."""
        order = self.order(self.epoch)
        if self.augment is None and self._mean is not None and self._normalized is None:
            self._normalized = (self.images - self._mean) / self._std  # once: the same arithmetic as per batch
        for start, stop, a, b in self._spans():
            index = order[a:b]
            boxes, labels = self.boxes[index], self.labels[index]
            if self._normalized is not None:
                x = self._normalized[index]
            else:
                x = self.images[index]
                if self.augment is not None:
                    g = generator(self.seed, self.epoch, self.position, 1)  # the stream TensorLoader's augment uses
                    x, boxes, labels = self.augment(x, boxes, labels, g)
                if self._mean is not None:
                    x = (x - self._mean) / self._std
            batch = DetectionBatch(x, boxes, labels, stop - start)
            self.position += 1
            yield batch
        self.epoch += 1
        self.position = 0
