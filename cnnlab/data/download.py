"""Optional download of the real data sets: known URLs, MD5 checksums, atomic writes, safe archive extraction.

Nothing here runs unless a caller asks for `download=True`; tests drive it with file:// URLs. A file is streamed to
a temporary name in its destination folder, its MD5 compared with the published one, and only then renamed into
place (os.replace), so an interrupted or corrupted download never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError


@dataclass(frozen=True)
class Resource:
    """A published file: where to get it (mirrors in order) and its MD5 checksum."""

    filename: str
    md5: str
    urls: tuple[str, ...]


def _mirrored(bases: tuple[str, ...], files: dict[str, str]) -> tuple[Resource, ...]:
    return tuple(Resource(name, md5, tuple(base + name for base in bases)) for name, md5 in files.items())


# Checksums as published by the data sets' authors and used by torchvision (datasets/mnist.py, datasets/cifar.py).
RESOURCES: dict[str, tuple[Resource, ...]] = {
    "mnist": _mirrored(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion_mnist": _mirrored(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
    "cifar10": _mirrored(
        ("https://www.cs.toronto.edu/~kriz/",), {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"}
    ),
    "cifar100": _mirrored(
        ("https://www.cs.toronto.edu/~kriz/",), {"cifar-100-python.tar.gz": "eb9058c3a382ffc7106e4002c42a8d85"}
    ),
}

Opener = Callable[..., object]  # urllib.request.urlopen or a stand-in with the same call and context protocol


def default_root(name: str) -> Path:
    """Where data set `name` lives when no root is given: $CNNLAB_DATA/NAME, else ~/.cache/cnnlab/NAME."""
    base = os.environ.get("CNNLAB_DATA") or Path.home() / ".cache" / "cnnlab"
    return Path(base) / name


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # an integrity check against published sums, not security
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, dest: Path, md5: str, *, opener: Opener = urllib.request.urlopen, timeout: float = 60) -> Path:
    """Download `url` to `dest`, verify its MD5, and only then move it into place.

    Raises DataError when the transfer fails or the checksum differs; `dest` is then untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, opener(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise DataError(
                f"{url}: MD5 {digest.hexdigest()} differs from the published {md5}; the download is damaged or the "
                "file changed upstream, and nothing was saved"
            )
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"could not download {url}: {reason}; check the connection or fetch it by hand") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _safe_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """The archive's members, refusing links, devices, absolute paths and '..' (CVE-2007-4559)."""
    members = tar.getmembers()
    for m in members:
        parts = Path(m.name).parts
        if not (m.isfile() or m.isdir()) or m.name.startswith(("/", "\\")) or ".." in parts:
            raise DataError(f"{archive}: refusing the archive member {m.name!r} (only plain files inside the folder)")
    return members


def extract(archive: Path, root: Path) -> None:
    """Unpack a .tar.gz into `root` via a temporary folder, so that a failure leaves no half-extracted tree."""
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".extract-"))
    try:
        with tarfile.open(archive, "r:*") as tar:
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python ≥ 3.10.12 (PEP 706)
            tar.extractall(tmp, members=_safe_members(tar, archive), **safe)
        for entry in tmp.iterdir():
            target = root / entry.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(entry, target)
    except tarfile.TarError as exc:
        raise DataError(f"{archive}: not a readable tar archive ({exc}); delete it and download again") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download(name: str, root: Path, *, opener: Opener = urllib.request.urlopen) -> None:
    """Fetch data set `name` into `root`: each missing or damaged file from its first working mirror; archives
    are verified and extracted."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for res in RESOURCES[name]:
        dest = root / res.filename
        if not (dest.exists() and md5sum(dest) == res.md5):
            errors = []
            for url in res.urls:
                try:
                    fetch(url, dest, res.md5, opener=opener)
                    break
                except DataError as exc:
                    errors.append(str(exc))
            else:
                raise DataError("; ".join(errors))
        if res.filename.endswith(".tar.gz"):
            extract(dest, root)
