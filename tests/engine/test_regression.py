"""Regression in the trainer: real-valued targets, the squared error, no accuracy; an LSTM learns to add."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from cnnlab.engine import TrainConfig, loss_sum, train
from cnnlab.engine.losses import correct_count, resolve_loss
from cnnlab.errors import ConfigError


def test_regression_loss_is_the_squared_error():
    out, target = torch.randn(8, 1), torch.randn(8)
    assert torch.allclose(loss_sum("mse", out, target), F.mse_loss(out.view(-1), target, reduction="sum"))
    assert torch.allclose(loss_sum("mse", out, target, reduction="mean"), F.mse_loss(out.view(-1), target))
    assert correct_count(out, target).item() == 0
    assert resolve_loss("auto", False, regression=True) == "mse"
    with pytest.raises(ConfigError, match="needs --loss mse"):
        resolve_loss("ce", False, regression=True)


def test_lstm_learns_the_adding_problem(tmp_path):
    torch.set_num_threads(1)
    data = {"T": 10, "n_train": 2000, "n_test": 500}
    config = TrainConfig(model="lstm", data="adding", data_kwargs=data, model_kwargs={"hidden": 32}, epochs=12,
                         lr=1e-2, progress=False, out=str(tmp_path / "r"))  # fmt: skip
    result = train(config, log=lambda _: None)
    assert math.isnan(result.test_accuracy)
    assert result.test_loss < 0.167 / 2  # half of what always answering 1 scores
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["test_accuracy"] is None and metrics["test_loss"] == pytest.approx(result.test_loss)
    assert "train_accuracy" not in result.history[0] and "val_accuracy" not in result.history[0]
