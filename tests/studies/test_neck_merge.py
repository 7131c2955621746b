"""The neck-merge study: its exact channel and parameter accounting, its rule and competence on synthetic results."""

from __future__ import annotations

import matplotlib

from cnnlab.models import create, summarize
from cnnlab.studies import Results, get_study
from cnnlab.studies import neck_merge as nm
from cnnlab.studies._base import Context
from cnnlab.studies.evidence import judge

matplotlib.use("Agg")

CTX = Context("quick", nm.PROFILES["quick"])


def _model(merge):
    p = nm.PROFILES["quick"]
    return create("tinydet", widths=p["widths"], neck_width=p["neck_width"], head_stride=p["head_stride"], merge=merge)


def _results(extra=None, maps=(0.6, 0.61, 0.62)) -> Results:
    w = 16
    merges = 2  # the stride-2 head merges twice
    p_add = summarize(_model("add")).params
    real_extra = summarize(_model("concat")).params - p_add
    runs = {
        "concat": tuple({"map": m, "map50": 0.9, "map75": 0.6, "params": p_add + (extra or real_extra), "macs": 2000,
                         "channels": 2 * w, "neck_width": w, "expected_extra": merges * w * w * 9} for m in maps),
        "add": tuple({"map": m, "map50": 0.9, "map75": 0.6, "params": p_add, "macs": 1000, "channels": w,
                      "neck_width": w, "expected_extra": merges * w * w * 9} for m in (0.6, 0.6, 0.6)),
    }  # fmt: skip
    return Results("neck-merge", "quick", nm.PROFILES["quick"], (0, 1, 2), runs)


def test_merged_channels_and_parameter_gap_are_exact():
    w = CTX["neck_width"]
    assert nm.merged_channels(CTX, "concat") == 2 * w and nm.merged_channels(CTX, "add") == w
    gap = summarize(_model("concat")).params - summarize(_model("add")).params
    assert gap == 2 * w * w * 9  # two merges at head stride 2: each fuse conv's extra W input channels, 3×3


def test_supported():
    v = nm.decide(_results())
    assert v.kind == "supported" and "32 vs 16 channels" in v.sentence and "3 seeds" in v.sentence


def test_refuted_when_parameter_gap_differs():
    assert nm.decide(_results(extra=5)).kind == "refuted"


def test_undertrained_detector_makes_it_inconclusive():
    j = judge(nm.STUDY, _results(maps=(0.07, 0.06, 0.08)))
    assert j.measured.kind == "supported" and not j.competent
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")
    assert "the concat detector reached 0.07" in j.verdict.sentence


def test_rule_stands_when_both_detectors_learned():
    j = judge(nm.STUDY, _results())
    assert j.competent and j.verdict.kind == "supported" and all(c.agrees for c in j.comparisons)
    get_study("neck-merge")._check_evidence()


def test_table_and_figure():
    r = _results()
    assert len(nm.table(r).rows) == 2 and nm.figure(r) is not None
