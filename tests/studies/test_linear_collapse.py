"""The linear-collapse study's product map, its decision rule and its evidence on synthetic results."""

from __future__ import annotations

import pytest
import torch

from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import linear_collapse as lc
from cnnlab.studies._base import Context

WOBBLE = (-0.005, 0.0, 0.005)  # per-seed shift, shared by the arms (paired)


def _results(relu=0.98, linear=0.61, logistic=0.61, collapse=2e-7) -> Results:
    def arm(acc: float, linear_net: bool) -> tuple[dict, ...]:
        extra = {"collapse_error": collapse, "rank": 2} if linear_net else {}
        return tuple({"test_accuracy": acc + w, "train_loss": 0.5, **extra} for w in WOBBLE)

    runs = {"linear": arm(linear, True), "relu": arm(relu, False), "logistic": arm(logistic, True)}
    return Results("linear-collapse", "quick", lc.PROFILES["quick"], (0, 1, 2), runs)


def test_product_map_is_the_network():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Linear(5, 3), torch.nn.Linear(3, 2)).double()
    a, b = lc.product_map(model)
    x = torch.randn(7, 2, dtype=torch.float64)
    assert torch.allclose(model(x), x @ a.T + b)


def test_supported_refuted_and_nuanced():
    assert lc.decide(_results()).kind == "supported"
    assert lc.decide(_results(relu=0.62)).kind == "refuted"  # ReLU adds nothing
    assert lc.decide(_results(collapse=1e-2)).kind == "refuted"  # not one affine map
    assert lc.decide(_results(linear=0.70)).kind == "nuanced"  # the linear MLP beats softmax regression


def test_judged_with_competence():
    met = judge(lc.STUDY, _results())
    assert met.competent and met.verdict.kind == "supported"
    assert [c.agrees for c in met.comparisons] == [True, True]
    under = judge(lc.STUDY, _results(relu=0.90))  # the ReLU net did not separate the spirals
    assert under.verdict.kind == "inconclusive" and under.verdict.sentence.startswith("Undertrained:")
    assert "90.0%" in under.verdict.sentence
    assert "supported" in under.verdict.sentence  # what the rule alone would have read


def test_declares_its_evidence():
    study = get_study("linear-collapse")
    study._check_evidence()
    assert study.trains and len(study.literature) == 2
    assert study.requirements[0].text.startswith("the ReLU MLP reaches ≥ 95.0%")


@pytest.mark.parametrize("arm", ["linear", "relu"])
def test_short_runs(arm):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tiny = {**lc.PROFILES["quick"], "n_train": 200, "n_test": 200, "epochs": 2}
        n = lc.run(arm, 0, Context("quick", tiny))
    finally:
        torch.set_num_threads(threads)
    assert 0 <= n["test_accuracy"] <= 1
    assert ("collapse_error" in n) == (arm == "linear")
    if arm == "linear":
        assert n["collapse_error"] <= lc.COLLAPSE_TOL and n["rank"] == 2
