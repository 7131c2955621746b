"""CIFAR-10 and CIFAR-100 from the python batches (Krizhevsky, 'Learning Multiple Layers of Features from Tiny
Images', 2009; www.cs.toronto.edu/~kriz/cifar.html).

The batches are pickles, and unpickling runs whatever callables a file names. They are read with a restricted
unpickler that resolves only the NumPy array constructors the format uses; any other global (os.system, eval,
builtins.open, ...) is refused before it can be called, whatever the file's checksum. The array constructors are
checked too: an array must be the format's N×3072 uint8 with at most `MAX_IMAGES` rows, whose bytes are in the
file, before any memory is set aside for it.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DataError, short_repr
from .dataset import TensorDataset, file_stats

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
FILES = {
    "cifar10": {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"], "meta": "batches.meta"},
    "cifar100": {"train": ["train"], "test": ["test"], "meta": "meta"},
}
MAX_IMAGES = 60_000  # rows of one batch: CIFAR-10's hold 10,000, CIFAR-100's training file 50,000
# Training-split statistics (mean and population std over all pixels of the 50,000 training images), used when only
# the test batch is present.
PUBLISHED_STATS = {
    "cifar10": ((0.49139968, 0.48215841, 0.44653091), (0.24703223, 0.24348513, 0.26158784)),
    "cifar100": ((0.50707516, 0.48654887, 0.44091784), (0.26733429, 0.25643846, 0.27615047)),
}


class _Refused(Exception):
    """What a batch declares that the format does not allow; load_batch adds the file's name."""


def _latin1(text: str, encoding: str) -> bytes:
    """Python 3 pickles bytes at protocol ≤ 2 as _codecs.encode(text, 'latin1'); nothing else is allowed."""
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError("only _codecs.encode(str, 'latin1') is allowed")
    return codecs.encode(text, "latin1")


def _check_array(shape: object, dtype: object, nbytes: int | None = None) -> None:
    """Refuse an array that is not N×3072 uint8 with 0 < N ≤ MAX_IMAGES, or whose data is not all in the file."""
    ok = (
        isinstance(dtype, np.dtype)
        and dtype == np.uint8
        and isinstance(shape, tuple)
        and len(shape) == 2
        and all(type(n) is int for n in shape)
        and 0 < shape[0] <= MAX_IMAGES
        and shape[1] == 3072
    )
    if not ok:
        raise _Refused(f"'data' must be an N×3072 uint8 array (3 colour planes of 32×32, 1 ≤ N ≤ {MAX_IMAGES:,}); "
                       f"the file declares {short_repr(shape)} {short_repr(dtype)}")  # fmt: skip
    if nbytes is not None and nbytes != shape[0] * shape[1]:
        n = shape[0] * shape[1]
        raise _Refused(f"the {shape[0]}×{shape[1]} array needs {n:,} bytes, the file holds {nbytes:,}")


class _PickledArray(np.ndarray):
    """An array being unpickled: its state (shape, dtype, bytes) is checked before NumPy allocates for it."""

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused("an array with an unknown pickle state")
        shape, dtype, _, raw = state[-4:]
        if not isinstance(raw, bytes | bytearray):
            raise _Refused("an array whose data is not raw bytes")
        _check_array(shape, dtype, len(raw))
        super().__setstate__(state)


class _ArrayType:
    """Stands for numpy.ndarray, which a pickle names as the type to rebuild; calling it would allocate any shape."""

    def __call__(self, *args, **kwargs):
        raise _Refused("refusing to call numpy.ndarray(...); a CIFAR batch's arrays are rebuilt from their bytes")


def _allowed() -> dict[tuple[str, str], object]:
    """The globals a CIFAR batch may name: NumPy's array reconstructors under their NumPy 1 and 2 module names,
    each checking the array it is asked for."""
    reconstruct = np.zeros(1).__reduce__()[0]  # numpy.core.multiarray._reconstruct (numpy._core in NumPy 2)
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]  # numpy.core.numeric._frombuffer (protocol 5)
    array_type = _ArrayType()

    def checked_reconstruct(subtype, shape, dtype):
        # NumPy writes _reconstruct(ndarray, (0,), b'b'); the real shape and data follow in __setstate__.
        if subtype is not array_type or shape != (0,):
            raise _Refused(f"refusing _reconstruct({short_repr(subtype)}, {short_repr(shape)}, ...)")
        return reconstruct(_PickledArray, (0,), dtype)

    def checked_frombuffer(buffer, dtype, shape, order):
        _check_array(shape, dtype, memoryview(buffer).nbytes)
        return frombuffer(buffer, dtype, shape, order)

    table: dict[tuple[str, str], object] = {("numpy", "ndarray"): array_type, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = checked_reconstruct
        table[(f"{core}.numeric", "_frombuffer")] = checked_frombuffer
    table[("_codecs", "encode")] = _latin1
    return table


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file, encoding="bytes")  # the batches were written by Python 2: str keys are bytes
        self.path = path
        self.allowed = _allowed()

    def find_class(self, module: str, name: str):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise DataError(
                f"{self.path}: refusing to unpickle the global {module}.{name}; a CIFAR batch holds only NumPy arrays, "
                "lists and strings, so this file is not one (and may be malicious)"
            ) from None


