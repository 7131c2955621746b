import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnlab.data import channel_stats, load_dataset
from cnnlab.data.idx import PUBLISHED_STATS, read_idx
from cnnlab.errors import DataError

MNIST_T10K = Path(__file__).parents[2] / ".." / "shared" / "data" / "mnist-t10k"
T10K_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx(array: np.ndarray) -> bytes:
    """The IDX encoding of an unsigned-byte array: magic 0x0000 08 NDIM, big-endian dims, data."""
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_split(root: Path, prefix: str, n: int, seed: int, gz: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    ext = ".gz" if gz else ""
    write(root / f"{prefix}-images-idx3-ubyte{ext}", idx(images))
    write(root / f"{prefix}-labels-idx1-ubyte{ext}", idx(labels))
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_of_written_files(tmp_path, gz):
    images, labels = write_split(tmp_path, "train", 50, seed=0, gz=gz)
    test_images, _ = write_split(tmp_path, "t10k", 20, seed=1, gz=gz)
    train = load_dataset("mnist", "train", root=tmp_path)
    test = load_dataset("fashion_mnist", "test", root=tmp_path)
    assert train.images.shape == (50, 1, 28, 28)
    assert np.array_equal((train.images[:, 0] * 255).round().byte().numpy(), images)
    assert np.array_equal(train.targets.numpy(), labels)
    assert np.array_equal((test.images[:, 0] * 255).round().byte().numpy(), test_images)
    assert test.mean == train.mean == channel_stats(train.images)[0]  # the test split uses training statistics
    assert test.classes[0] == "T-shirt/top" and train.classes == tuple("0123456789")


def test_torchvision_layout_is_found(tmp_path):
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    write_split(tmp_path / "MNIST" / "raw", "t10k", 5, seed=2)
    data = load_dataset("mnist", "test", root=tmp_path)
    assert len(data) == 5
    assert data.mean == PUBLISHED_STATS["mnist"][0]  # no training files: the published training statistics


@pytest.mark.skipif(not MNIST_T10K.is_dir(), reason="the real MNIST test set is not in ../shared/data/mnist-t10k")
def test_real_mnist_test_set():
    data = load_dataset("mnist", "test", root=MNIST_T10K)
    assert len(data) == 10_000 and data.input_size == (1, 28, 28)
    assert torch.bincount(data.targets).tolist() == T10K_COUNTS
    # The test set's own statistics lie close to the training set's published ones (0.1325 vs 0.1307).
    assert data.images.mean().item() == pytest.approx(data.mean[0], abs=0.003)
    assert data.images.std().item() == pytest.approx(data.std[0], abs=0.003)


def test_missing_folder_lists_the_file_names(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("mnist", "train", root=tmp_path / "nowhere")
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz (or train-images-idx3-ubyte)" in msg
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in msg and "download" in msg


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("x-idx3-ubyte", b"\x00\x01\x08\x03" + bytes(12), r"magic number 0x00010803 is not an IDX header"),
        ("x-idx3-ubyte", b"\x00\x00\x07\x03" + bytes(12), r"is not an IDX header"),
        ("x-idx3-ubyte", idx(np.zeros(4, np.uint8)), r"declares a 1-dimensional array, expected 2051 \(images\)"),
        ("x-idx3-ubyte", idx(np.zeros((2, 3, 3), np.uint8))[:-5], r"truncated: a 2×3×3 array needs 18 bytes.* has 13"),
        ("x-idx3-ubyte.gz", idx(np.zeros((2, 3, 3), np.uint8))[:10], r"truncated: the header needs 12 bytes"),
        ("x-idx3-ubyte", b"\x00\x00\x08\x03" + struct.pack(">3I", 60000, 60000, 784), r"beyond any IDX data set"),
        ("x-idx3-ubyte", idx(np.zeros((2, 3, 3), np.uint8)) + b"\x00", r"more data than the header's 2×3×3 array"),
        ("x-idx3-ubyte", b"\x00\x00", r"truncated: the magic number needs 4 bytes"),
    ],
)
def test_bad_idx_files(tmp_path, name, data, message):
    with pytest.raises(DataError, match=message):
        read_idx(write(tmp_path / name, data), ndim=3)


