"""The download machinery, driven by file:// URLs and a stand-in opener: tests never touch the network."""

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from test_cifar import write_cifar10
from test_idx import write_split

from cnnlab.data import download as dl
from cnnlab.data import load_dataset
from cnnlab.errors import DataError


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_fetch_verifies_and_writes_atomically(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 3_000_000)  # several read chunks
    out = tmp_path / "out"
    dl.fetch(src.as_uri(), out / "file.bin", md5(src.read_bytes()))
    assert (out / "file.bin").read_bytes() == src.read_bytes()
    with pytest.raises(DataError, match=r"MD5 .* differs from the published 0{32}; .* nothing was saved"):
        dl.fetch(src.as_uri(), out / "other.bin", "0" * 32)
    with pytest.raises(DataError, match="could not download file://"):
        dl.fetch((tmp_path / "missing").as_uri(), out / "third.bin", "0" * 32)
    assert listing(out) == ["file.bin"]  # no partial or temporary files left behind


def test_a_transfer_cut_short_leaves_nothing(tmp_path):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise ConnectionResetError("connection reset by peer")
            return super().read(10)

    def opener(url, timeout):
        return Broken(b"y" * 100)

    with pytest.raises(DataError, match="connection reset by peer"):
        dl.fetch("https://example.invalid/f", tmp_path / "f", "0" * 32, opener=opener)
    assert listing(tmp_path) == []


def test_download_through_mirrors_then_load(tmp_path, monkeypatch):
    files = tmp_path / "server"
    files.mkdir()
    write_split(files, "t10k", 6, seed=0)
    resources = tuple(
        dl.Resource(p.name, md5(p.read_bytes()), ((tmp_path / "down" / p.name).as_uri(), p.as_uri()))
        for p in sorted(files.iterdir())
    )  # the first mirror is down, the second has the files
    monkeypatch.setitem(dl.RESOURCES, "mnist", resources)
    with pytest.raises(DataError, match="not found"):
        load_dataset("mnist", "test", root=tmp_path / "data")
    data = load_dataset("mnist", "test", root=tmp_path / "data", download=True)
    assert len(data) == 6
    assert listing(tmp_path / "data") == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_download_and_extract_an_archive(tmp_path, monkeypatch):
    write_cifar10(tmp_path / "server", per_batch=2)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "server" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    resource = dl.Resource(archive.name, md5(archive.read_bytes()), (archive.as_uri(),))
    monkeypatch.setitem(dl.RESOURCES, "cifar10", (resource,))
    data = load_dataset("cifar10", "train", root=tmp_path / "data", download=True)
    assert len(data) == 10
    assert listing(tmp_path / "data") == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink"])
def test_unsafe_archive_members_are_refused(tmp_path, kind):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo({"parent": "../escaped.txt", "absolute": "/tmp/escaped.txt", "symlink": "link"}[kind])
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 3
            tar.addfile(info, io.BytesIO(b"bad"))
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DataError, match="refusing the archive member"):
        dl.extract(archive, root)
    assert listing(root) == [] and not (tmp_path / "escaped.txt").exists()
