"""A run killed with SIGKILL at any moment and resumed ends bit-identical to one that never stopped (CPU)."""

import json
import signal
from pathlib import Path

import pytest
import torch
from _killed_run import CONFIG, killed_run

from cnnlab.engine import TrainConfig, train
from cnnlab.engine.export import load_safetensors


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The run of _killed_run.py, never stopped (in this process, on one thread as the killed runs are)."""
    run_dir = tmp_path_factory.mktemp("ref") / "run"
    train(TrainConfig(**CONFIG, out=str(run_dir)), log=lambda _: None)
    return run_dir


def history_without_times(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


# 1,442 digits - 10% validation = 1,298 training images: 11 steps per epoch of 128; checkpoints every 4 steps
@pytest.mark.parametrize(
    ("mode", "n"),
    [
        ("step", 3),  # mid-epoch, before the first checkpoint
        ("step", 8),  # mid-epoch, right after a step-8 checkpoint would be due (killed before saving it)
        ("step", 15),  # second epoch, after a mid-epoch checkpoint
        ("epoch", 1),  # between epochs
        ("write", 2),  # halfway through writing the step-8 checkpoint
        ("write", 3),  # halfway through the end-of-epoch checkpoint
    ],
)
def test_killed_and_resumed_equals_uninterrupted(tmp_path, reference, mode, n):
    run_dir = tmp_path / "run"
    assert killed_run(run_dir, mode, n) == -signal.SIGKILL
    result = train(resume=run_dir, log=lambda _: None)
    ours, theirs = load_safetensors(run_dir / "model.safetensors"), load_safetensors(reference / "model.safetensors")
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    assert history_without_times(run_dir) == history_without_times(reference)
    expected = json.loads((reference / "metrics.json").read_text())
    assert result.test_accuracy == expected["test_accuracy"] and result.test_loss == expected["test_loss"]
    assert not list(run_dir.rglob(".*.tmp"))  # the torn temporary file was cleaned up, never renamed
