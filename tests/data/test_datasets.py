import pytest
import torch

from cnnlab.data import DatasetInfo, dataset_info, list_datasets, load_dataset, load_digits
from cnnlab.errors import ConfigError

REQUIRED = {"adding", "digits", "shapes", "mnist", "fashion_mnist", "cifar10", "cifar100", "folder", "coco"}


def test_registry_names_and_info():
    assert set(list_datasets()) == REQUIRED and list_datasets() == sorted(list_datasets())
    info = dataset_info("shapes")
    assert isinstance(info, DatasetInfo)
    assert (info.task, info.input_size, len(info.classes), info.embedded) == ("classification", (3, 32, 32), 10, True)
    assert info.tasks == ("classification", "multilabel", "detection")
    assert dataset_info("mnist").downloadable and dataset_info("folder").input_size is None
    with pytest.raises(ConfigError, match="did you mean 'cifar10'"):
        dataset_info("cifar1O")


@pytest.mark.parametrize("name", ["digits", "shapes"])
def test_embedded_sets_match_their_info(name):
    info = dataset_info(name)
    options = {"n_train": 50, "n_test": 20} if name == "shapes" else {}
    for split in ("train", "test"):
        data = load_dataset(name, split, **options)
        assert data.input_size == info.input_size and data.classes == info.classes
        assert data.targets.dtype == torch.int64


def test_digits_through_the_registry():
    data, direct = load_dataset("digits", "test"), load_digits("test")
    assert torch.equal(data.images, direct.images) and data.mean == direct.mean


def test_errors_name_the_fix():
    with pytest.raises(ConfigError, match="did you mean 'mnist'"):
        load_dataset("minst")
    with pytest.raises(ConfigError, match="takes no argument 'difficulty'"):
        load_dataset("digits", difficulty=0.5)
    with pytest.raises(ConfigError, match="embedded in cnnlab; it takes no root= and no download="):
        load_dataset("shapes", root="/data")
    with pytest.raises(ConfigError, match="did you mean 'test'"):
        load_dataset("mnist", "tset")
    with pytest.raises(ConfigError, match="cannot be downloaded"):
        load_dataset("folder", root="/nowhere", download=True)