def load_batch(path: str | Path) -> dict:
    """Unpickle one CIFAR batch or meta file safely; keys are returned as str."""
    path = Path(path)
    try:
        data = _RestrictedUnpickler(io.BytesIO(path.read_bytes()), path).load()
    except DataError:
        raise
    except _Refused as exc:
        raise DataError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(f"{path}: not a readable CIFAR pickle ({exc})") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path}: a CIFAR batch is a dict, this file holds a {type(data).__name__}")
    return {
        k.decode("latin1") if isinstance(k, bytes) else k: v.view(np.ndarray) if isinstance(v, np.ndarray) else v
        for k, v in data.items()
    }


def _folder(root: Path, name: str) -> Path:
    for folder in (root / FOLDERS[name], root):
        if (folder / FILES[name]["meta"]).is_file():
            return folder
    names = ", ".join(FILES[name]["train"] + FILES[name]["test"] + [FILES[name]["meta"]])
    raise DataError(
        f"{name}: {FILES[name]['meta']} not found in {root / FOLDERS[name]} or {root}; expected the python batches "
        f"({names}); point root (--data-dir) at their folder, or download them (download=True, --download)"
    )


def _read(folder: Path, name: str, split: str, label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for file in FILES[name][split]:
        path = folder / file
        if not path.is_file():
            raise DataError(f"{name}: {path} not found; the {split} split needs {', '.join(FILES[name][split])}")
        batch = load_batch(path)
        data, y = batch.get("data"), batch.get(label_key)
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            raise DataError(f"{path}: 'data' must be an N×3072 uint8 array (3 colour planes of 32×32)")
        if not isinstance(y, list) or len(y) != len(data) or not all(isinstance(v, int) for v in y):
            raise DataError(f"{path}: '{label_key}' must be a list of {len(data)} integers")
        images.append(data.reshape(-1, 3, 32, 32))  # (N, 3072) -> (N, 3, 32, 32): R, G, B planes, row-major
        labels.extend(y)
    x = torch.from_numpy(np.concatenate(images).astype(np.float32) / 255)
    return x, torch.tensor(labels, dtype=torch.int64)


def load_cifar(name: str, split: str, root: Path, *, label: str = "fine") -> TensorDataset:
    """CIFAR-10 or CIFAR-100 ('cifar10', 'cifar100') split 'train' (50,000) or 'test' (10,000) from `root`.

    Args:
        label: CIFAR-100 only: 'fine' (100 classes) or 'coarse' (20 superclasses).
    """
    if name == "cifar10" and label != "fine":
        raise ConfigError(f"cifar10 has one set of labels; label={label!r} applies to cifar100 only")
    if label not in ("fine", "coarse"):
        raise ConfigError(f"cifar100: label must be 'fine' (100 classes) or 'coarse' (20 superclasses), not {label!r}")
    folder = _folder(root, name)
    meta = load_batch(folder / FILES[name]["meta"])
    names_key, label_key = (
        ("label_names", "labels") if name == "cifar10" else (f"{label}_label_names", f"{label}_labels")
    )
    classes = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in meta.get(names_key, []))
    images, labels = _read(folder, name, split, label_key)
    if not classes or int(labels.max()) >= len(classes) or int(labels.min()) < 0:
        raise DataError(f"{folder}: labels run to {int(labels.max())} but the meta file names {len(classes)} classes")
    train = [folder / f for f in FILES[name]["train"]]
    if split == "train":
        mean, std = file_stats(train, name, images)
    elif all(f.is_file() for f in train):  # read again only if the training batches changed since they were loaded
        mean, std = file_stats(train, name, lambda: _read(folder, name, "train", label_key)[0])
    else:
        mean, std = PUBLISHED_STATS[name]
    suffix = "-coarse" if label == "coarse" else ""
    return TensorDataset(images, labels, classes, name=f"{name}{suffix}/{split}", mean=mean, std=std)
