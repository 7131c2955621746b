"""Device-resident batching: a `TensorDataset` batched by index, with seeded order and augmentation.

The order of epoch e is a permutation drawn from (seed, e); the augmentation of batch b of epoch e draws from
(seed, e, b). Nothing depends on how many batches were drawn before, so the loader's position — (epoch, batch) —
is its whole state: save it with `state_dict`, restore it with `load_state_dict`, and the next batch is bit for bit
the one an uninterrupted run would have drawn.

Distributed data parallel: each of `world_size` processes takes its contiguous share of every global batch, so
W processes with per-process batch B/W see exactly the samples one process with batch B sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import torch

from ..errors import ConfigError
from .dataset import TensorDataset

# An augmentation maps a batch (B, C, H, W) and a CPU generator to an augmented batch of the same shape.
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class Batch(NamedTuple):
    inputs: torch.Tensor  # (b, C, H, W) float32, augmented and normalized
    targets: torch.Tensor  # (b,) int64 or (b, K) float32
    global_size: int  # samples in this step's batch across all processes (b·W when shares are equal)


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (numpy's SeedSequence), e.g. (seed, epoch, batch)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def generator(*parts: int) -> torch.Generator:
    """A CPU generator seeded from `parts`."""
    return torch.Generator().manual_seed(derive_seed(*parts))


class _Schedule:
    """The order, shares, position and resume logic that `TensorLoader` and `StreamLoader` share.

    Args:
        size: samples in the data set.
        device: where batches and the normalization statistics live.
        (the rest as documented on TensorLoader)
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        *,
        device: torch.device,
        name: str,
        mean,
        std,
        shuffle: bool,
        drop_last: bool,
        seed: int,
        augment: Augment | None,
        normalize: bool,
        rank: int,
        world_size: int,
    ):
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside a world of {world_size} processes")
        if batch_size % world_size:
            raise ConfigError(
                f"the global batch size {batch_size} does not split evenly over {world_size} processes; "
                f"use a multiple of {world_size}"
            )
        if size == 0:
            raise ConfigError(f"dataset {name or ''} is empty".replace("  ", " "))
        self.size = size
        self.batch_size = min(batch_size, size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.augment = augment
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.position = 0  # batches of the current epoch already drawn
        self._mean = self._std = None
        if normalize and mean is not None:
            self._mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
            self._std = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)

    def __len__(self) -> int:
        """Batches per epoch."""
        n = self.size
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self, epoch: int) -> torch.Tensor:
        """The sample order of `epoch` on the CPU."""
        if not self.shuffle:
            return torch.arange(self.size)
        return torch.randperm(self.size, generator=generator(self.seed, epoch))

    def _share(self, start: int, stop: int) -> tuple[int, int]:
        """This process's part [a, b) of the global batch [start, stop): contiguous, sizes differing by ≤ 1."""
        size = stop - start
        a = start + (size * self.rank) // self.world_size
        b = start + (size * (self.rank + 1)) // self.world_size
        return a, b

    def _spans(self) -> list[tuple[int, int, int, int]]:
        """(global start, global stop, share start, share stop) of the remaining batches of this epoch."""
        spans = []
        for position in range(self.position, len(self)):
            start = position * self.batch_size
            stop = min(start + self.batch_size, self.size)
            spans.append((start, stop, *self._share(start, stop)))
        return spans

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        """Augment (seeded by seed, epoch, batch) and normalize the batch at the current position."""
        if self.augment is not None:
            x = self.augment(x, generator(self.seed, self.epoch, self.position, 1))
        if self._mean is not None:
            x = (x - self._mean) / self._std
        return x

    def state_dict(self) -> dict[str, int]:
        """Where the loader stands: the epoch and how many of its batches were drawn."""
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["seed"] != self.seed:
            raise ConfigError(f"the saved data order was drawn with seed {state['seed']}, this loader has {self.seed}")
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])


class TensorLoader(_Schedule):
    """Batches a dataset already on its device, without per-sample Python work.

    Args:
        dataset: the data; its tensors stay where they are (move it with `dataset.to(device)` first).
        batch_size: global batch size (summed over processes); `len(dataset)` is full-batch gradient descent,
            1 is stochastic gradient descent.
        shuffle: draw a new order every epoch (training); False keeps file order (evaluation).
        drop_last: drop the last, smaller batch of an epoch.
        seed: seeds the order and the augmentation.
        augment: applied to each training batch before normalization.
        normalize: subtract the dataset's per-channel mean and divide by its std.
        rank, world_size: this process's share of each batch under data parallelism.
    """

    def __init__(
        self,
        dataset: TensorDataset,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        augment: Augment | None = None,
        normalize: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ):
        super().__init__(
            len(dataset),
            batch_size,
            device=dataset.images.device,
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
        self.dataset = dataset
        self._normalized: torch.Tensor | None = None  # filled on first use when nothing augments

    def order(self, epoch: int) -> torch.Tensor:
        """The sample order of `epoch`, on the dataset's device."""
        return self._order(epoch).to(self.dataset.images.device)

    def __iter__(self) -> Iterator[Batch]:
        """The remaining batches of the current epoch; afterwards the loader stands at the next epoch's start."""
        order = self.order(self.epoch)
        if self.augment is None and self._mean is not None and self._normalized is None:
            # Without augmentation, normalize the whole set once: the same arithmetic per element as batch by batch
            # (bit for bit), without a subtraction and a division per batch.
            self._normalized = (self.dataset.images - self._mean) / self._std
        for start, stop, a, b in self._spans():
            index = order[a:b]
            if self._normalized is not None:
                x = self._normalized[index]
            else:
                x = self._finish(self.dataset.images[index])
            batch = Batch(x, self.dataset.targets[index], stop - start)
            self.position += 1
            yield batch
        self.epoch += 1
        self.position = 0