def test_gzip_under_a_raw_name_and_raw_under_a_gz_name(tmp_path):
    raw = idx(np.zeros((2, 3, 3), np.uint8))
    (tmp_path / "x-idx3-ubyte").write_bytes(gzip.compress(raw))
    with pytest.raises(DataError, match=r"gzip-compressed but has no \.gz suffix; rename it to x-idx3-ubyte\.gz"):
        read_idx(tmp_path / "x-idx3-ubyte")
    (tmp_path / "y-idx3-ubyte.gz").write_bytes(raw)
    with pytest.raises(DataError, match=r"named \.gz but not gzip-compressed"):
        read_idx(tmp_path / "y-idx3-ubyte.gz")
    (tmp_path / "z-idx3-ubyte.gz").write_bytes(gzip.compress(raw)[:-12])  # cut inside the compressed stream
    with pytest.raises(DataError, match=r"damaged gzip data|truncated"):
        read_idx(tmp_path / "z-idx3-ubyte.gz")


def test_image_and_label_counts_must_agree(tmp_path):
    write_split(tmp_path, "t10k", 5, seed=0)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match=r"holds 5 images but .* 4 labels"):
        load_dataset("mnist", "test", root=tmp_path)


def test_a_file_is_decoded_once_per_process_until_it_changes(tmp_path):
    from cnnlab.data.idx import _decode_split

    write_split(tmp_path, "t10k", 30, seed=2)
    _decode_split.cache_clear()
    first = load_dataset("mnist", "test", root=tmp_path)
    again = load_dataset("mnist", "test", root=tmp_path)
    assert _decode_split.cache_info().misses == 1 and _decode_split.cache_info().hits == 1
    assert torch.equal(first.images, again.images)
    images, _ = write_split(tmp_path, "t10k", 31, seed=3)  # rewritten: a new size, so decoded afresh
    changed = load_dataset("mnist", "test", root=tmp_path)
    assert len(changed) == 31 and _decode_split.cache_info().misses == 2
    assert np.array_equal((changed.images[:, 0] * 255).round().byte().numpy(), images)


def test_the_test_split_reads_training_statistics_without_keeping_the_training_images(tmp_path):
    from cnnlab.data.idx import _decode_split

    write_split(tmp_path, "train", 40, seed=4)
    write_split(tmp_path, "t10k", 10, seed=5)
    _decode_split.cache_clear()
    test = load_dataset("mnist", "test", root=tmp_path)
    assert _decode_split.cache_info().currsize == 1  # the test files only
    assert test.mean == load_dataset("mnist", "train", root=tmp_path).mean


def test_a_header_declaring_more_than_the_file_holds_allocates_nothing_first(tmp_path):
    import tracemalloc

    header = b"\x00\x00\x08\x03" + struct.pack(">3I", 3000, 224, 224)  # 150 MB declared (under MAX_BYTES)
    path = write(tmp_path / "x-idx3-ubyte.gz", header + bytes(5000))
    tracemalloc.start()
    try:
        with pytest.raises(
            DataError, match=r"truncated: a 3000×224×224 array needs 150,528,000 bytes, the file has 5,000"
        ):
            read_idx(path, ndim=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # counted in 1 MiB chunks, never the 150 MB the header asks for


def test_a_gzip_bomb_is_refused_from_its_header_or_while_counting(tmp_path):
    big = b"\x00\x00\x08\x03" + struct.pack(">3I", 40000, 224, 224)  # 2 GB of pixels, 7.5 GiB as float32
    with pytest.raises(DataError, match=r"40000×224×224 array \(2,007,040,000 bytes\), beyond any IDX data set"):
        read_idx(write(tmp_path / "big-idx3-ubyte.gz", big + bytes(1 << 20)), ndim=3)
    small = b"\x00\x00\x08\x03" + struct.pack(">3I", 1, 2, 2)  # 4 bytes declared, 64 MB of zeros in 64 KB
    path = write(tmp_path / "small-idx3-ubyte.gz", small + bytes(64 << 20))
    assert path.stat().st_size < 100_000
    with pytest.raises(DataError, match=r"more data than the header's 1×2×2 array"):
        read_idx(path, ndim=3)
