"""The adding problem: two marked values per sequence, one in each half; the target is their sum."""

import pytest
import torch

from cnnlab.data import load_dataset, make_adding
from cnnlab.errors import ConfigError


def test_each_sequence_marks_one_step_per_half_and_the_target_is_their_sum():
    data = make_adding(500, 40, seed=3)
    values, markers = data.images[:, 0, 0], data.images[:, 1, 0]  # (N, 2, 1, T) -> (N, T) each
    assert data.images.shape == (500, 2, 1, 40) and data.targets.dtype == torch.float32
    assert torch.equal(markers[:, :20].sum(1), torch.ones(500)) and torch.equal(markers[:, 20:].sum(1), torch.ones(500))
    assert torch.allclose((values * markers).sum(1), data.targets)
    assert data.regression and not data.multilabel and data.num_classes == 1


def test_predicting_one_gives_the_documented_mse():
    data = make_adding(50_000, 10, seed=0)
    mse = ((data.targets - 1.0) ** 2).mean().item()
    assert abs(mse - 1 / 6) < 0.005  # Var(u1 + u2) = 2/12 for independent U(0, 1)


def test_deterministic_per_seed_and_split():
    a, b = make_adding(64, 12, seed=1), make_adding(64, 12, seed=1)
    assert torch.equal(a.images, b.images) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.targets, make_adding(64, 12, seed=1, split=1).targets)
    train = load_dataset("adding", "train", T=12, n_train=64, seed=1)
    assert torch.equal(train.targets, a.targets) and len(load_dataset("adding", "test", T=12, n_test=7)) == 7


@pytest.mark.parametrize(("n", "T", "message"), [(0, 10, "at least 1"), (5, 1, "T must be"), (5, 2.5, "T must be")])
def test_bad_sizes_are_clear_errors(n, T, message):
    with pytest.raises(ConfigError, match=message):
        make_adding(n, T)


def test_data_show_describes_sequences_without_a_picture_grid(tmp_path, capsys, monkeypatch):
    from cnnlab.cli import main
    from cnnlab.data import save_grid

    monkeypatch.chdir(tmp_path)
    assert main(["data", "show", "adding", "--kw", "T=10", "--kw", "n_train=100"]) == 0
    assert "targets: mean" in capsys.readouterr().out and not list(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="2 channels"):
        save_grid(make_adding(4, 10), tmp_path / "g.png")


def test_scratch_engine_refuses_regression_and_pretraining(tmp_path, capsys):
    from cnnlab.cli import main

    assert main(["train", "mlp", "--engine", "scratch", "--data", "adding", "--out", str(tmp_path / "a")]) == 2
    assert "trains single-label classifiers" in capsys.readouterr().err
    assert main(["train", "mlp", "--engine", "scratch", "--pretrain", "layerwise", "--out", str(tmp_path / "b")]) == 2
    assert "does not support --pretrain" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
