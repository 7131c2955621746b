import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.data import (
    StreamLoader,
    TensorDataset,
    TensorLoader,
    build_augment,
    load_dataset,
    make_loader,
)
from cnnlab.data import stream as stream_module


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", "test", n_train=200, n_test=70)


def batches(loader, epochs=1):
    return [b for _ in range(epochs) for b in loader]


def same(a, b) -> bool:
    return len(a) == len(b) and all(
        torch.equal(x.inputs, y.inputs) and torch.equal(x.targets, y.targets) and x.global_size == y.global_size
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("workers", [0, 2])
def test_stream_gives_the_tensor_loaders_batches(shapes, workers):
    aug = build_augment("crop:4,flip,cutout:8", input_size=32, mean=shapes.mean)
    kw = {"seed": 3, "augment": aug, "drop_last": False}
    expected = batches(TensorLoader(shapes, 16, **kw), epochs=2)
    got = batches(StreamLoader(shapes, 16, num_workers=workers, **kw), epochs=2)
    assert same(got, expected)
    assert [b.global_size for b in got[:5]] == [16, 16, 16, 16, 6]


def test_resume_from_a_saved_position(shapes):
    full = batches(StreamLoader(shapes, 16, seed=1), epochs=2)
    loader = StreamLoader(shapes, 16, seed=1)
    head = []
    for b in loader:
        head.append(b)
        if len(head) == 3:
            break
    state = loader.state_dict()
    assert state == {"epoch": 0, "position": 3, "seed": 1}
    resumed = StreamLoader(shapes, 16, seed=1)
    resumed.load_state_dict(state)
    assert same(head + batches(resumed, epochs=2), full)


def test_shares_of_two_processes(shapes):
    single = batches(StreamLoader(shapes, 16, seed=2))
    r0 = batches(StreamLoader(shapes, 16, seed=2, rank=0, world_size=2))
    r1 = batches(StreamLoader(shapes, 16, seed=2, rank=1, world_size=2))
    for whole, a, b in zip(single, r0, r1, strict=True):
        assert torch.equal(torch.cat([a.inputs, b.inputs]), whole.inputs)
        assert a.global_size == b.global_size == whole.global_size


def test_empty_share_when_more_processes_than_samples_left():
    data = TensorDataset(torch.rand(5, 1, 2, 2), torch.arange(5), tuple("abcde"))
    shares = [batches(StreamLoader(data, 4, world_size=4, rank=r, shuffle=False)) for r in range(4)]
    assert [len(s[1].targets) for s in shares] == [0, 0, 0, 1]  # the last batch holds one sample
    assert shares[0][1].inputs.shape == (0, 1, 2, 2)


def test_folder_streams_like_its_tensors(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    lazy = load_dataset("folder", "all", root=tmp_path, lazy=True)
    eager = load_dataset("folder", "all", root=tmp_path, lazy=False)
    streamed = make_loader(lazy, 5, shuffle=True, seed=0, augment=None, device="cpu", num_workers=1)
    in_memory = make_loader(eager, 5, shuffle=True, seed=0, augment=None, device="cpu")
    assert isinstance(streamed, StreamLoader) and isinstance(in_memory, TensorLoader)
    assert same(batches(streamed), batches(in_memory))


def test_make_loader_streams_tensors_beyond_the_limit(shapes, monkeypatch):
    monkeypatch.setattr(stream_module, "TENSOR_LIMIT_BYTES", shapes.images.numel() * 4 - 1)
    loader = make_loader(shapes, 10, shuffle=False, seed=0, augment=None, device="cpu")
    assert isinstance(loader, StreamLoader) and len(loader) == 7


class RandomItems(torch.utils.data.Dataset):
    """Items drawn from NumPy's global generator inside the worker: shows how workers are seeded."""

    mean = std = None
    input_size, multilabel, num_classes = (1, 1, 1), False, 1

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.tensor([[[np.random.rand()]]], dtype=torch.float32), 0


def test_workers_are_seeded_per_epoch_and_per_worker():
    def draws(seed):
        loader = StreamLoader(RandomItems(), 2, seed=seed, shuffle=False, num_workers=2, normalize=False)
        return [tuple(b.inputs.flatten().tolist()) for _ in range(2) for b in loader]

    first = draws(0)
    assert first == draws(0)  # reproducible
    assert len(set(first)) == len(first)  # no two workers, batches or epochs repeat each other's numbers
    assert first != draws(1)
