"""MNIST and Fashion-MNIST from IDX files (LeCun et al., 'The MNIST database', yann.lecun.com/exdb/mnist).

An IDX file is a 4-byte magic number — two zero bytes, a type byte (0x08 = unsigned byte, ...) and the number of
dimensions — then each dimension as a big-endian uint32, then the data in C order. Image files are 3-dimensional
(magic 2051 = 0x00000803), label files 1-dimensional (2049 = 0x00000801). Files may be gzip-compressed (.gz).
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from ..errors import DataError
from .dataset import TensorDataset, channel_stats

TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# 512 MiB, 2 GiB once decoded to float32 (the in-memory limit of image folders): far above MNIST's 47 MB of
# training images, and refused from the header before anything is allocated.
MAX_BYTES = 1 << 29
CHUNK = 1 << 20  # bytes decompressed at a time while a .gz file's real size is counted
SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), "test": ("t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")}  # fmt: skip
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")  # fmt: skip
# Training-split statistics, used when only the test files are present (mean and population std over all pixels of
# the 60,000 training images; the familiar 0.1307/0.3081 and 0.2860/0.3530).
PUBLISHED_STATS = {
    "mnist": ((0.1306604762738429,), (0.30810780717887876,)),
    "fashion_mnist": ((0.2860405969887955,), (0.35302424451492237,)),
}


def _open(path: Path) -> BinaryIO:
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    if compressed and path.suffix != ".gz":
        raise DataError(f"{path}: the file is gzip-compressed but has no .gz suffix; rename it to {path.name}.gz or "
                        f"decompress it (gunzip -c {path.name}.gz > {path.name})")  # fmt: skip
    if path.suffix == ".gz" and not compressed:
        raise DataError(f"{path}: named .gz but not gzip-compressed; drop the .gz suffix if it is a raw IDX file")
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def _read(f: BinaryIO, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) < n:
        raise DataError(f"{path}: truncated: {what} needs {n:,} bytes, the file has {len(data):,}; download it again")
    return data


def _data_size(f: BinaryIO, limit: int) -> int:
    """The bytes left in `f` after its header, counted up to `limit` + 1: a raw file's size comes from the file
    system; a .gz file is decompressed chunk by chunk and nothing is kept, so a small file that expands to
    gigabytes costs time, not memory."""
    if not isinstance(f, gzip.GzipFile):
        return os.fstat(f.fileno()).st_size - f.tell()
    start, count = f.tell(), 0
    while count <= limit:
        chunk = f.read(CHUNK)
        if not chunk:
            break
        count += len(chunk)
    f.seek(start)
    return count


def read_idx(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or .gz) into a NumPy array, checking its header against its contents.

    The size the header declares is checked against the data really there (for .gz files, decompressed in
    chunks) before the array is allocated.

    Args:
        path: the file.
        ndim: the number of dimensions expected (3 for images, 1 for labels), checked against the magic number.
    """
    path = Path(path)
    try:
        with _open(path) as f:
            magic = _read(f, 4, path, "the magic number")
            zero, code, dims = magic[:2], magic[2], magic[3]
            if zero != b"\0\0" or code not in TYPES or dims == 0:
                raise DataError(f"{path}: magic number 0x{magic.hex()} is not an IDX header (expected 0x0000 "
                                "followed by a type byte such as 08 and the number of dimensions)")  # fmt: skip
            if ndim is not None and dims != ndim:
                expected = {3: "2051 (images)", 1: "2049 (labels)"}.get(ndim, f"{ndim} dimensions")
                raise DataError(f"{path}: magic number {int.from_bytes(magic, 'big')} declares a {dims}-dimensional "
                                f"array, expected {expected}; are the image and label files swapped?")  # fmt: skip
            shape = struct.unpack(f">{dims}I", _read(f, 4 * dims, path, "the header"))
            dtype = np.dtype(TYPES[code])
            size, text = math.prod(shape) * dtype.itemsize, "×".join(map(str, shape))
            if size > MAX_BYTES:
                raise DataError(f"{path}: the header declares a {text} array ({size:,} bytes), beyond any IDX data "
                                f"set (at most {MAX_BYTES:,}); the header is corrupt")  # fmt: skip
            available = _data_size(f, size)
            if available < size:
                raise DataError(f"{path}: truncated: a {text} array needs {size:,} bytes, the file has "
                                f"{available:,}; download it again")  # fmt: skip
            if available > size:
                raise DataError(f"{path}: more data than the header's {text} array; the file is corrupt or not an "
                                "IDX file")  # fmt: skip
            data = _read(f, size, path, f"a {text} array")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: damaged gzip data ({exc}); download the file again") from exc
    return np.frombuffer(data, dtype).reshape(shape)


