"""Classification metrics against scikit-learn."""

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from cnnlab.errors import ConfigError, ShapeError
from cnnlab.metrics import (
    accuracy,
    average_precision,
    confusion_matrix,
    multilabel_average_precision,
    multilabel_precision_recall_f1,
    pr_curve,
    precision_recall_f1,
    top_k_accuracy,
)

TOL = 1e-12


def problem(seed, n=300, classes=6):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, n)
    scores = rng.normal(size=(n, classes)) + 1.5 * np.eye(classes)[targets]  # better than chance
    return targets, scores


@pytest.mark.parametrize("seed", range(3))
def test_accuracy_top_k_and_confusion_matrix(seed):
    targets, scores = problem(seed)
    predictions = scores.argmax(1)
    assert accuracy(targets, scores) == pytest.approx(sk.accuracy_score(targets, predictions), abs=TOL)
    assert accuracy(torch.tensor(targets), torch.tensor(predictions)) == sk.accuracy_score(targets, predictions)
    for k in (1, 2, 5):
        expected = sk.top_k_accuracy_score(targets, scores, k=k, labels=range(6))
        assert top_k_accuracy(targets, scores, k=k) == pytest.approx(expected, abs=TOL)
    tied = np.round(scores)  # many ties: the order among equal scores must be sklearn's too
    assert top_k_accuracy(targets, tied, k=2) == sk.top_k_accuracy_score(targets, tied, k=2, labels=range(6))
    np.testing.assert_array_equal(confusion_matrix(targets, predictions), sk.confusion_matrix(targets, predictions))
    np.testing.assert_array_equal(
        confusion_matrix(targets[:5], predictions[:5], num_classes=6),
        sk.confusion_matrix(targets[:5], predictions[:5], labels=range(6)),
    )


def assert_report(report, y_true, y_pred, labels, zero_division=0.0):
    per_class = sk.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=zero_division)
    for got, want in zip((report.precision, report.recall, report.f1, report.support), per_class, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    for average in ("macro", "micro", "weighted"):
        want = sk.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=zero_division
        )[:3]
        got = [getattr(report, f"{average}_{name}") for name in ("precision", "recall", "f1")]
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL, err_msg=average)


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_precision_recall_f1(zero_division):
    targets, scores = problem(4)
    predictions = scores.argmax(1)
    predictions[predictions == 5] = 0  # class 5 is never predicted: 0/0 precision
    report = precision_recall_f1(targets, predictions, num_classes=7, zero_division=zero_division)  # 6: absent
    assert_report(report, targets, predictions, list(range(7)), zero_division)


def test_multilabel_with_per_class_thresholds():
    rng = np.random.default_rng(5)
    targets = rng.random((200, 5)) < [0.1, 0.3, 0.5, 0.7, 0.05]
    scores = rng.random((200, 5)) * 0.7 + 0.3 * targets
    thresholds = np.array([0.3, 0.5, 0.5, 0.6, 0.9])
    report = multilabel_precision_recall_f1(targets.astype(int), torch.tensor(scores), thresholds=thresholds)
    assert_report(report, targets, scores >= thresholds, list(range(5)))
    single = multilabel_precision_recall_f1(targets, scores, thresholds=0.5)
    assert_report(single, targets, scores >= 0.5, list(range(5)))


def test_pr_curve_and_average_precision_with_ties():
    rng = np.random.default_rng(6)
    targets = rng.random(500) < 0.3
    scores = np.round(rng.random(500) * 0.8 + 0.2 * targets, 2)  # ties
    curve = pr_curve(targets, scores)
    precision, recall, thresholds = sk.precision_recall_curve(targets, scores)
    np.testing.assert_allclose(curve.precision, precision, rtol=0, atol=TOL)
    np.testing.assert_allclose(curve.recall, recall, rtol=0, atol=TOL)
    np.testing.assert_array_equal(curve.thresholds, thresholds)
    assert average_precision(targets, scores) == pytest.approx(sk.average_precision_score(targets, scores), abs=TOL)
    assert average_precision(torch.tensor(targets), torch.tensor(scores)) == pytest.approx(
        sk.average_precision_score(targets, scores), abs=TOL
    )


def test_multilabel_average_precision():
    rng = np.random.default_rng(7)
    targets = (rng.random((300, 4)) < [0.1, 0.3, 0.5, 0.8]).astype(int)
    scores = rng.random((300, 4)) + 0.4 * targets
    result = multilabel_average_precision(targets, scores)
    np.testing.assert_allclose(result.per_class, sk.average_precision_score(targets, scores, average=None), atol=TOL)
    for average in ("macro", "micro", "weighted"):
        want = sk.average_precision_score(targets, scores, average=average)
        assert getattr(result, average) == pytest.approx(want, abs=TOL), average


def test_bad_input():
    with pytest.raises(ShapeError, match="one entry per example, got 3 and 2"):
        accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ShapeError, match="integer class labels"):
        accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ConfigError, match=r"labels must lie in \[0, 2\)"):
        confusion_matrix([0, 1, 2], [0, 1, 1], num_classes=2)
    with pytest.raises(ConfigError, match="must be 0/1"):
        average_precision([0, 2], [0.1, 0.2])
