"""Streaming through a torch DataLoader, for data sets too large to hold as tensors on the training device.

`StreamLoader` has `TensorLoader`'s interface and semantics: the same order per (seed, epoch), the same shares
under data parallelism, the same augmentation seeded per (seed, epoch, batch) and applied to the whole batch on the
device, and the same (epoch, position) state for exact resume. Workers only read and decode samples; all randomness
lives in the main process, so the number of workers never changes a batch. Workers are still seeded (torch,
NumPy, random) from a base seed drawn from (seed, epoch), following PyTorch's note on randomness in multi-process
data loading, for data sets that draw numbers in __getitem__.

`make_loader` picks one: a `TensorDataset` of at most TENSOR_LIMIT_BYTES is moved to the device and batched by
index (`TensorLoader`); anything larger, and any lazy data set (`ImageFolder`), streams; a `DetectionDataset` is
moved to the device and batched with padded boxes (`DetectionLoader`).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import numpy as np
import torch

from ..errors import ConfigError
from .dataset import TensorDataset
from .detection import DetectionDataset
from .detection_loader import DetectionLoader
from .folder import TENSOR_LIMIT_BYTES
from .loader import Augment, Batch, TensorLoader, _Schedule, generator


class _Items(torch.utils.data.Dataset):
    """A `TensorDataset` seen as (image, target) items."""

    def __init__(self, dataset: TensorDataset):
        self.images, self.targets = dataset.images, dataset.targets

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], self.targets[i]


class _Collate:
    """Stacks (image, target) items; an empty share (more processes than samples left) gives empty tensors."""

    def __init__(self, input_size: tuple[int, int, int], multilabel: bool, num_classes: int):
        self.input_size, self.multilabel, self.num_classes = input_size, multilabel, num_classes

    def __call__(self, items: list) -> tuple[torch.Tensor, torch.Tensor]:
        if not items:
            targets = torch.empty(0, self.num_classes) if self.multilabel else torch.empty(0, dtype=torch.int64)
            return torch.empty(0, *self.input_size), targets
        images = torch.stack([x for x, _ in items])
        first = items[0][1]
        targets = torch.stack([y for _, y in items]) if torch.is_tensor(first) else torch.tensor([y for _, y in items])
        return images, targets


def _seed_worker(worker_id: int) -> None:
    """Seed NumPy and random in a worker from the seed torch gave it (base seed + worker id)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


class StreamLoader(_Schedule):
    """Batches read through a torch DataLoader, with `TensorLoader`'s order, shares, augmentation and resume.

    Args:
        dataset: a map-style data set whose item i is (image (C, H, W) uint8 or float in [0, 1], target), with
            `mean`, `std`, `input_size`, `num_classes` and `multilabel` attributes (`ImageFolder`), or a
            `TensorDataset`.
        batch_size: global batch size (summed over processes).
        device: where batches are delivered; uint8 images are converted to float there (4× less to copy).
        num_workers: reading processes (0 reads in the main process).
        pin_memory: page-locked host buffers for faster copies to a GPU (default: when `device` is CUDA).
        (the rest as TensorLoader)
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        *,
        device: torch.device | str = "cpu",
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        augment: Augment | None = None,
        normalize: bool = True,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool | None = None,
    ):
        self.device = torch.device(device)
        super().__init__(
            len(dataset),
            batch_size,
            device=self.device,
            name=getattr(dataset, "name", ""),
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
        if num_workers < 0:
            raise ConfigError(f"num_workers must be ≥ 0, got {num_workers}")
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = self.device.type == "cuda" if pin_memory is None else pin_memory
        self._items = _Items(dataset) if isinstance(dataset, TensorDataset) else dataset
        self._collate = _Collate(dataset.input_size, dataset.multilabel, dataset.num_classes)

    def __iter__(self) -> Iterator[Batch]:
        """The remaining batches of the current epoch; afterwards the loader stands at the next epoch's start."""
        order = self._order(self.epoch)
        spans = self._spans()
        reader = torch.utils.data.DataLoader(
            self._items,
            batch_sampler=[order[a:b].tolist() for _, _, a, b in spans],
            num_workers=self.num_workers,
            collate_fn=self._collate,
            pin_memory=self.pin_memory,
            worker_init_fn=_seed_worker if self.num_workers else None,
            generator=generator(self.seed, self.epoch, 2),  # the workers' base seed
        )
        for (start, stop, _, _), (images, targets) in zip(spans, reader, strict=True):
            x = images.to(self.device, non_blocking=self.pin_memory)
            x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
            batch = Batch(self._finish(x), targets.to(self.device, non_blocking=self.pin_memory), stop - start)
            self.position += 1
            yield batch
        self.epoch += 1
        self.position = 0


def _tensor_bytes(dataset: TensorDataset) -> int:
    return dataset.images.numel() * dataset.images.element_size()


def make_loader(
    dataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    augment: Augment | None,
    device: torch.device | str,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
    normalize: bool = True,
    num_workers: int | None = None,
) -> TensorLoader | StreamLoader | DetectionLoader:
    """The right loader for `dataset`: device-resident batching by index when it fits, streaming otherwise.

    A `TensorDataset` whose images take at most TENSOR_LIMIT_BYTES (2 GiB; CIFAR-10's training set is 0.6 GiB)
    is moved to `device` and served by `TensorLoader`. Larger tensors and lazy data sets (`ImageFolder`) stream
    through `StreamLoader`, with min(4, CPUs − 1) reading workers for files unless num_workers is given.
    A `DetectionDataset` (images of one size) is moved to `device` and served by `DetectionLoader`, whose batches
    carry padded boxes and labels (`DetectionBatch`); its `augment` must be box-aware (`build_box_augment`), and
    num_workers does not apply.
    """
    common = {"shuffle": shuffle, "seed": seed, "augment": augment, "rank": rank, "world_size": world_size,
              "drop_last": drop_last, "normalize": normalize}  # fmt: skip
    if isinstance(dataset, DetectionDataset):
        return DetectionLoader(dataset.to(device), batch_size, **common)
    if isinstance(dataset, TensorDataset):
        if _tensor_bytes(dataset) <= TENSOR_LIMIT_BYTES:
            return TensorLoader(dataset.to(device), batch_size, **common)
        return StreamLoader(dataset, batch_size, device=device, num_workers=num_workers or 0, **common)
    if num_workers is None:
        num_workers = max(0, min(4, (os.cpu_count() or 1) - 1))
    return StreamLoader(dataset, batch_size, device=device, num_workers=num_workers, **common)
