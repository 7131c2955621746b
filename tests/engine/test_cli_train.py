import json
import os
from pathlib import Path

import pytest
import torch

from cnnlab.cli import main

ROOT = Path(__file__).parents[2]


def test_train_then_eval_through_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "lenet5", "--data", "digits", "--epochs", "1", "--batch-size", "128", "--no-progress"]
    assert main([*argv, "--out", str(out), "--lr", "0.02", "--kw", "pool=max", "--act", "relu"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in printed
    config = json.loads((out / "config.json").read_text())
    assert (config["lr"], config["model_kwargs"], config["act"], config["epochs"]) == (0.02, {"pool": "max"}, "relu", 1)
    assert main(["eval", str(out), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == metrics["test_accuracy"]
    assert evaluated["loss"] == pytest.approx(metrics["test_loss"], rel=1e-6)
    assert evaluated["samples"] == 355
    assert main(["eval", str(out), "--split", "test[:100]", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 100


def test_config_file_and_flags_precedence(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('model = "mlp"\nepochs = 1\nlr = 0.5\nbatch_size = "full"\nprogress = false\n')
    out = tmp_path / "run"
    assert main(["train", "--config", str(tmp_path / "c.toml"), "--lr", "0.1", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["model"], config["lr"], config["batch_size"]) == ("mlp", 0.1, "full")


def test_resume_a_finished_run_and_refuse_extra_flags(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "mlp", "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    first = capsys.readouterr().out.splitlines()[-1]
    assert main(["train", "--resume", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split("(")[0] == first.split("(")[0]
    assert main(["train", "--resume", str(out), "--lr", "1"]) == 2
    assert "drop the other options" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train"], "name a model to train"),
        (["train", "lenet5", "--optimizer", "rmsprop"], "unknown optimizer 'rmsprop'"),
        (["train", "lenet5", "--data", "imagenet"], "unknown dataset 'imagenet'"),
        (["train", "lenet5", "--config", "missing.toml"], "config file missing.toml does not exist"),
        (["train", "--resume", "nowhere"], "nowhere is not a run directory"),
        (["eval", "nowhere"], "nowhere is not a run directory"),
    ],
)
def test_train_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--epochs", "1"] if argv[0] == "train" and "--resume" not in argv else argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_diagnose_flags_a_deep_sigmoid_mlp(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "mlp", "--kw", "depth=20", "--act", "sigmoid", "--epochs", "1", "--no-progress"]
    assert main([*argv, "--diagnose", "--diagnose-every", "5", "--out", str(out)]) == 0
    assert "warning: vanishing: gradients vanish toward the input" in capsys.readouterr().out
    files = {p.name for p in (out / "diagnostics").iterdir()}
    assert {"records.csv", "findings.json", "grad_heatmap.png", "grad_depth.png", "units.png"} <= files
    findings = json.loads((out / "diagnostics" / "findings.json").read_text())
    assert "vanishing" in json.dumps(findings)


def test_scratch_engine_writes_weights_the_torch_twin_scores_identically(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "lenet5", "--engine", "scratch", "--epochs", "2", "--optimizer", "sgd", "--lr", "0.05"]
    assert main([*argv, "--act", "relu", "--kw", "pool=max", "--out", str(out)]) == 0
    capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["engine"] == "scratch"
    assert main(["eval", str(out), "--json"]) == 0  # the PyTorch twin, loaded from model.safetensors
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == metrics["test_accuracy"]
    assert evaluated["loss"] == pytest.approx(metrics["test_loss"], rel=1e-4)
    assert main(["train", "lenet5", "--engine", "scratch", "--clip-norm", "1", "--out", str(tmp_path / "x")]) == 2
    assert "--engine scratch does not support --clip-norm" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "run"
    argv = ["train", "lenet5", "--epochs", "3", "--lr", "3e-3", "--act", "relu", "--kw", "pool=max", "--no-progress"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def test_predict_agrees_with_the_model_on_the_same_pixels(trained, tmp_path, capsys):
    from PIL import Image

    from cnnlab.data import load_digits
    from cnnlab.engine import load_run

    test = load_digits("test")
    paths = []
    for i in range(4):  # digits are 0..16 levels; 16·k/16 scaled to 0..255 survives the PNG round trip exactly
        pixels = (test.images[i, 0] * 255).round().to(torch.uint8).numpy()
        Image.fromarray(pixels, mode="L").save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    capsys.readouterr()
    assert main(["predict", str(trained), *paths, "--top-k", "2", "--json"]) == 0
    predictions = json.loads(capsys.readouterr().out)
    _, model, train = load_run(trained)
    x = ((test.images[:4] * 255).round() / 255 - train.mean[0]) / train.std[0]
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)
    for p, row in zip(predictions, probs, strict=True):
        assert p["top"][0][0] == str(int(row.argmax()))
        assert p["top"][0][1] == pytest.approx(float(row.max()), rel=1e-5)
        assert len(p["top"]) == 2
    assert main(["predict", str(trained), str(tmp_path / "missing.png")]) == 2
    assert "no such image file" in capsys.readouterr().err


def png_declaring(path, side: int):
    """Under 100 bytes whose header declares side×side RGB pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(64))))
    return path


# Pillow refuses 30000² pixels itself; 10000² it only warns of, then decodes (1.3 GB): both are refused from the
# header, and with warnings as errors a warning fails the test too.
@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("side", [30_000, 10_000])
def test_predict_refuses_a_decompression_bomb_in_one_line(trained, tmp_path, capsys, side):
    bomb = png_declaring(tmp_path / "bomb.png", side)
    capsys.readouterr()
    assert main(["predict", str(trained), str(bomb)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"cnnlab predict: error: {bomb}: refusing to decode it: Image size ({side**2} pixels)")


def test_a_bomb_pillow_only_warns_of_is_one_line_on_the_real_stderr(trained, tmp_path):
    import subprocess
    import sys

    bomb = png_declaring(tmp_path / "bomb.png", 10_000)
    done = subprocess.run([sys.executable, "-m", "cnnlab", "predict", str(trained), str(bomb)], capture_output=True,
                          text=True, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
                          check=False)  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr.count("\n")) == (2, "", 1), done.stderr
    assert "refusing to decode it: Image size (100000000 pixels) exceeds limit of 89478485 pixels" in done.stderr


def test_results_table_and_refusing_to_overwrite_a_run(trained, capsys):
    capsys.readouterr()
    assert main(["results", str(trained), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert (row["model"], row["epochs"], row["test_accuracy"]) == ("lenet5", 3, metrics["test_accuracy"])
    assert main(["train", "lenet5", "--epochs", "1", "--out", str(trained)]) == 2
    assert "already holds a run; continue it with --resume" in capsys.readouterr().err
