import pytest
import torch

from cnnlab.data import TensorDataset, TensorLoader, load_digits
from cnnlab.errors import ConfigError


@pytest.fixture
def data():
    images = torch.arange(10 * 2 * 2, dtype=torch.float32).reshape(10, 1, 2, 2)
    return TensorDataset(images, torch.arange(10), tuple("abcdefghij"), name="toy")


def ids(batches):
    return [b.targets.tolist() for b in batches]


def test_order_covers_every_sample_once_per_epoch(data):
    loader = TensorLoader(data, 3, seed=1, normalize=False)
    first = ids(loader)
    assert [len(b) for b in first] == [3, 3, 3, 1]
    assert sorted(i for batch in first for i in batch) == list(range(10))
    second = ids(loader)
    assert first != second  # a new order every epoch
    assert loader.epoch == 2 and loader.position == 0


def test_same_seed_same_batches_bit_for_bit():
    data = load_digits()

    def flip(x, g):
        mask = torch.rand(x.shape[0], generator=g) < 0.5
        return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)

    runs = []
    for _ in range(2):
        loader = TensorLoader(data, 64, seed=7, augment=flip)
        runs.append([b.inputs for _ in range(2) for b in loader])
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))


def test_resume_from_saved_position_continues_exactly(data):
    full = TensorLoader(data, 4, seed=3, normalize=False)
    expected = ids(full) + ids(full)
    loader = TensorLoader(data, 4, seed=3, normalize=False)
    it = iter(loader)
    got = [next(it).targets.tolist(), next(it).targets.tolist()]
    state = loader.state_dict()
    resumed = TensorLoader(data, 4, seed=3, normalize=False)
    resumed.load_state_dict(state)
    got += ids(resumed) + ids(resumed)
    assert got == expected
    with pytest.raises(ConfigError, match="seed 3"):
        TensorLoader(data, 4, seed=4).load_state_dict(state)


def test_shares_of_two_processes_make_up_the_global_batch(data):
    single = ids(TensorLoader(data, 4, seed=5, normalize=False))
    rank0 = list(TensorLoader(data, 4, seed=5, normalize=False, rank=0, world_size=2))
    rank1 = list(TensorLoader(data, 4, seed=5, normalize=False, rank=1, world_size=2))
    assert [a.targets.tolist() + b.targets.tolist() for a, b in zip(rank0, rank1, strict=True)] == single
    assert [b.global_size for b in rank0] == [4, 4, 2]
    with pytest.raises(ConfigError, match="multiple of 2"):
        TensorLoader(data, 3, world_size=2)


def test_full_batch_and_stochastic_descent(data):
    assert ids(TensorLoader(data, 10, shuffle=False)) == [list(range(10))]
    assert len(TensorLoader(data, 1)) == 10
    assert len(TensorLoader(data, 3, drop_last=True)) == 3


def test_normalization_uses_the_dataset_statistics():
    data = load_digits()
    batch = next(iter(TensorLoader(data, len(data), shuffle=False)))
    assert batch.inputs.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert batch.inputs.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)
