"""The multilabel-head study's label rules and copies (exact), its decision rule on synthetic results, table and
figure."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from cnnlab.data import TensorDataset
from cnnlab.studies import Results
from cnnlab.studies import multilabel_head as ml

matplotlib.use("Agg")


def test_one_label_per_copy_repeats_each_image_per_label():
    images = torch.arange(3, dtype=torch.float32).view(3, 1, 1, 1).expand(3, 1, 2, 2).contiguous()
    targets = torch.tensor([[1.0, 0, 1], [0, 1, 0], [1, 1, 1]])
    data = TensorDataset(images, targets, ("a", "b", "c"), mean=(0.5,), std=(0.2,))
    copies = ml.one_label_per_copy(data)
    assert copies.targets.tolist() == [0, 2, 1, 0, 1, 2]
    assert copies.images[:, 0, 0, 0].tolist() == [0, 0, 1, 2, 2, 2]
    assert not copies.multilabel and copies.mean == (0.5,)
    assert ml.softmax_epochs(8, 3, 6) == 4 and ml.softmax_epochs(1, 3, 9) == 1


def test_softmax_rule_and_oracle():
    probs = torch.tensor([[0.5, 0.45, 0.05], [0.9, 0.05, 0.05], [0.34, 0.33, 0.33]])
    assert ml.softmax_labels(probs).tolist() == [[True, True, False], [True, False, False], [True, True, True]]
    targets = torch.tensor([[1.0, 0, 0], [1, 1, 0], [0, 0, 1]])
    assert ml.top_true_count(probs, targets).tolist() == [[True, False, False], [True, True, False],
                                                          [True, False, False]]  # fmt: skip


def test_label_set_metrics():
    targets = torch.tensor([[1.0, 0], [0, 1], [1, 1]])
    predicted = torch.tensor([[True, False], [True, True], [True, True]])
    scores = torch.tensor([[0.9, 0.1], [0.6, 0.8], [0.7, 0.7]])
    m = ml.label_set_metrics(targets, predicted, scores)
    assert m["exact_match"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 1.0) / 2)  # class 0: tp 2, fp 1; class 1: all right
    assert m["mean_predicted"] == pytest.approx(5 / 3)


def _results(sig_f1, soft_f1, sig_single, soft_single, maps=(0.8, 0.7)) -> Results:
    def multi(f1s, m):
        return tuple({"exact_match": f / 2, "macro_f1": f, "map": m, "mean_predicted": 2.0,
                      "oracle_exact_match": f, "steps": 100} for f in f1s)  # fmt: skip

    return Results("multilabel-head", "quick", ml.PROFILES["quick"], (0, 1, 2), {
        "sigmoid": multi(sig_f1, maps[0]),
        "softmax": multi(soft_f1, maps[1]),
        "sigmoid-single": tuple({"test_accuracy": a} for a in sig_single),
        "softmax-single": tuple({"test_accuracy": a, "sum_error": 2e-7} for a in soft_single),
    })  # fmt: skip


GOOD, POOR = [0.80, 0.82, 0.81], [0.60, 0.63, 0.61]


def test_supported_when_sigmoids_win_and_softmax_keeps_up_on_one_label():
    v = ml.decide(_results(GOOD, POOR, [0.90, 0.91, 0.92], [0.91, 0.915, 0.925]))
    assert v.kind == "supported"
    assert "81.0 ± 1.0% with sigmoids" in v.sentence and "3 seeds" in v.sentence and "2e-07" in v.sentence


def test_refuted_when_softmax_matches_on_sets_and_loses_on_one_label():
    v = ml.decide(_results(GOOD, [0.801, 0.819, 0.811], [0.90, 0.91, 0.92], [0.80, 0.81, 0.805]))
    assert v.kind == "refuted"


def test_nuanced_when_only_the_single_label_part_holds():
    v = ml.decide(_results(POOR, GOOD, [0.90, 0.91, 0.92], [0.91, 0.915, 0.925]))
    assert v.kind == "nuanced"
    assert "single-label part" in v.sentence


def test_inconclusive_when_noisy():
    noisy = ml.decide(_results([0.80, 0.60, 0.75], [0.65, 0.78, 0.70], [0.90, 0.91, 0.92], [0.91, 0.915, 0.925]))
    assert noisy.kind == "inconclusive"


def test_competence_gates_the_verdict():
    from cnnlab.studies import get_study, judge

    study = get_study("multilabel-head")
    study._check_evidence()
    untrained = judge(study, _results(GOOD, POOR, [0.90, 0.91, 0.92], [0.91, 0.915, 0.925], maps=(0.4, 0.3)))
    assert untrained.verdict.kind == "inconclusive" and untrained.measured.kind == "supported"
    assert untrained.verdict.sentence.startswith("Undertrained:") and "40.0%" in untrained.verdict.sentence
    single = judge(study, _results(GOOD, POOR, [0.80, 0.81, 0.82], [0.81, 0.815, 0.825], maps=(0.9, 0.8)))
    assert single.verdict.sentence.startswith("Undertrained:") and "one-shape sigmoid net" in single.verdict.sentence
    learned = judge(study, _results(GOOD, POOR, [0.90, 0.91, 0.92], [0.91, 0.915, 0.925], maps=(0.9, 0.8)))
    assert learned.competent and learned.verdict.kind == "supported"


def test_table_and_figure():
    r = _results(GOOD, POOR, [0.90, 0.91, 0.92], [0.91, 0.915, 0.925])
    rows = ml.table(r).rows
    assert [row[0] for row in rows] == ["sigmoid", "softmax", "sigmoid", "softmax"]
    fig = ml.figure(r)
    assert fig.axes[0].get_ylim() == (0, 100)
