import os
import random

import numpy as np
import pytest
import torch

from cnnlab._io import atomic_write_text
from cnnlab.engine.checkpoint import (
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from cnnlab.engine.config import TrainConfig, field_names, from_mapping, read_config_file
from cnnlab.errors import ConfigError


def test_round_trip_with_every_random_state(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    save_checkpoint(tmp_path / "c.pt", {"rng": state, "step": 7, "weights": torch.arange(3.0)})
    random.random(), np.random.rand(), torch.rand(1)  # move every generator on
    loaded = load_checkpoint(tmp_path / "c.pt")
    set_rng_state(loaded["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    assert loaded["step"] == 7 and torch.equal(loaded["weights"], torch.arange(3.0))


def test_truncated_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"w": torch.randn(100, 100)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"last.pt is not a readable cnnlab checkpoint \(truncated"):
        load_checkpoint(path)


def test_foreign_files_are_refused(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a cnnlab checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {_Payload.marker}",))


def test_a_pickle_payload_never_runs(tmp_path):
    _Payload.marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "cnnlab-checkpoint-1", "x": _Payload()}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not _Payload.marker.exists()


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    atomic_write_text(tmp_path / "a.json", "{}")
    atomic_write_text(tmp_path / "a.json", '{"x": 1}')
    assert os.listdir(tmp_path) == ["a.json"]
    assert (tmp_path / "a.json").read_text() == '{"x": 1}'


def test_config_files_toml_and_yaml(tmp_path):
    (tmp_path / "c.toml").write_text(
        'model = "resnet20"\nlr = 1\nmilestones = [5, 10]\n[model_kwargs]\nresidual = "none"\n'
    )
    config = from_mapping(read_config_file(tmp_path / "c.toml"))
    assert (config.model, config.lr, config.milestones) == ("resnet20", 1.0, [5, 10])
    assert config.model_kwargs == {"residual": "none"}
    (tmp_path / "c.yaml").write_text("epochs: 3\nbatch_size: full\n")
    pytest.importorskip("yaml")
    config = from_mapping(read_config_file(tmp_path / "c.yaml"), base=config)
    assert (config.model, config.epochs, config.batch_size) == ("resnet20", 3, "full")


def test_yaml_is_read_safely(tmp_path):
    pytest.importorskip("yaml")
    (tmp_path / "evil.yaml").write_text("model: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        read_config_file(tmp_path / "evil.yaml")


ALIAS_BOMB = """epochs: 1
model_kwargs:
  act: &i [&h [&g [&f [&e [&d [&c [&b [&a [x,x,x,x,x,x,x,x,x],*a,*a,*a,*a,*a,*a,*a,*a],*b,*b,*b,*b,*b,*b,*b,*b],
    *c,*c,*c,*c,*c,*c,*c,*c],*d,*d,*d,*d,*d,*d,*d,*d],*e,*e,*e,*e,*e,*e,*e,*e],*f,*f,*f,*f,*f,*f,*f,*f],
    *g,*g,*g,*g,*g,*g,*g,*g],*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bomb.yaml",
            ALIAS_BOMB.encode(),
            "more than 100,000 values once its aliases are expanded; a training "
            "config needs a few dozen, so write the values out",
        ),
        ("latin.toml", b'epochs = 1\nmodel = "l\xe9net"\n', "not UTF-8 text (byte 21); save the config file as UTF-8"),
    ],
)
def test_hostile_config_files_are_one_line(tmp_path, capsys, name, content, message):
    if name.endswith(".yaml"):
        pytest.importorskip("yaml")
    assert len(content) < 500
    (tmp_path / name).write_bytes(content)
    from cnnlab.cli import main

    assert main(["train", "--config", str(tmp_path / name), "--out", str(tmp_path / "run")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"cnnlab train: error: {tmp_path / name}: {message}\n"
    assert not (tmp_path / "run").exists()


def test_unknown_and_mistyped_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'learning_rate'.*valid keys: model, data,"):
        from_mapping({"learning_rate": 0.1})
    with pytest.raises(ConfigError, match="epochs = 'ten' has the wrong type"):
        from_mapping({"epochs": "ten"})
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"\.toml, \.yaml or \.yml"):
        read_config_file(tmp_path / "c.json")


def test_every_field_has_a_reason_and_a_stable_digest():
    import dataclasses

    assert all(f.metadata.get("help") for f in dataclasses.fields(TrainConfig))
    assert "model" in field_names()
    assert TrainConfig().digest() == TrainConfig().digest()
    assert TrainConfig(lr=0.1).digest() != TrainConfig(lr=0.2).digest()
