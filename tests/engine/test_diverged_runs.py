"""A run whose loss blows up is stopped, not reported as a result: exit status 3, one line, the good checkpoint kept."""

import math
import re

import pytest
import torch

from cnnlab.cli import main
from cnnlab.engine import Callback, TrainConfig, TrainingDiverged, load_checkpoint, train

DIVERGED = 3  # the CLI's exit status for a diverged run (2 is bad input)


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_huge_learning_rate_stops_in_its_second_step(tmp_path, capsys, optimizer):
    run = tmp_path / "run"
    argv = ["train", "lenet5", "--data", "digits", "--lr", "1e12", "--optimizer", optimizer, "--out", str(run)]
    assert main(argv) == DIVERGED
    err = one_line(capsys)
    assert err.startswith("cnnlab train: error: step 2 (epoch 1): training diverged: the loss ")
    assert re.search(r"the loss \S+e\+\d+ passed 10000 × 2\.3\d*, (the first step's loss|log 10 for 10 classes) "
                     r"\(lr \S+e\+1[12]\); largest gradient: ", err), err  # fmt: skip
    assert "lower --lr, clip gradients (--clip-norm 1)" in err and "--no-divergence-guard" in err
    # nothing points at a checkpoint that does not exist
    assert err.rstrip().endswith("; no checkpoint was written before it")
    assert not (run / "checkpoints").exists() and not (run / "metrics.json").exists()


def test_a_sigmoid_mlp_at_lr_1000_is_stopped(tmp_path, capsys):
    assert main(["train", "mlp", "--act", "sigmoid", "--lr", "1e3", "--out", str(tmp_path / "run")]) == DIVERGED
    assert re.match(r"cnnlab train: error: step \d+ \(epoch 1\): training diverged: the loss ", one_line(capsys))


def test_the_scratch_engine_stops_the_same_way(tmp_path, capsys):
    argv = ["train", "mlp", "--engine", "scratch", "--act", "sigmoid", "--lr", "1e3", "--out", str(tmp_path / "s")]
    assert main(argv) == DIVERGED
    err = one_line(capsys)
    assert re.match(r"cnnlab train: error: step \d+ \(epoch 1\): training diverged: the loss ", err), err
    assert "; lower --lr, or turn this check off with --no-divergence-guard" in err


def test_the_guard_turns_off_for_those_who_study_divergence(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "mlp", "--act", "sigmoid", "--lr", "1e3", "--optimizer", "adam", "--batch-size", "64",
            "--weight-decay", "0", "--epochs", "1", "--no-divergence-guard", "--out", str(run)]  # fmt: skip
    assert main(argv) == 0
    assert "test loss" in capsys.readouterr().out
    assert load_checkpoint(run / "checkpoints" / "last.pt")["config"]["divergence_guard"] is False


class Blowup(Callback):
    """Scales the last layer's weights by 1e6 before step `step`: that step's loss explodes but stays finite."""

    def __init__(self, step: int):
        self.step = step

    def on_step_start(self, state):
        if state.step + 1 == self.step:
            last = [p for p in state.model.parameters() if p.dim() == 2][-1]
            with torch.no_grad():
                last.mul_(1e6)


def test_the_last_good_checkpoint_stays_and_is_named(tmp_path):
    config = TrainConfig(model="mlp", epochs=3, checkpoint_interval=0, progress=False, out=str(tmp_path / "run"))
    with pytest.raises(TrainingDiverged) as info:
        train(config, callbacks=[Blowup(30)], log=lambda _: None)  # 21 steps per epoch: epoch 2
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    assert str(info.value).startswith("step 30 (epoch 2): training diverged")
    assert str(info.value).endswith(f"; the last good checkpoint is {last} (step 21)")
    saved = load_checkpoint(last)
    assert saved["step"] == 21 and saved["loss_reference"] == pytest.approx(math.log(10), rel=0.05)
    assert all(torch.isfinite(v).all() and v.abs().max() < 100 for v in saved["model"].values())
