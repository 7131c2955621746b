"""The neck-merge study: its exact channel and parameter accounting, and its rule on synthetic results."""

from __future__ import annotations

import matplotlib

from cnnlab.models import create, summarize
from cnnlab.studies import Results
from cnnlab.studies import neck_merge as nm
from cnnlab.studies._base import Context

matplotlib.use("Agg")

CTX = Context("quick", nm.PROFILES["quick"])


def _model(merge):
    p = nm.PROFILES["quick"]
    return create("tinydet", widths=p["widths"], neck_width=p["neck_width"], head_stride=p["head_stride"], merge=merge)


def _results(extra=None) -> Results:
    w = 16
    p_add = summarize(_model("add")).params
    real_extra = summarize(_model("concat")).params - p_add
    runs = {
        "concat": tuple({"map": m, "map50": 0.2, "map75": 0.1, "params": p_add + (extra or real_extra), "macs": 2000,
                         "channels": 2 * w, "neck_width": w, "expected_extra": w * w * 9} for m in (0.1, 0.11, 0.12)),
        "add": tuple({"map": m, "map50": 0.2, "map75": 0.1, "params": p_add, "macs": 1000, "channels": w,
                      "neck_width": w, "expected_extra": w * w * 9} for m in (0.1, 0.1, 0.1)),
    }  # fmt: skip
    return Results("neck-merge", "quick", nm.PROFILES["quick"], (0, 1, 2), runs)


def test_merged_channels_and_parameter_gap_are_exact():
    w = CTX["neck_width"]
    assert nm.merged_channels(CTX, "concat") == 2 * w and nm.merged_channels(CTX, "add") == w
    gap = summarize(_model("concat")).params - summarize(_model("add")).params
    assert gap == w * w * 9  # one merge at head stride 4: the fuse conv's extra W input channels, 3×3


def test_supported():
    v = nm.decide(_results())
    assert v.kind == "supported" and "32 vs 16 channels" in v.sentence and "3 seeds" in v.sentence


def test_refuted_when_parameter_gap_differs():
    assert nm.decide(_results(extra=5)).kind == "refuted"


def test_table_and_figure():
    r = _results()
    assert len(nm.table(r).rows) == 2 and nm.figure(r) is not None
