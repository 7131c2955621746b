"""Greedy layer-wise pretraining: each hidden layer an autoencoder of the layer below, then fine-tuning."""

import pytest
import torch

import cnnlab
from cnnlab.cli import main
from cnnlab.data import load_dataset
from cnnlab.engine.pretrain import parse_pretrain, pretrain_layerwise
from cnnlab.errors import ConfigError


def test_each_layer_learns_to_reconstruct_its_input_and_the_head_is_untouched():
    torch.manual_seed(0)
    data = load_dataset("digits", "train")
    model = cnnlab.create("mlp", depth=3, width=32, input_size=8, act="sigmoid")
    head = {k: v.clone() for k, v in model.head.state_dict().items()}
    first = [p.clone() for p in model.features[1].parameters()]
    short = pretrain_layerwise(model, data, epochs=1, seed=0, log=lambda _: None)
    torch.manual_seed(0)
    again = cnnlab.create("mlp", depth=3, width=32, input_size=8, act="sigmoid")
    longer = pretrain_layerwise(again, data, epochs=6, seed=0, log=lambda _: None)
    assert len(short) == 3 and all(b < a for a, b in zip(short, longer, strict=True))  # more epochs, less error
    assert all(torch.equal(v, model.head.state_dict()[k]) for k, v in head.items())
    assert not any(torch.equal(a, b) for a, b in zip(first, model.features[1].parameters(), strict=True))


def test_parse_and_errors():
    assert (parse_pretrain(""), parse_pretrain("layerwise"), parse_pretrain("layerwise:4")) == (0, 1, 4)
    for bad in ("layerwise:0", "greedy", "layerwise:x"):
        with pytest.raises(ConfigError, match="layerwise:EPOCHS"):
            parse_pretrain(bad)
    with pytest.raises(ConfigError, match="use --model mlp"):
        pretrain_layerwise(cnnlab.create("lenet5"), load_dataset("digits", "train"), log=lambda _: None)


def test_cli_pretrains_then_fine_tunes(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "mlp", "--data", "digits", "--kw", "depth=2", "--epochs", "1", "--pretrain", "layerwise:2",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "pretrain layer 1/2: reconstruction loss" in printed and "pretrain layer 2/2" in printed
    assert main(["train", "lenet5", "--data", "digits", "--pretrain", "layerwise", "--out", str(tmp_path / "x")]) == 2
    assert "use --model mlp" in capsys.readouterr().err