def find_files(root: Path, stems: tuple[str, ...], *, sub: str) -> list[Path]:
    """Locate each stem (.gz or raw) in root, root/raw or root/SUB/raw (torchvision's layout)."""
    folders = (root, root / "raw", root / sub / "raw")
    found = []
    for stem in stems:
        candidates = [folder / (stem + ext) for folder in folders for ext in (".gz", "")]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            where = ", ".join(str(f) for f in folders)
            raise DataError(f"{sub}: {stem}.gz (or {stem}) not found in {where}; point root (--data-dir) at the "
                            "folder holding the IDX files, or download them (download=True, --download)")  # fmt: skip
        found.append(hit)
    return found


def _read_split(root: Path, split: str, sub: str, *, keep: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's images and labels; `keep=False` decodes without keeping the result (a test split only needs the
    training files' statistics, not 60,000 images held for the rest of the process)."""
    image_file, label_file = find_files(root, SPLIT_FILES[split], sub=sub)
    stamps = tuple((st.st_mtime_ns, st.st_size) for st in (image_file.stat(), label_file.stat()))
    decode = _decode_split if keep else _decode_split.__wrapped__
    return decode(image_file.resolve(), label_file.resolve(), stamps)


@functools.lru_cache(maxsize=2)
def _decode_split(image_file: Path, label_file: Path, stamps: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoded files, kept for the process: a run that trains on test[:8000] and tests on test[8000:] reads
    the file once. `stamps` (modification time, size) makes a changed file a new entry. Callers must not write
    into the returned tensors (slices and the loader's normalization make new ones)."""
    images, labels = read_idx(image_file, ndim=3), read_idx(label_file, ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{image_file} holds {images.shape[0]} images but {label_file} {labels.shape[0]} labels")
    if 0 in images.shape:
        n, h, w = images.shape
        raise DataError(f"{image_file} holds {n} images of {h}×{w} pixels; a data set needs at least one image of "
                        "at least 1×1 pixels")  # fmt: skip
    if images.dtype != np.uint8 or labels.dtype != np.uint8 or labels.max(initial=0) > 9:
        raise DataError(f"{image_file}, {label_file}: expected unsigned-byte images and labels 0..9")
    x = torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    return x, torch.from_numpy(labels.astype(np.int64))


def load_idx_dataset(name: str, split: str, root: Path) -> TensorDataset:
    """MNIST or Fashion-MNIST ('mnist', 'fashion_mnist') split 'train' (60,000) or 'test' (10,000) from `root`.

    Normalization statistics come from the training files when present, else from `PUBLISHED_STATS`.
    """
    sub = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[name]
    images, labels = _read_split(root, split, sub)
    if split == "train":
        mean, std = channel_stats(images)
    else:
        try:
            find_files(root, SPLIT_FILES["train"], sub=sub)
        except DataError:  # only the test files are here
            mean, std = PUBLISHED_STATS[name]
        else:
            mean, std = channel_stats(_read_split(root, "train", sub, keep=False)[0])
    classes = FASHION_CLASSES if name == "fashion_mnist" else tuple(str(d) for d in range(10))
    return TensorDataset(images, labels, classes, name=f"{name}/{split}", mean=mean, std=std)
