"""The fc-head study's decision rule on synthetic results, its table and figure."""

from __future__ import annotations

import matplotlib

from cnnlab.studies import Results
from cnnlab.studies import fc_head as fh

matplotlib.use("Agg")


def _results(fc: list[float], gap: list[float]) -> Results:
    def runs(acc, head_params):
        return tuple({"test_accuracy": a, "train_accuracy": a + 0.1, "gap": 0.1, "params": 9000,
                      "head_params": head_params} for a in acc)  # fmt: skip

    return Results("fc-head", "quick", fh.PROFILES["quick"], (0, 1, 2), {"fc": runs(fc, 2890), "gap": runs(gap, 330)})


def test_supported_when_the_fc_head_is_clearly_better():
    v = fh.decide(_results([0.80, 0.82, 0.81], [0.60, 0.63, 0.61]))
    assert v.kind == "supported"
    assert "81.0 ± 1.0% vs" in v.sentence and "3 seeds" in v.sentence and "2,890 vs 330" in v.sentence


def test_nuanced_when_the_heads_are_equivalent():
    v = fh.decide(_results([0.800, 0.810, 0.820], [0.801, 0.809, 0.821]))
    assert v.kind == "nuanced"
    assert "added no accuracy" in v.sentence


def test_refuted_when_global_average_pooling_is_better():
    assert fh.decide(_results([0.60, 0.62, 0.61], [0.80, 0.83, 0.81])).kind == "refuted"


def test_inconclusive_when_noisy():
    v = fh.decide(_results([0.80, 0.60, 0.75], [0.65, 0.78, 0.70]))
    assert v.kind == "inconclusive"
    assert "95% CI" in v.sentence


def test_table_and_figure():
    r = _results([0.80, 0.82, 0.81], [0.60, 0.63, 0.61])
    t = fh.table(r)
    assert t.rows[0][:3] == ("fc", "9,000", "2,890")
    fig = fh.figure(r)
    assert fig.axes[0].get_ylabel() == "accuracy (%)"


def test_competence_gates_the_verdict():
    from cnnlab.studies import get_study, judge

    study = get_study("fc-head")
    study._check_evidence()
    undertrained = judge(study, _results([0.80, 0.82, 0.81], [0.60, 0.63, 0.61]))  # the FC net below 90%
    assert undertrained.verdict.kind == "inconclusive"
    assert undertrained.verdict.sentence.startswith("Undertrained:")
    assert undertrained.measured.kind == "supported"
    learned = judge(study, _results([0.950, 0.960, 0.970], [0.951, 0.959, 0.971]))
    assert learned.competent and learned.verdict.kind == "nuanced"
    assert len(learned.comparisons) == 2 and all(c.agrees for c in learned.comparisons)
