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


RECONSTRUCT = np.zeros(1).__reduce__()[0]  # numpy's _reconstruct, the global a pickled array names


class Reduce:
    """Pickles as `call(*args)` (with an optional BUILD `state`): a hand-made array constructor."""

    def __init__(self, call, args, state=None):
        self.value = (call, args) if state is None else (call, args, state)

    def __reduce__(self):
        return self.value


@pytest.mark.parametrize(
    ("data", "protocol", "message"),
    [
        # numpy.ndarray((2000000, 3072), uint8): 5.7 GiB asked for by a few hundred bytes
        (Reduce(np.ndarray, ((2_000_000, 3072), np.dtype("u1"))), 2, "refusing to call numpy.ndarray(...)"),
        (Reduce(RECONSTRUCT, (np.ndarray, (2_000_000, 3072), b"B")), 2, "refusing _reconstruct("),
        # the usual _reconstruct, then a state declaring 2,000,000 rows
        (Reduce(RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (2_000_000, 3072), np.dtype("u1"), False, b"\0" * 8)), 2,
         "'data' must be an N×3072 uint8 array (3 colour planes of 32×32, 1 ≤ N ≤ 60,000); the file declares "
         "(2000000, 3072) dtype('uint8')"),
        (Reduce(RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (50_000, 3072), np.dtype("u1"), False, b"\0" * 8)), 2,
         "the 50000×3072 array needs 153,600,000 bytes, the file holds 8"),
        (Reduce(RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (2, 3072), np.dtype("f4"), False, b"\0" * 24576)), 2,
         "'data' must be an N×3072 uint8 array"),
        (np.zeros((4, 3072), np.uint8)[:, :3000], 5, "'data' must be an N×3072 uint8 array"),
    ],
)  # fmt: skip
def test_arrays_are_checked_before_numpy_allocates_them(tmp_path, capsys, data, protocol, message):
    write_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    dump(batch, {b"data": data, b"labels": [0, 1]}, protocol)
    assert batch.stat().st_size < 30_000
    with pytest.raises(DataError) as info:
        load_batch(batch)
    assert str(info.value).startswith(f"{batch}: {message}")
    from cnnlab.cli import main

    assert main(["data", "show", "cifar10", "--split", "test", "--root", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err


def test_a_test_split_loaded_after_its_training_split_reads_no_training_batch_again(tmp_path, monkeypatch):
    from cnnlab.data import cifar

    write_cifar10(tmp_path)
    train = load_dataset("cifar10", "train", root=tmp_path)
    read = []
    real = cifar.load_batch
    monkeypatch.setattr(cifar, "load_batch", lambda path: (read.append(Path(path).name), real(path))[1])
    test = load_dataset("cifar10", "test", root=tmp_path)
    assert read == ["batches.meta", "test_batch"]  # the training batches' statistics are those its load computed
    assert test.mean == train.mean == channel_stats(train.images)[0] and test.std == train.std
    # a training batch rewritten since: the statistics are computed anew, from the new pixels
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    dump(batch, {b"data": np.full((4, 3072), 255, dtype=np.uint8), b"labels": [0, 1, 2, 3]})
    read.clear()
    changed = load_dataset("cifar10", "test", root=tmp_path)
    assert read.count("data_batch_1") == 1 and len(read) == 7
    assert changed.mean == channel_stats(load_dataset("cifar10", "train", root=tmp_path).images)[0] != train.mean
