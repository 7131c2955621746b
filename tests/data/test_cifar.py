import builtins
import pickle
from pathlib import Path

import numpy as np
import pytest

from cnnlab.data import channel_stats, load_dataset
from cnnlab.data.cifar import PUBLISHED_STATS, load_batch
from cnnlab.errors import ConfigError, DataError


def dump(path: Path, obj, protocol: int = 2) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


def write_cifar10(root: Path, per_batch: int = 4, protocol: int = 2, batches=range(1, 6)) -> dict:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    names = [f"data_batch_{i}" for i in batches] + ["test_batch"]
    for name in names:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        dump(folder / name, {b"batch_label": b"x", b"data": data, b"labels": labels}, protocol)
        written[name] = (data, labels)
    names = [
        n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    ]
    dump(folder / "batches.meta", {b"label_names": names, b"num_vis": 3072}, protocol)
    return written


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_round_trip(tmp_path, protocol):
    written = write_cifar10(tmp_path, protocol=protocol)
    train = load_dataset("cifar10", "train", root=tmp_path)
    test = load_dataset("cifar10", "test", root=tmp_path)
    assert train.images.shape == (20, 3, 32, 32) and len(test) == 4
    data, labels = written["data_batch_1"]
    # The row layout: 1,024 red values, then green, then blue, each 32×32 row-major.
    assert round(train.images[0, 1, 0, 5].item() * 255) == data[0, 1024 + 5]
    assert round(train.images[0, 2, 31, 31].item() * 255) == data[0, 3071]
    assert train.targets[:4].tolist() == labels
    assert train.classes[9] == "truck"
    assert test.mean == train.mean == channel_stats(train.images)[0]


def test_cifar100_fine_and_coarse(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    dump(folder / "test", {b"data": data, b"fine_labels": [99, 3], b"coarse_labels": [19, 0]})
    meta = {b"fine_label_names": [f"f{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"c{i}".encode() for i in range(20)]}  # fmt: skip
    dump(folder / "meta", meta)
    fine = load_dataset("cifar100", "test", root=tmp_path)
    coarse = load_dataset("cifar100", "test", root=tmp_path, label="coarse")
    assert fine.targets.tolist() == [99, 3] and fine.num_classes == 100
    assert coarse.targets.tolist() == [19, 0] and coarse.classes[19] == "c19"
    assert fine.mean == PUBLISHED_STATS["cifar100"][0]  # no training batch: the published statistics
    with pytest.raises(ConfigError, match=r"'fine' .* or 'coarse'"):
        load_dataset("cifar100", "test", root=tmp_path, label="medium")


class Payload:
    """Unpickling this runs builtins.open(marker, 'w'): it would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def test_a_pickle_with_a_reduce_payload_is_refused_and_never_runs(tmp_path):
    write_cifar10(tmp_path)
    marker = tmp_path / "pwned"
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    dump(batch, {b"data": np.zeros((1, 3072), np.uint8), b"labels": [Payload(marker)]})
    with pytest.raises(DataError, match=r"refusing to unpickle the global (builtins|io)\.open"):
        load_dataset("cifar10", "train", root=tmp_path)
    assert not marker.exists()
    pickle.loads(batch.read_bytes())  # the same bytes, unpickled without restriction, do run the payload
    assert marker.exists()


def test_other_globals_are_refused(tmp_path):
    path = tmp_path / "evil"
    path.write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")  # protocol 0: os.system('echo hi')
    with pytest.raises(DataError, match=r"global os\.system"):
        load_batch(path)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, r"N×3072 uint8"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, r"N×3072 uint8"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, r"list of 2 integers"),
    ],
)
def test_malformed_batches(tmp_path, entry, message):
    write_cifar10(tmp_path)
    dump(tmp_path / "cifar-10-batches-py" / "test_batch", entry)
    with pytest.raises(DataError, match=message):
        load_dataset("cifar10", "test", root=tmp_path)


def test_missing_and_truncated_files(tmp_path):
    with pytest.raises(DataError, match=r"batches\.meta not found .*\(data_batch_1, .* test_batch"):
        load_dataset("cifar10", "test", root=tmp_path)
    write_cifar10(tmp_path, batches=range(1, 3))
    with pytest.raises(DataError, match=r"data_batch_3 not found; the train split needs data_batch_1, "):
        load_dataset("cifar10", "train", root=tmp_path)
    test = tmp_path / "cifar-10-batches-py" / "test_batch"
    test.write_bytes(test.read_bytes()[:100])
    with pytest.raises(DataError, match="not a readable CIFAR pickle"):
        load_dataset("cifar10", "test", root=tmp_path)
