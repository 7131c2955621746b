"""Small seeded training loops on the embedded digits, written in plain PyTorch (CPU, one thread, fast)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab.data import load_digits


@pytest.fixture(autouse=True)
def _one_thread():
    """One CPU thread: deterministic, and not slowed by other processes competing for the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Standardized (N, 1, 8, 8) training images and their labels."""
    data = load_digits("train")
    images = (data.images - data.images.mean()) / data.images.std()
    return images, data.targets


def batches(digits, steps: int, batch_size: int = 64, seed: int = 0):
    """`steps` random batches drawn with a seeded generator."""
    images, targets = digits
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(images), (batch_size,), generator=g)
        yield images[idx], targets[idx]


def train(model: nn.Module, optimizer: torch.optim.Optimizer, digits, steps: int, batch_size: int = 64) -> float:
    """The plainest loop there is; returns the last loss."""
    loss = torch.tensor(float("nan"))
    for x, y in batches(digits, steps, batch_size):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return loss.item()


@pytest.fixture
def loop():
    """The `train` function above, for tests to call."""
    return train


@pytest.fixture
def batch_iter():
    """The `batches` function above, for tests that write their own loop."""
    return batches
