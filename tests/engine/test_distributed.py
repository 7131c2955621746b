"""DistributedDataParallel on CPU with gloo: 2 processes equal 1 process with the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnlab.cli import main
from cnnlab.engine.export import load_safetensors

TWO_PROCESSES = True  # conftest.py runs these tests after the first commands of test_recipes.py, on two free cores

# 1,169 training images (1,299 less 10% held out): each epoch ends with a batch of 17, split 8 + 9, where each
# process divides its summed loss by 8.5 instead of taking its batch mean. 353 test images: not divisible by
# 2 processes, nor by the evaluation batch.
ARGS = [
    "lenet5", "--data", "digits", "--epochs", "2", "--batch-size", "64", "--optimizer", "sgd", "--lr", "0.4",
    "--dropout", "0", "--no-progress", "--seed", "3", "--train-split", "train[:1299]", "--test-split", "test[:353]",
]  # fmt: skip


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "cnnlab"]


def one_and_two(argv: list[str], root: Path) -> subprocess.CompletedProcess:
    """`cnnlab ARGV` trained into ROOT/one in this process (one thread, as torchrun's) and into ROOT/two on two
    processes by torchrun, started first so that this run trains while its processes start; torchrun's outcome.
    --standalone: a free local port, so that parallel test sessions do not collide."""
    command = [*TORCHRUN, *argv, "--out", str(root / "two")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert main([*argv, "--out", str(root / "one")]) == 0
        stdout, stderr = two.communicate(timeout=300)
    finally:
        if two.poll() is None:  # this run failed, or torchrun's never ended
            two.kill()
            two.wait()
    assert two.returncode == 0, stderr[-2000:]
    return subprocess.CompletedProcess(command, two.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    return root, one_and_two(["train", *ARGS], root)


def test_two_processes_train_the_same_weights_as_one(runs):
    root, _ = runs
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
    root, _ = runs
    one = json.loads((root / "one" / "metrics.json").read_text())
    two = json.loads((root / "two" / "metrics.json").read_text())
    correct = one["test_accuracy"] * 353
    assert correct == pytest.approx(round(correct), abs=1e-9)  # a whole number of the 353 images
    assert two["test_accuracy"] == one["test_accuracy"]
    assert two["test_loss"] == pytest.approx(one["test_loss"], rel=1e-6)


def test_only_rank_zero_writes_and_reports(runs):
    root, two = runs
    assert two.stdout.count("test accuracy") == 1
    run = json.loads((root / "two" / "run.json").read_text())
    assert run["world_size"] == 2
    assert json.loads((root / "one" / "run.json").read_text())["world_size"] == 1


# A detector: 2 processes equal 1 when the loss is divided by the objects of the whole global batch. GroupNorm
# (per image) instead of BatchNorm, whose statistics would be each process's half-batch; no augmentation. 230
# training images (207 after the 10% held out): batches of 16 split 8 + 8, and a last one of 15 split 8 + 7.
DETECTION = [
    "tinydet", "--data", "shapes", "--data-kw", "task=detection", "--data-kw", "n_train=230", "--data-kw",
    "n_test=45", "--kw", "widths=[8,16,32]", "--kw", "neck_width=16", "--kw", "norm=group:4", "--batch-size", "16",
    "--augment", "none", "--no-progress", "--seed", "5",
]  # fmt: skip


@pytest.fixture(scope="module")
def detectors(tmp_path_factory) -> tuple[Path, dict, dict]:
    """The same detector run on one process and on two. SGD at 0.01 for 2 epochs: the detector finds some shapes
    (AP50 above 0), and the sums' different rounding (two halves, then all-reduce), which grows from step to step as
    it does between any two runs that add in another order, stays about 20 times inside the tolerance; at 0.03 it is
    far outside."""
    root = tmp_path_factory.mktemp("ddp-detector")
    one_and_two(["train", *DETECTION, "--epochs", "2", "--optimizer", "sgd", "--lr", "0.01"], root)
    one, two = (json.loads((root / name / "metrics.json").read_text()) for name in ("one", "two"))
    return root, one, two


def test_a_detector_takes_the_same_steps_on_two_processes(detectors):
    root, first, second = detectors
    one, two = (load_safetensors(root / name / "model.safetensors") for name in ("one", "two"))
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-5, atol=1e-6)
    assert second["test_loss"] == pytest.approx(first["test_loss"], rel=1e-6)


def test_a_detector_on_two_processes_scores_every_test_image(detectors):
    from cnnlab.engine.inference import evaluate_run

    root, _, metrics = detectors
    # One process evaluating the saved model sees all 45 images: the run's gathered test mAP is that one.
    alone = evaluate_run(root / "two").coco
    assert metrics["test_map"] == pytest.approx(alone.AP, abs=1e-9) and metrics["test_map50"] == alone.AP50
    assert alone.AP50 > 0  # the comparison is not one of zeros
