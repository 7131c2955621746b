import numpy as np
import pytest
import torch

from cnnlab.data import load_digits
from cnnlab.errors import ConfigError

# The UCI data set's published class distribution of its test set (the 1,797 images embedded here).
UCI_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_embedded_digits_are_the_uci_set():
    data = load_digits("all")
    assert len(data) == 1797
    assert data.input_size == (1, 8, 8)
    assert torch.bincount(data.targets).tolist() == UCI_COUNTS
    assert data.images.min() == 0 and data.images.max() == 1
    assert data.classes == tuple("0123456789")


def test_identical_to_scikit_learn():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    ref = sklearn_datasets.load_digits()
    data = load_digits("all")
    assert np.array_equal(data.images[:, 0].numpy() * 16, ref.images.astype(np.float32))
    assert np.array_equal(data.targets.numpy(), ref.target)


def test_fixed_stratified_split_and_training_statistics():
    train, test, every = load_digits("train"), load_digits("test"), load_digits("all")
    assert (len(train), len(test)) == (1442, 355)
    # every fifth image of each class, in file order, is a test image
    assert torch.bincount(test.targets).tolist() == [n // 5 for n in UCI_COUNTS]
    for c in range(10):
        of_class = every.images[every.targets == c]
        assert torch.equal(test.images[test.targets == c], of_class[4::5])
        kept = torch.ones(len(of_class), dtype=torch.bool)
        kept[4::5] = False
        assert torch.equal(train.images[train.targets == c], of_class[kept])
    assert train.mean == test.mean  # every split is normalized with the training statistics
    x = train.images.double()
    assert train.mean[0] == pytest.approx(x.mean().item(), abs=1e-12)
    assert train.std[0] == pytest.approx(x.std(unbiased=False).item(), abs=1e-12)
    with pytest.raises(ConfigError, match="splits 'train', 'test' and 'all'"):
        load_digits("validation")
