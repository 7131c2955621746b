"""Every numeric option is checked before any work: NaN, infinity, negatives and out-of-range values are one line
naming the option (exit 2), and no run folder is made."""

import math

import pytest

from cnnlab.cli import main
from cnnlab.engine import TrainConfig, train
from cnnlab.errors import ConfigError

CASES = [
    (["--early-stopping", "-1"], "early_stopping"),
    (["--lr", "nan"], "lr"),
    (["--lr", "inf"], "lr"),
    (["--lr", "0"], "lr"),
    (["--optimizer", "sgd", "--lr", "nan"], "lr"),
    (["--weight-decay", "nan"], "weight_decay"),
    (["--label-smoothing", "1.5"], "label_smoothing"),
    (["--label-smoothing", "nan"], "label_smoothing"),
    (["--checkpoint-interval", "nan"], "checkpoint_interval"),
    (["--checkpoint-every", "-1"], "checkpoint_every"),
    (["--clip-norm", "nan"], "clip_norm"),
    (["--clip-norm", "0"], "clip_norm"),
    (["--momentum", "1"], "momentum"),
    (["--val-fraction", "-0.1"], "val_fraction"),
    (["--threshold", "1"], "threshold"),
    (["--milestones", "10,nan"], "milestones"),
    (["--batch-size", "0"], "batch_size"),
    (["--dropout", "1"], "dropout"),
]


@pytest.mark.parametrize(("flags", "field"), CASES)
def test_bad_numbers_are_one_line_before_any_work(tmp_path, capsys, flags, field):
    out = tmp_path / "run"
    assert main(["train", "mlp", "--data", "digits", "--epochs", "1", *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: {field} must be" in err
    assert not out.exists()


def test_the_python_api_checks_too():
    with pytest.raises(ConfigError, match="lr must be a finite number > 0, got nan"):
        train(TrainConfig(lr=math.nan))
    with pytest.raises(ConfigError, match="label_smoothing must be a finite number ≥ 0 and < 1"):
        train(TrainConfig(label_smoothing=1.5, engine="scratch"))
