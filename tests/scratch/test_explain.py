"""`cnnlab explain backprop`: the printed chain-rule product is autograd's gradient."""

import json
import re
from pathlib import Path

import pytest
import torch

from cnnlab.cli import main
from cnnlab.scratch.explain import explain_backprop

NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?"


def _autograd(act, x1, x2, w1, w2, b, target):
    """The gradient of (f(w1·x1 + w2·x2 + b) − target)² computed here, independently of the library."""
    params = torch.tensor([w1, w2, b], dtype=torch.float64, requires_grad=True)
    z = params[0] * x1 + params[1] * x2 + params[2]
    functions = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}
    functions["leaky_relu:0.2"] = lambda z: torch.nn.functional.leaky_relu(z, 0.2)
    a = functions[act](z)
    ((a - target) ** 2).backward()
    return params.grad.tolist()


@pytest.mark.parametrize("act", ["sigmoid", "relu", "tanh", "leaky_relu:0.2"])
@pytest.mark.parametrize(
    "values",
    [
        {"x1": 0.5, "x2": -1.0, "w1": 0.8, "w2": 0.3, "b": 0.1, "target": 1.0},
        {"x1": -2.0, "x2": 0.7, "w1": 1.5, "w2": -0.4, "b": -0.2, "target": 0.0},  # z < 0: a dead ReLU
    ],
)
def test_factors_multiply_to_autograd(act, values):
    e = explain_backprop(act=act, **values)
    assert e.dl_da == pytest.approx(2 * (e.a - e.target), rel=1e-14)
    assert e.dl_dw1 == pytest.approx(e.dl_da * e.da_dz * e.x1, rel=1e-14, abs=1e-300)
    assert e.dl_dw2 == pytest.approx(e.dl_da * e.da_dz * e.x2, rel=1e-14, abs=1e-300)
    assert e.dl_db == pytest.approx(e.dl_da * e.da_dz, rel=1e-14, abs=1e-300)
    expected = _autograd(act, **values)
    assert [e.dl_dw1, e.dl_dw2, e.dl_db] == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert [e.autograd_dl_dw1, e.autograd_dl_dw2, e.autograd_dl_db] == pytest.approx(expected, rel=1e-12)


def test_sigmoid_and_relu_derivatives_at_the_defaults():
    sig, relu = explain_backprop(act="sigmoid"), explain_backprop(act="relu")
    assert sig.z == pytest.approx(0.2) and sig.da_dz == pytest.approx(sig.a * (1 - sig.a))
    assert relu.da_dz == 1.0 and relu.dl_dw1 == pytest.approx(2 * (0.2 - 1.0) * 0.5)
    assert explain_backprop(act="relu", b=-1.0).da_dz == 0.0


def test_printed_product_equals_autograd(capsys):
    assert main(["explain", "backprop", "--act", "sigmoid", "--x1", "1.5", "--b", "-0.3"]) == 0
    out = capsys.readouterr().out
    factors = re.search(rf"^ +=  ?({NUMBER}) +× ({NUMBER}) +× ({NUMBER})$", out, re.M).groups()
    product, autograd = re.search(rf"^ += ({NUMBER}) +autograd: ({NUMBER}) \(equal\)$", out, re.M).groups()
    dl_da, da_dz, x1 = (float(f) for f in factors)
    assert x1 == 1.5
    assert dl_da * da_dz * x1 == pytest.approx(float(product), rel=1e-5)  # printed to 6 significant digits
    expected = _autograd("sigmoid", 1.5, -1.0, 0.8, 0.3, -0.3, 1.0)[0]
    assert float(product) == pytest.approx(expected, rel=1e-5) and float(autograd) == pytest.approx(expected, rel=1e-5)
    assert "= 2(a − target) · a(1 − a) · x1" in re.sub(" +", " ", out)


def test_json_lists_both_default_activations(capsys):
    assert main(["explain", "backprop", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["act"] for r in rows] == ["sigmoid", "relu"]
    for r in rows:
        assert r["dl_dw1"] == pytest.approx(r["dl_da"] * r["da_dz"] * r["x1"], rel=1e-14)
        assert r["dl_dw1"] == pytest.approx(r["autograd_dl_dw1"], rel=1e-12)
        assert r["autograd_dl_dw1"] == pytest.approx(_autograd(r["act"], 0.5, -1.0, 0.8, 0.3, 0.1, 1.0)[0])


def test_unknown_activation_is_one_line(capsys):
    assert main(["explain", "backprop", "--act", "swish"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown activation (NumPy reference) 'swish'" in err


@pytest.mark.parametrize("command", [["explain"], ["explain", "backprop"]])
def test_help_is_available(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: cnnlab explain" in capsys.readouterr().out


def test_docs_transcript_is_what_the_cli_prints(capsys):
    page = (Path(__file__).parents[2] / "docs" / "scratch.md").read_text(encoding="utf-8")
    block = re.search(r"\$ (cnnlab explain backprop.*?)\n(.*?)```", page, re.S)
    assert main(block.group(1).split()[1:]) == 0
    assert capsys.readouterr().out == block.group(2)
