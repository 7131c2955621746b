"""DistributedDataParallel on CPU with gloo: 2 processes equal 1 process with the same global batch."""

import json
import os
import subprocess
import sys

import pytest
import torch

from cnnlab.engine.export import load_safetensors

# 1,169 training images (1,299 less 10% held out): each epoch ends with a batch of 17, split 8 + 9, where each
# process divides its summed loss by 8.5 instead of taking its batch mean. 353 test images: not divisible by
# 2 processes, nor by the evaluation batch.
ARGS = [
    "lenet5", "--data", "digits", "--epochs", "2", "--batch-size", "64", "--optimizer", "sgd", "--lr", "0.4",
    "--dropout", "0", "--no-progress", "--seed", "3", "--train-split", "train[:1299]", "--test-split", "test[:353]",
]  # fmt: skip


def launch(prefix: list[str], out) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*prefix, *ARGS, "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    # --standalone: a free local port, so parallel test runs do not collide
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "cnnlab"]
    torchrun.append("train")
    two = launch(torchrun, root / "two")
    one = launch([sys.executable, "-m", "cnnlab", "train"], root / "one")
    assert two.returncode == 0, two.stderr[-2000:]
    assert one.returncode == 0, one.stderr[-2000:]
    return root, one, two


def test_two_processes_train_the_same_weights_as_one(runs):
    root, _, _ = runs
    history = [json.loads(line) for line in (root / "one" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]  # it learned something
    one, two = (
        load_safetensors(root / "one" / "model.safetensors"),
        load_safetensors(root / "two" / "model.safetensors"),
    )
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-5, atol=1e-6)


def test_evaluation_counts_every_sample_once(runs):
    root, _, _ = runs
    one = json.loads((root / "one" / "metrics.json").read_text())
    two = json.loads((root / "two" / "metrics.json").read_text())
    correct = one["test_accuracy"] * 353
    assert correct == pytest.approx(round(correct), abs=1e-9)  # a whole number of the 353 images
    assert two["test_accuracy"] == one["test_accuracy"]
    assert two["test_loss"] == pytest.approx(one["test_loss"], rel=1e-6)


def test_only_rank_zero_writes_and_reports(runs):
    root, _, two = runs
    assert two.stdout.count("test accuracy") == 1
    run = json.loads((root / "two" / "run.json").read_text())
    assert run["world_size"] == 2
    assert json.loads((root / "one" / "run.json").read_text())["world_size"] == 1
