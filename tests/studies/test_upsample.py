"""The upsample study: upsampler parameters and nearest's repetition, and its rule on synthetic results."""

from __future__ import annotations

import matplotlib

from cnnlab.studies import Results, get_study
from cnnlab.studies import upsample as up
from cnnlab.studies._base import Context
from cnnlab.studies.evidence import judge

matplotlib.use("Agg")

CTX = Context("quick", up.PROFILES["quick"])


def _results(transposed=2048, repeat=0.0, maps=(0.6, 0.61, 0.62)) -> Results:
    params = {"nearest": 0, "bilinear": 0, "transposed": transposed}
    runs = {
        arm: tuple({"map": m, "map50": 0.9, "map75": 0.6, "params": 5000 + params[arm], "up_params": params[arm],
                    "repeat_error": repeat, "expected_transposed": 2048} for m in maps)
        for arm in up.ARMS
    }  # fmt: skip
    return Results("upsample", "quick", up.PROFILES["quick"], (0, 1, 2), runs)


def test_upsampler_parameters_and_nearest_repetition():
    w = CTX["neck_width"]
    assert up.upsampler_params(CTX, "nearest") == (0, 0.0)
    assert up.upsampler_params(CTX, "bilinear")[0] == 0
    # one 2×2 kernel per (in, out) channel pair, in each of the stride-2 head's two upsampling steps
    assert up.upsampler_params(CTX, "transposed")[0] == 2 * 4 * w * w


def test_supported():
    v = up.decide(_results())
    assert v.kind == "supported" and "transposed 2,048 (expected 2,048)" in v.sentence and "3 seeds" in v.sentence


def test_refuted_when_counts_differ():
    assert up.decide(_results(transposed=1024)).kind == "refuted"
    assert up.decide(_results(repeat=0.5)).kind == "refuted"


def test_undertrained_detector_makes_it_inconclusive():
    j = judge(up.STUDY, _results(maps=(0.2, 0.1, 0.15)))
    assert j.measured.kind == "supported" and not j.competent
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")


def test_rule_stands_when_every_detector_learned():
    j = judge(up.STUDY, _results())
    assert j.competent and j.verdict.kind == "supported" and all(c.agrees for c in j.comparisons)
    get_study("upsample")._check_evidence()


def test_table_and_figure():
    r = _results()
    assert len(up.table(r).rows) == 3 and up.figure(r) is not None
