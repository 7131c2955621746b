import json
import subprocess
import sys

import pytest
import torch

from cnnlab import __version__
from cnnlab.cli import main
from cnnlab.models import list_models


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_lists_every_model_with_its_size(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == list_models()
    lenet = next(line for line in out.splitlines() if line.startswith("lenet5"))
    assert "61,706" in lenet and "1×32×32" in lenet


def test_models_pattern_and_json(capsys):
    code, out, _ = run(capsys, "models", "resnet5*", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["name"], r["params"]) for r in rows] == [("resnet50", 25_557_032), ("resnet56", 853_018)]


def test_models_without_match_is_an_error(capsys):
    code, out, err = run(capsys, "models", "transformer*")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no model matches 'transformer*'" in err


def test_summary_reproduces_the_bottleneck_comparison(capsys):
    code, out, _ = run(
        capsys, "summary", "bottleneck", "basic_block", "--input", "256,56,56", "--norm", "none", "--no-bias"
    )
    assert code == 0
    assert "basic_block holds 1,179,648 parameters, 16.94× the 69,632 of bottleneck" in out


def test_summary_json_of_a_model(capsys):
    code, out, _ = run(capsys, "summary", "lenet5", "--input", "1,28,28", "--num-classes", "10", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["params"] == 61_706
    assert data["input_shape"] == [1, 28, 28]
    assert data["layers"][0]["name"] == "features.c1.conv"
    assert data["layers"][0]["output_shape"] == [6, 28, 28]


def test_summary_switches_and_keywords(capsys):
    code, out, _ = run(capsys, "summary", "resnet20", "--act", "sigmoid", "--kw", "residual=none", "--json")
    assert code == 0
    data = json.loads(out)
    types = {row["type"] for row in data["layers"]}
    assert "Sigmoid" in types and "ReLU" not in types and "Add" not in types
    code, out, _ = run(capsys, "summary", "resnet18", "--input", "3,32,32", "--kw", "small_input=true", "--json")
    assert code == 0
    assert json.loads(out)["layers"][0]["output_shape"] == [64, 32, 32]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["summary", "resnet19"], "unknown model or block 'resnet19'; did you mean 'resnet18'"),
        (["summary", "lenet5", "--act", "swish"], "unknown activation 'swish'"),
        (["summary", "lenet5", "--kw", "width=3"], "model 'lenet5' takes no argument 'width'"),
        (["summary", "bottleneck", "--num-classes", "3"], "--num-classes applies to models"),
        (["summary", "resnet20", "--input", "1,32,32", "--norm", "group:5"], "cannot split 16 channels"),
        (["summary", "lenet5", "--input", "3,32"], "expected C,H,W such as 3,32,32"),
        (["summary", "lenet5", "--kw", "oops"], "expected KEY=VALUE"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors exit directly
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err


def test_debug_shows_the_traceback():
    with pytest.raises(ValueError, match="unknown activation"):
        main(["summary", "lenet5", "--act", "swish", "--debug"])
    with pytest.raises(ValueError, match="unknown activation"):
        main(["--debug", "summary", "lenet5", "--act", "swish"])


def test_console_entry_point_and_version(capsys):
    code = "import sys; from cnnlab.__main__ import main; main(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    line, imported = result.stdout.splitlines()
    assert line == f"cnnlab {__version__} (torch {torch.__version__})" and imported == "False"  # answered without it
    with pytest.raises(SystemExit):  # the parser's own --version says the same
        main(["--version"])
    assert capsys.readouterr().out.strip() == line
    result = subprocess.run([sys.executable, "-m", "cnnlab", "summary", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("cnnlab summary: error: unknown model or block 'nope'")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [[], ["models"], ["summary"], ["data"], ["data", "list"], ["data", "show"], ["data", "export"], ["train"],
     ["eval"], ["predict"], ["results"], ["map"], ["explain"]],
)  # fmt: skip
def test_help_is_available(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: cnnlab" in out
    if command == ["train"]:  # every TrainConfig field is a flag, with its default
        assert "--inplace, --no-inplace" in out and "5–7% faster" in out and "(default: 10.0)" in out
