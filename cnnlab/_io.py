"""Atomic writes, shared by every package: a reader, or a resumed run, sees the old file or the whole new one.

The new content goes to a temporary file beside the target (same directory, so the same file system) whose name
starts with '.' and ends with '.tmp', and is renamed over the target with `os.replace`, which is atomic on POSIX.
With `durable`, the file and then the directory are fsync'ed, so the result also survives a power cut.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import RunWriteError

TMP_GLOB = ".*.tmp"  # the names of unfinished writes (see remove_stale_temporaries)
_UMASK = os.umask(0o022)  # read once at import (setting it is process-wide, unsafe beside the checkpoint thread)
os.umask(_UMASK)


DISK_FULL = "the disk is full"
# A path the user chose that cannot hold an output: not theirs to write, read-only, below a file, too long.
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG)


def write_failure(error: OSError | None, folder: Path) -> str:
    """Why a write into `folder` failed, in a few words: 'the disk is full' or the system's own reason."""
    if error is not None and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL
    with contextlib.suppress(OSError):  # a folder that is gone: the system's own reason says more
        if shutil.disk_usage(folder).free == 0:
            return DISK_FULL
    return (error.strerror or str(error)) if error is not None else "the write failed"


def fsync_dir(path: Path) -> None:
    """Make a rename inside directory `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds, it replaces `path` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes the file private (0600); give it the mode open() would
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        fsync_dir(path.parent)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object], *, durable: bool = True) -> None:
    """Write `path` through `write(binary_file)`, whole or not at all."""
    with atomic_path(path, durable=durable) as tmp, open(tmp, "wb") as f:
        write(f)


def atomic_write_text(path: str | Path, text: str, *, durable: bool = True) -> None:
    """Write `text` (UTF-8) to `path`, whole or not at all."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")), durable=durable)


def refuse_existing(paths: Iterable[str | Path], *, error: type[Exception], flag: str = "") -> None:
    """Raise `error` for the first of `paths` that exists: an output that would overwrite a file, the user's."""
    for path in paths:
        if Path(path).exists():
            raise error(f"{flag + ' ' if flag else ''}{path} already exists; remove it or name a new file")


def atomic_dir(path: str | Path, fill: Callable[[Path], None], *, exists_error: type[Exception]) -> Path:
    """Call fill(tmp) on a temporary folder beside `path`, then rename it to `path` (absent or an empty folder).

    A write that fails removes the temporary folder: nothing was written, so the same call can be made again. A
    path that cannot hold the output (read-only, below a file) is an `exists_error`; a full disk or another
    failure is a `RunWriteError`."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise exists_error(f"{path} already exists and is not an empty folder; choose a new output folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        try:
            fill(tmp)
            if path.exists():
                path.rmdir()
            os.replace(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        reason = write_failure(exc, path.parent)
        if exc.errno in _NOT_WRITABLE:
            where = f" at {exc.filename}" if exc.filename else ""
            raise exists_error(f"cannot write {path}: {reason}{where}; choose another output folder") from exc
        fix = "make room, then run the command again" if reason == DISK_FULL else "run the command again once fixed"
        raise RunWriteError(f"cannot write {path}: {reason}; nothing of it was written; {fix}") from exc
    return path


def remove_stale_temporaries(directory: str | Path) -> list[Path]:
    """Delete the temporary files that killed writers left in `directory` (recursively); returns them."""
    stale = [p for p in Path(directory).rglob(TMP_GLOB) if p.is_file()]
    for p in stale:
        p.unlink()
    return stale
