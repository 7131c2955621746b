"""Crash-safe checkpoints: atomic writes, safe loads, and every random state a run depends on.

Writing: the file goes to a temporary name in the same directory, is flushed and fsync'ed, then `os.replace`d over
the old one (atomic on POSIX), and the directory is fsync'ed so the rename itself survives a power cut. A run killed
at any instant leaves either the previous checkpoint or the new one, never a torn file; a write that fails (a full
disk) removes its temporary file and is one `RunWriteError` line saying so, with the previous checkpoint intact.

Reading: `torch.load(weights_only=True)` only — a checkpoint is tensors, numbers, strings, lists and dicts, so it
never needs the unpickler that can run code, and there is no fallback to it.
"""

from __future__ import annotations

import contextlib
import pickle
import random
import signal
import threading
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import atomic_write, write_failure
from ..errors import CnnlabError, RunWriteError

FORMAT = "cnnlab-checkpoint-1"
# What a training checkpoint holds, with the type of each entry (the trainer reads all of them to resume).
ENTRIES: dict[str, type | tuple[type, ...]] = {
    "model": dict, "optimizer": dict, "epoch": int, "step": int, "loader": dict, "epoch_totals": list,
    "history": list, "best": dict, "bad_epochs": int, "rng": list, "world_size": int, "config": dict,
}  # fmt: skip


class CheckpointError(CnnlabError):
    """A checkpoint that is missing, truncated, or not one of cnnlab's."""


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA random states, as tensors and plain values only."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state()
    return {
        # one tensor rather than 625 ints: pickling each int made up most of a small checkpoint's save time
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    internal = py["state"].tolist() if isinstance(py["state"], torch.Tensor) else py["state"]  # lists: older files
    random.setstate((py["version"], tuple(internal), py["gauss"]))
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically save `state` (plus the format tag) to `path`; a failed write is a `RunWriteError`, and the file
    that was at `path` before stays as it was."""
    path = Path(path)
    payload = {"format": FORMAT, **state}
    try:
        atomic_write(path, lambda f: _serialize(payload, f), durable=True)
    except (OSError, RuntimeError) as exc:
        cause = os_error_behind(exc)
        if cause is None and "inline_container" not in str(exc):  # not a failed write: a bug, shown as it is
            raise
        kept = f"the previous {path.name} is intact" if path.is_file() else f"no earlier {path.name} exists"
        raise RunWriteError(f"cannot save the checkpoint {path}: {write_failure(cause, path.parent)}; {kept}") from exc


def _serialize(payload: dict[str, Any], file) -> None:
    torch.save(payload, file)


def os_error_behind(exc: BaseException) -> OSError | None:
    """The OSError that caused `exc`, if any (torch's zip writer may report a failed write as a RuntimeError)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint`; anything else is a CheckpointError with one clear line."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; a run directory holds checkpoints/last.pt once it has run")
    try:
        with warnings.catch_warnings():  # torch warns of a pickle protocol it did not write: one line, not three
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path} is not a readable cnnlab checkpoint (truncated, corrupted or foreign: {first[:160]}); "
            "resume from another run directory or delete it and train again"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a cnnlab checkpoint (no '{FORMAT}' tag)")
    return state


def load_training_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint the trainer wrote (`load_checkpoint`) and check that it holds every entry a run resumes
    from, each of its type; a missing or malformed one is a CheckpointError with one clear line."""
    state = load_checkpoint(path)
    wrong = [key for key, kind in ENTRIES.items() if not isinstance(state.get(key), kind)]
    if wrong:
        missing = [key for key in wrong if key not in state]
        named = missing or wrong
        listed = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
        what = f"lacks {listed}" if missing else f"has a malformed {listed}"
        raise CheckpointError(
            f"{path} is a cnnlab checkpoint but {what}, so the run cannot continue from it; delete it to start "
            "the run over with --resume, or train a new run"
        )
    return state


def snapshot(value: Any) -> Any:
    """A deep copy of a checkpoint state whose tensors are detached CPU copies: later steps cannot change it."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(snapshot(v) for v in value)
    return value


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives inside the block and deliver it as the block ends, so that the
    KeyboardInterrupt is raised between two whole steps (only the main thread handles signals)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield  # signals go to the main thread; a handler set outside Python could not be put back
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)  # to the handler that was in place: Python's raises KeyboardInterrupt


class CheckpointWriter:
    """Saves checkpoints on a background thread while training goes on.

    `save` copies the state first (so later steps cannot change what is written), waits for the previous write,
    then writes atomically in the background; `wait` blocks until the last write is complete and re-raises its
    error. A process killed mid-write leaves the previous checkpoint, exactly as a synchronous write would.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def save(self, path: Path, state: dict[str, Any], *, copy: bool = True) -> None:
        """Write `state` to `path` in the background; `copy=False` for a `snapshot` already taken (not copied twice)."""
        copied = snapshot(state) if copy else state
        self.wait()
        thread = threading.Thread(target=self._write, args=(path, copied), name="cnnlab-checkpoint")
        with _ctrl_c_deferred():  # a Ctrl-C inside start() would leave a thread that may or may not run
            thread.start()
            self._thread = thread

    def _write(self, path: Path, state: dict[str, Any]) -> None:
        try:
            save_checkpoint(path, state)
        except BaseException as exc:  # handed to the training thread by wait()
            self._error = exc

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
