"""A run's surroundings: its directory, what it records about itself, and the data splits it trains on."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from .._io import atomic_write_text
from ..data import DetectionDataset, TensorDataset, load_dataset
from ..errors import ConfigError, RunInterrupted
from .checkpoint import CheckpointError, load_training_checkpoint
from .config import TrainConfig, config_digest

_SPLIT = re.compile(r"^(?P<split>\w+)(\[(?P<start>-?\d*):(?P<stop>-?\d*)\])?$")


def load_split(config: TrainConfig, spec: str) -> TensorDataset | DetectionDataset:
    """Load a split spec such as 'train', 'test' or 'test[:8000]' (a Python slice of the split's samples)."""
    match = _SPLIT.match(spec.replace(" ", ""))
    if not match:
        raise ConfigError(f"bad split {spec!r}: use a split name, optionally sliced, e.g. 'train' or 'test[:8000]'")
    data = load_dataset(config.data, match["split"], root=config.data_dir, **config.data_kwargs)
    if match["start"] is None:
        return data
    part = slice(int(match["start"]) if match["start"] else None, int(match["stop"]) if match["stop"] else None)
    subset = data.subset(part, name=f"{data.name}{spec[len(match['split']) :]}")
    if len(subset) == 0:
        raise ConfigError(f"split {spec!r} of {config.data} is empty ({len(data)} samples in {match['split']!r})")
    return subset


def hold_out(data: TensorDataset, fraction: float, seed: int) -> tuple[TensorDataset, TensorDataset | None]:
    """Split off a seeded random `fraction` of `data` for validation; returns (train, val or None)."""
    if not 0 <= fraction < 1:
        raise ConfigError(f"val_fraction must lie in [0, 1), got {fraction}")
    n_val = round(len(data) * fraction)
    if n_val == 0:
        return data, None
    if n_val >= len(data):
        raise ConfigError(f"val_fraction {fraction} leaves no training samples out of {len(data)}")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    train_idx, val_idx = order[n_val:].sort().values, order[:n_val].sort().values
    return data.subset(train_idx, f"{data.name}-train"), data.subset(val_idx, f"{data.name}-val")


def check_new_run_dir(run_dir: Path) -> None:
    """Refuse, before any work, an --out that cannot become a new run's directory: a file, a path below a file, a
    read-only place, an existing run (continue it with --resume) or a folder holding anything else (it is not
    cnnlab's to overwrite)."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir} is a file; give a new or empty folder for the run")
    existing = next((p for p in (run_dir, *run_dir.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ConfigError(f"--out {run_dir} lies below the file {existing}; give a folder path")
    if run_dir.is_dir() and any(p.name != LOCK_NAME for p in run_dir.iterdir()):
        if (run_dir / "run.json").exists() or (run_dir / "checkpoints").exists():
            raise ConfigError(
                f"{run_dir} already holds a run; continue it with --resume {run_dir}, or choose another --out"
            )
        raise ConfigError(f"--out {run_dir} is not empty and holds no cnnlab run; choose a new or empty folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {run_dir}: {existing} cannot be written; choose a folder you may write to")


LOCK_NAME = ".lock"  # in a run directory: locked while a process trains the run


class RunLock:
    """An exclusive advisory lock (`fcntl.flock`) on RUN_DIR/.lock, held while one process trains the run.

    The operating system releases it when the process ends, however it ends (SIGKILL included), so a lock left by a
    dead process never blocks anyone; the file stays (removing it could let two processes hold locks on two files).
    """

    def __init__(self, run_dir: Path, fd: int, created: list[Path]):
        self.run_dir, self._fd, self._created = run_dir, fd, created  # the folders it made, deepest first

    def __del__(self) -> None:
        self.release()

    def release(self, *, discard: bool = False) -> None:
        """Unlock. With `discard`, a run folder that holds nothing but the lock loses it, and is removed too when
        this lock created it, with the parent folders it created (a setup that failed leaves nothing behind)."""
        if self._fd is None:
            return
        if discard and [p.name for p in self.run_dir.iterdir()] == [LOCK_NAME]:
            (self.run_dir / LOCK_NAME).unlink()  # while still locked: a waiting process sees the file is gone
            for folder in self._created:
                if any(folder.iterdir()):
                    break
                folder.rmdir()
        os.close(self._fd)  # closing the last descriptor releases the lock
        self._fd = None


def lock_run_dir(run_dir: Path, *, new: bool) -> RunLock:
    """Take the run directory's lock before any work; a directory another process is training is refused at once.

    For a new run (`new`), --out is checked (`check_new_run_dir`) and created first, and checked again once locked:
    another process may have finished a run there in between."""
    run_dir = Path(run_dir)
    if new:
        check_new_run_dir(run_dir)
    created = [p for p in (run_dir, *run_dir.parents) if not p.exists()]
    for _ in range(3):  # again if the lock file was removed by a failed setup while this process waited to open it
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ConfigError(
                f"cannot lock the run folder {run_dir}: {exc.strerror}; choose a folder you may write to"
            ) from None
        try:
            _flock(fd)
        except BlockingIOError:
            os.lseek(fd, 0, os.SEEK_SET)
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            pid = f" (process {holder})" if holder.isdigit() else ""
            raise ConfigError(
                f"{run_dir} is being trained by another process{pid}; wait for it to end (then continue the run with "
                "--resume if it stopped early), or choose another --out"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(run_dir / LOCK_NAME).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    else:
        raise ConfigError(f"cannot lock the run folder {run_dir}: other processes keep creating and removing it")
    lock = RunLock(run_dir, fd, created)
    try:
        if new:
            check_new_run_dir(run_dir)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for the message of a process that is refused
    except BaseException:
        lock.release(discard=True)
        raise
    return lock


def _flock(fd: int) -> None:
    """Lock `fd` exclusively without waiting (BlockingIOError when another holds it); a no-op without fcntl."""
    if sys.platform != "win32":
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def default_run_dir(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.model}-{config.data}-{stamp}"


def environment(device: torch.device, world_size: int) -> dict[str, Any]:
    """Versions and hardware, recorded next to every run's results."""
    return {
        "cnnlab": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "torch_threads": torch.get_num_threads(),
        "world_size": world_size,
    }


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_run_config(run_dir: Path, *, saved: dict[str, Any] | None = None) -> dict[str, Any]:
    """RUN_DIR/config.json, checked against the digest run.json recorded when the run started.

    An edited config.json would make a resumed run or an evaluation silently differ from what was trained, so it is
    a ConfigError naming the changed values (against `saved`, the configuration a checkpoint holds, or else the one
    in checkpoints/last.pt when there is one)."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    values = read_json(path)
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must hold a JSON object of training settings, got {type(values).__name__}")
    recorded = read_json(run_dir / "run.json").get("config_digest") if (run_dir / "run.json").is_file() else None
    if not isinstance(recorded, str) or config_digest(values) == recorded:
        return values
    if saved is None and (run_dir / "checkpoints" / "last.pt").is_file():
        with contextlib.suppress(CheckpointError):  # then the digest alone tells of the edit
            saved = load_training_checkpoint(run_dir / "checkpoints" / "last.pt")["config"]
    if saved is not None and config_digest(saved) == recorded:
        keys = [k for k in {**saved, **values} if saved.get(k, "(none)") != values.get(k, "(none)")]
        shown = ", ".join(f"{k} {saved.get(k, '(none)')!r} → {values.get(k, '(none)')!r}" for k in keys[:4])
        changed = shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
    else:
        changed = f"its digest is {config_digest(values)}, run.json recorded {recorded}"
    raise ConfigError(
        f"{path} was edited after the run started ({changed}); a run is continued and evaluated as it was "
        "configured: undo the edit, or train a new run with the new settings and another --out"
    )


def interruption(run_dir: Path | None) -> RunInterrupted:
    """The one line of a Ctrl-C outside the training loop: in setup (`run_dir` None for a new run: a run folder
    holding nothing is removed), before the first step or while the results are written."""
    if run_dir is None:
        return RunInterrupted("interrupted before training started; nothing was trained; run the command again")
    return RunInterrupted(f"interrupted; continue the run with 'cnnlab train --resume {run_dir}'")


def restore_run_config(run_dir: Path, saved: dict[str, Any]) -> Path:
    """Write a deleted RUN_DIR/config.json again from `saved`, the configuration its checkpoint holds; returns it.

    The checkpoint's copy differs from the file the run started with at most in `out` (a resumed run records the
    folder it was resumed from, a new one the --out it was given, or none), so of those candidates the one whose
    digest run.json recorded is the original file. When none matches, the configuration is not recoverable and
    resuming would make a run that eval, predict and results refuse: a ConfigError."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    recorded = read_json(run_dir / "run.json").get("config_digest") if (run_dir / "run.json").is_file() else None
    candidates = [saved, {**saved, "out": None}]
    if isinstance(recorded, str):
        candidates = [c for c in candidates if config_digest(c) == recorded]
    if not candidates:
        raise ConfigError(
            f"{path} was deleted, and the configuration in the run's checkpoint differs from the one run.json "
            "recorded, so it cannot be restored; put config.json back, or train a new run"
        )
    write_json(path, candidates[0])
    return path


def write_run_files(run_dir: Path, config: TrainConfig, device: torch.device, world_size: int) -> None:
    """config.json (the resolved configuration) and run.json (seed, versions, device, command, digest)."""
    write_json(run_dir / "config.json", config.to_dict())
    write_json(
        run_dir / "run.json",
        {
            "seed": config.seed,
            "config_digest": config.digest(),
            "command": sys.argv,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **environment(device, world_size),
        },
    )
