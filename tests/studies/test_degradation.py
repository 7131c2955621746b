"""The degradation study's decision rule on synthetic results, its table and figures, its thin CIFAR ResNet and
its gradient-ratio callback."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

import cnnlab
from cnnlab.engine import TrainState
from cnnlab.studies import Results, get_study
from cnnlab.studies import degradation as deg
from cnnlab.studies._base import Context
from cnnlab.studies._common import digit_data, fit
from cnnlab.studies.evidence import judge

matplotlib.use("Agg")

SHALLOW_ERR = [0.03, 0.04, 0.035]


FLAT = [2.0, 0.5, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]  # the last 20% of epochs change the loss by 0%


def _run(layers: int, err: float, loss: float = 0.1, ratio: float = 1.0, first: float = 2.3, curve=FLAT) -> dict:
    return {
        "layers": layers,
        "train_error": err,
        "train_loss": loss,
        "test_error": err + 0.01,
        "grad_ratio": ratio,
        "grad_ratio_init": 4 * ratio,
        "steps": 138,
        "first_loss": first,
        "loss_curve": [2.0, 1.0, 0.5, loss],
        "epoch_train_loss": list(curve),
        "epoch_train_error": [0.5, 0.1, err],
    }


def _results(plain_deep: list[float], resnet_deep: list[float], *, deep_loss: float = 0.1, ratio: float = 1.0,
             deep_first: float = 2.3, curve=FLAT):  # fmt: skip
    runs = {
        "plain-shallow": tuple(_run(8, e) for e in SHALLOW_ERR),
        "plain-deep": tuple(_run(20, e, 0.9, ratio, deep_first, curve) for e in plain_deep),
        "resnet-shallow": tuple(_run(8, e) for e in SHALLOW_ERR),
        "resnet-deep": tuple(_run(20, e, deep_loss) for e in resnet_deep),
    }
    return Results("degradation", "quick", deg.PROFILES["quick"], (0, 1, 2), runs)


DEGRADED = [0.30, 0.25, 0.40]  # +22 to +37 pts over the shallow plain net
NOT_DEGRADED = [0.025, 0.035, 0.03]  # −0.5 pts on average, within noise


def test_supported_when_plain_degrades_and_resnet_does_not():
    v = deg.decide(_results(DEGRADED, NOT_DEGRADED))
    assert v.kind == "supported"
    assert "plain-8 3.5 ± 0.5% vs plain-20 31.7 ± 7.6%" in v.sentence
    assert "ResNet-8 3.5 ± 0.5% vs ResNet-20 3.0 ± 0.5%" in v.sentence
    assert "3 seeds" in v.sentence and "95% CI" in v.sentence
    assert v.number == "plain +28.2 pts, ResNet -0.5 pts"


def test_nuanced_when_the_deep_plain_gradient_vanishes():
    v = deg.decide(_results(DEGRADED, NOT_DEGRADED, ratio=0.01))
    assert v.kind == "nuanced"
    assert "vanishing" in v.sentence and "0.01" in v.sentence


def test_nuanced_when_the_resnet_degrades_too():
    v = deg.decide(_results(DEGRADED, [0.15, 0.12, 0.18]))
    assert v.kind == "nuanced"
    assert "degraded too" in v.sentence and "ResNet-20 15.0 ± 3.0%" in v.sentence


def test_refuted_when_the_deep_plain_net_trains_as_well():
    v = deg.decide(_results([0.03, 0.035, 0.03], NOT_DEGRADED))
    assert v.kind == "refuted"
    assert "plain-20 3.2 ± 0.3%" in v.sentence


def test_inconclusive_when_the_deep_resnet_does_not_train():
    v = deg.decide(_results(DEGRADED, NOT_DEGRADED, deep_loss=1.5))
    assert v.kind == "inconclusive"
    assert "did not train" in v.sentence and "1.50" in v.sentence


def test_inconclusive_when_the_resnet_gap_is_too_noisy():
    # ResNet gap +2.0 pts with a spread of 4.6 pts: neither below the 3-point margin nor surely above it
    v = deg.decide(_results(DEGRADED, [0.01, 0.10, 0.055]))
    assert v.kind == "inconclusive"
    assert "Too noisy" in v.sentence


def test_inconclusive_when_the_plain_gap_is_too_noisy():
    v = deg.decide(_results([0.02, 0.30, 0.04], NOT_DEGRADED))
    assert v.kind == "inconclusive"


def test_table_and_figures():
    r = _results(DEGRADED, NOT_DEGRADED)
    t = deg.table(r)
    assert t.columns[0] == "arm" and len(t.rows) == 4
    assert t.rows[1][:3] == ("plain-deep", "20", "31.7 ± 7.6")
    figs = deg.figure(r)
    assert len(figs) == 2
    assert figs[1].axes[0].get_ylabel() == "final training error (%)"


def test_chunk_means():
    assert deg._chunk_means([1.0, 2.0, 3.0, 4.0, 5.0], 2) == [1.5, 3.5, 5.0]


def test_cifar_resnet_matches_the_zoo_and_its_plain_twin():
    wide = cnnlab.create("cifar_resnet", depth=20)
    assert sum(p.numel() for p in wide.parameters()) == 269_722  # the zoo's resnet20
    torch.manual_seed(0)
    res = cnnlab.create("cifar_resnet", depth=14, widths=(4, 8, 16), residual="zero_pad", in_channels=1)
    torch.manual_seed(0)
    plain = cnnlab.create("cifar_resnet", depth=14, widths=(4, 8, 16), residual="none", in_channels=1)
    for a, b in zip(res.state_dict().values(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # option-A shortcuts hold no weights: same initial weights under one seed
    x = torch.randn(2, 1, 8, 8)
    assert not torch.allclose(res.eval()(x), plain.eval()(x))  # yet they compute different functions
    with pytest.raises(cnnlab.errors.ConfigError):
        cnnlab.create("cifar_resnet", depth=10)


def test_gradient_ratio_is_first_over_last_relative_gradient():
    torch.set_num_threads(1)
    train, _ = digit_data(Context("quick", {}))
    small = train.subset(torch.arange(64), "digits-64")
    ratio = deg.GradientRatio(every=1)
    result = fit(Context("quick", {}), 0, (small, small), callbacks=[ratio], model="cifar_resnet",
                 model_kwargs={"depth": 8, "widths": (2, 2, 2), "in_channels": 1, "input_size": 8}, epochs=1,
                 batch_size=32, optimizer="sgd", lr=0.01)  # fmt: skip
    assert result.steps == 2 and len(ratio.ratios) == 2
    assert all(math.isfinite(v) and v > 0 for v in ratio.ratios)
    model = result.model
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert ratio._first is convs[0] and ratio._last is convs[-1]


def test_gradient_ratio_exact():
    model = cnnlab.create("cifar_resnet", depth=8, widths=(2, 2, 2), in_channels=1)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv in convs:
        conv.weight.grad = torch.zeros_like(conv.weight)
    convs[0].weight.grad = 0.3 * convs[0].weight.detach()  # relative gradient 0.3
    convs[-1].weight.grad = 1.5 * convs[-1].weight.detach()  # relative gradient 1.5
    state = TrainState(model, torch.optim.SGD(model.parameters(), lr=0.1))
    ratio = deg.GradientRatio(every=2)
    ratio.on_train_start(state)
    for step in range(3):  # samples steps 0 and 2
        state.step = step
        ratio.on_after_backward(state)
    assert ratio.ratios == pytest.approx([0.2, 0.2])


def test_judge_keeps_the_rule_when_converged_fitted_and_starting_alike():
    r = _results(DEGRADED, NOT_DEGRADED)
    j = judge(deg.STUDY, r)
    assert j.competent and j.premise_met
    assert j.verdict == deg.decide(r) and j.verdict.kind == "supported"
    assert len(j.checks) == 3  # converged, shallow fits (quick's), same start


def test_judge_undertrained_when_the_deep_plain_loss_is_still_falling():
    falling = [2.0, 1.5, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]  # −33% over the last 20% of epochs
    j = judge(deg.STUDY, _results(DEGRADED, NOT_DEGRADED, curve=falling))
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")
    assert "plain-20 33%" in j.verdict.sentence and "supported" in j.verdict.sentence  # what the rule alone read
    assert j.comparisons[0].agrees is None and "before convergence" in j.comparisons[0].here


def test_a_fitted_training_set_counts_as_converged():
    tiny = [2.0, 0.1, 0.05, 0.02, 0.01, 0.008, 0.006, 0.005, 0.004, 0.002]  # −50%, but below 0.01 nats
    assert deg._converged(_results(DEGRADED, NOT_DEGRADED, curve=tiny))[0]


def test_judge_undertrained_when_the_shallow_net_does_not_fit():
    r = _results(DEGRADED, NOT_DEGRADED)
    runs = dict(r.runs, **{"plain-shallow": tuple(_run(8, e) for e in (0.2, 0.25, 0.3))})
    j = judge(deg.STUDY, Results(r.study, r.profile, r.params, r.seeds, runs))
    assert j.verdict.sentence.startswith("Undertrained:")
    assert "the shallow plain net reached 25.0%" in j.verdict.sentence


def test_judge_premise_absent_when_the_deep_plain_net_starts_higher():
    j = judge(deg.STUDY, _results(DEGRADED, NOT_DEGRADED, deep_first=3.0))
    assert j.competent and not j.premise_met
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Premise absent:")
    assert "gap +0.70" in j.verdict.sentence


def test_literature_and_revisions():
    j = judge(deg.STUDY, _results(DEGRADED, NOT_DEGRADED))
    assert [c.agrees for c in j.comparisons] == [True, True]
    assert "plain-20 − plain-8 final training error +28.2 pts" in j.comparisons[0].here
    refuted = judge(deg.STUDY, _results([0.03, 0.035, 0.03], NOT_DEGRADED))
    assert refuted.comparisons[0].agrees is False and "Unlike He, Zhang" in refuted.verdict.sentence
    assert deg.STUDY.revisions[0].before.startswith("supported, quick")
    get_study("degradation")._check_evidence()
