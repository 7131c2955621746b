"""The upsample study: upsampler parameters and nearest's repetition, and its rule on synthetic results."""

from __future__ import annotations

import matplotlib

from cnnlab.studies import Results
from cnnlab.studies import upsample as up
from cnnlab.studies._base import Context

matplotlib.use("Agg")

CTX = Context("quick", up.PROFILES["quick"])


def _results(transposed=1024, repeat=0.0) -> Results:
    params = {"nearest": 0, "bilinear": 0, "transposed": transposed}
    runs = {
        arm: tuple({"map": m, "map50": 0.2, "map75": 0.1, "params": 5000 + params[arm], "up_params": params[arm],
                    "repeat_error": repeat, "expected_transposed": 1024} for m in (0.1, 0.11, 0.12))
        for arm in up.ARMS
    }  # fmt: skip
    return Results("upsample", "quick", up.PROFILES["quick"], (0, 1, 2), runs)


def test_upsampler_parameters_and_nearest_repetition():
    w = CTX["neck_width"]
    assert up.upsampler_params(CTX, "nearest") == (0, 0.0)
    assert up.upsampler_params(CTX, "bilinear")[0] == 0
    assert up.upsampler_params(CTX, "transposed")[0] == 4 * w * w  # one 2×2 kernel per (in, out) channel pair


def test_supported():
    v = up.decide(_results())
    assert v.kind == "supported" and "transposed 1,024 (expected 1,024)" in v.sentence and "3 seeds" in v.sentence


def test_refuted_when_counts_differ():
    assert up.decide(_results(transposed=2048)).kind == "refuted"
    assert up.decide(_results(repeat=0.5)).kind == "refuted"


def test_table_and_figure():
    r = _results()
    assert len(up.table(r).rows) == 3 and up.figure(r) is not None
