"""A run's surroundings: its directory, what it records about itself, and the data splits it trains on."""

from __future__ import annotations

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
from ..errors import ConfigError
from .config import TrainConfig

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
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if (run_dir / "run.json").exists() or (run_dir / "checkpoints").exists():
            raise ConfigError(
                f"{run_dir} already holds a run; continue it with --resume {run_dir}, or choose another --out"
            )
        raise ConfigError(f"--out {run_dir} is not empty and holds no cnnlab run; choose a new or empty folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {run_dir}: {existing} cannot be written; choose a folder you may write to")


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
