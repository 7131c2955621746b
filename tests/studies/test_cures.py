"""The cures study: its decision rule on synthetic results (one test per verdict kind), its arms, the residual MLP
it trains, its table and figures, and two short real runs."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from cnnlab import create
from cnnlab.studies import Results, get_study
from cnnlab.studies import cures as cu
from cnnlab.studies._base import Context
from cnnlab.studies.evidence import judge

matplotlib.use("Agg")

JITTER = (-0.004, 0.0, 0.004)  # per-seed wobble of test accuracy, identical across arms unless an arm adds noise


def _arm(acc: float, noise=(0.0, 0.0, 0.0), diverged: bool = False) -> tuple[dict, ...]:
    return tuple(
        {
            "test_accuracy": acc + j + e,
            "diverged": diverged,
            "steps_to_target": None if acc + j + e < cu.TARGET else 46,
            "first_grad_norm": 2700.0 if diverged else 1.5,
            "first_layer_norms": [1e-6, 1e-4, 1e-2, 1.0],
            "log_depth_ratio_start": -5.9,
            "log_depth_ratio_median": None if diverged else -5.0,
        }
        for j, e in zip(JITTER, noise, strict=True)
    )


def _results(vanish: float, explode: float, cures: dict[str, float], noise=(0.0, 0.0, 0.0)) -> Results:
    """Baselines at `vanish` and `explode` accuracy; `cures` maps 'net+cure' to accuracy (absent arms: baseline)."""
    runs = {}
    for net, base in (("vanish", vanish), ("explode", explode)):
        runs[net] = _arm(base, diverged=net == "explode" and base < cu.FAIL_ACC)
        for cure in cu.CURES[net]:
            arm = f"{net}+{cure}"
            runs[arm] = _arm(cures[arm], noise) if arm in cures else _arm(base)
    return Results("cures", "quick", cu.PROFILES["quick"], (0, 1, 2), runs)


def test_arms():
    assert cu.ARMS[0] == "vanish" and cu.ARMS[8] == "explode" and len(cu.ARMS) == 15
    assert "explode+relu" not in cu.ARMS  # the exploding net is already a ReLU net
    assert set(cu.CLAIMED) <= set(cu.CURES["vanish"]) and "init" not in cu.CLAIMED


def test_supported_when_every_claimed_cure_cures_and_the_relu_net_learns():
    r = _results(0.10, 0.90, {f"vanish+{c}": 0.90 for c in cu.CURES["vanish"]})
    v = cu.decide(r)
    assert v.kind == "supported"
    assert "did not fail (explode net 90.0 ± 0.4% test accuracy)" in v.sentence
    assert "relu on vanish 80.0 pts (95% CI 80.0 to 80.0 pts)" in v.sentence and "3 seeds" in v.sentence
    assert v.number == "6/6 claimed cures cured a net"


def test_nuanced_when_some_cures_cure_and_relu_nets_explode():
    cures = {"vanish+batchnorm": 0.96, "explode+batchnorm": 0.96, "explode+clip": 0.80, "vanish+residual": 0.90}
    v = cu.decide(_results(0.10, 0.10, cures))
    assert v.kind == "nuanced"
    assert "ReLU does not end exploding gradients" in v.sentence and "diverged in 3/3 seeds" in v.sentence
    assert "cured: clip on explode 70.0 pts" in v.sentence
    assert "cured none: pretrain on vanish 0.0 pts" in v.sentence
    assert "clip on vanish" not in v.sentence.split("cured none")[0]  # only the net it cured is listed as cured
    assert v.number == "3/6 claimed cures cured a net"


def test_refuted_when_no_cure_cures_and_the_relu_net_explodes():
    v = cu.decide(_results(0.10, 0.10, {}))
    assert v.kind == "refuted"
    assert v.sentence.startswith("No claimed cure cured a failing net, and ReLU does not end exploding gradients")


def test_inconclusive_without_a_failing_net():
    v = cu.decide(_results(0.90, 0.92, {}))
    assert v.kind == "inconclusive"
    assert "Neither net failed" in v.sentence and "90.0 ± 0.4%" in v.sentence


def test_inconclusive_when_the_cures_are_noisy_and_relu_nets_learn():
    cures = {f"{net}+{c}": 0.30 for net in cu.NETS for c in cu.CURES[net]}
    r = _results(0.10, 0.60, cures, noise=(-0.25, 0.0, 0.25))
    assert {cu.cure_part(r, c) for c in cu.CLAIMED} == {cu.UNDECIDED}
    v = cu.decide(r)
    assert v.kind == "inconclusive"
    assert "undecided: pretrain on vanish" in v.sentence


def test_a_cure_is_judged_only_on_nets_that_fail():
    r = _results(0.10, 0.90, {"explode+clip": 0.10})  # clipping ruins the working ReLU net, does nothing on vanish
    assert cu.cure_part(r, "clip") == cu.FAILS  # judged on the vanishing net alone: no gain
    assert cu.fails(r, "vanish") and not cu.fails(r, "explode")


def test_each_arm_changes_one_thing():
    ctx = Context("quick", cu.PROFILES["quick"])
    for net in cu.NETS:
        base = cu.arm_config(net, ctx)
        for cure in cu.CURES[net]:
            config = cu.arm_config(f"{net}+{cure}", ctx)
            changed = {k for k in base.keys() | config.keys() if base.get(k) != config.get(k)} - {"lr"}
            assert len(changed) == 1, (net, cure, changed)
    assert cu.arm_config("explode", ctx)["init"] == "he:2.0" and cu.arm_config("vanish", ctx)["act"] == "sigmoid"
    with pytest.raises(ValueError, match="no arm"):
        cu.arm_config("explode+relu", ctx)


def test_residual_mlp_starts_from_the_mlp_weights_and_adds_its_input():
    torch.manual_seed(1)
    plain = create("mlp", depth=3, width=8, input_size=4, act="sigmoid")
    torch.manual_seed(1)
    res = create("mlp", depth=3, width=8, input_size=4, act="sigmoid", residual=True)
    for a, b in zip(plain.parameters(), res.parameters(), strict=True):
        assert torch.equal(a, b)
    x = torch.randn(5, 1, 4, 4)
    h1 = res.features[1](res.features[0](x))
    layer = res.features[2]
    assert torch.allclose(layer(h1), h1 + layer.body(h1))
    assert res(x).shape == (5, 10)


def test_two_short_runs():
    rates = {arm: 0.1 for arm in cu.ARMS}
    exploded = cu.run("explode", 0, Context("quick", {"depth": 8, "width": 32, "epochs": 1, "lr": rates}))
    assert exploded["diverged"] and exploded["test_accuracy"] == pytest.approx(0.1)
    assert exploded["first_grad_norm"] > 10 and exploded["steps_to_target"] is None
    vanished = cu.run("vanish", 0, Context("quick", {"depth": 2, "width": 16, "epochs": 1, "lr": rates}))
    assert not vanished["diverged"]
    assert len(vanished["first_layer_norms"]) == 3  # 2 hidden layers and the head
    assert vanished["log_depth_ratio_start"] < 0  # the first layer gets less gradient than the head


def test_table_ranks_and_figures():
    cures = {"vanish+batchnorm": 0.96, "vanish+residual": 0.90, "explode+clip": 0.80}
    r = _results(0.10, 0.10, cures)
    assert cu.ranked(r, "vanish")[:2] == ["batchnorm", "residual"]
    t = cu.table(r)
    assert len(t.rows) == 15
    assert t.rows[1][:2] == ("vanish+batchnorm", "1") and t.rows[1][-1] == "cures"
    assert t.rows[8][-2:] == ("3/3", "failing net")
    figs = cu.figure(r)
    assert len(figs) == 2 and all(len(f.axes) == 2 for f in figs)
    for fig in figs:
        matplotlib.pyplot.close(fig)


def test_every_arm_has_a_tuned_rate_from_the_grid():
    for name in ("quick", "full"):
        rates = cu.PROFILES[name]["lr"]
        assert set(rates) == set(cu.ARMS) and set(rates.values()) <= set(cu.LR_GRID)
    assert cu.TUNING_SEED not in (*range(5), *range(100, 105))  # never a measured seed
    ctx = Context("quick", cu.PROFILES["quick"])
    assert cu.arm_config("explode+init", ctx)["lr"] == cu.TUNED_LR["explode+init"]


NUANCED = {"vanish+batchnorm": 0.96, "explode+batchnorm": 0.96, "explode+clip": 0.80, "explode+init": 0.96}


def test_judge_keeps_the_rule_when_the_reference_learns_and_both_nets_fail_as_claimed():
    r = _results(0.10, 0.10, NUANCED)
    j = judge(cu.STUDY, r)
    assert j.competent and j.premise_met
    assert j.verdict == cu.decide(r) and j.verdict.kind == "nuanced"
    assert [c.agrees for c in j.comparisons] == [True, True]


def test_judge_undertrained_when_the_he_init_net_does_not_learn():
    j = judge(cu.STUDY, _results(0.10, 0.10, {**NUANCED, "explode+init": 0.80}))
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Undertrained:")
    assert "the ReLU net at He init (the standard MLP) reached 80.0%" in j.verdict.sentence


def test_judge_premise_absent_when_the_sigmoid_gradients_do_not_vanish():
    r = _results(0.10, 0.10, NUANCED)
    runs = dict(r.runs, vanish=tuple({**run, "log_depth_ratio_start": -0.5} for run in r.runs["vanish"]))
    j = judge(cu.STUDY, Results(r.study, r.profile, r.params, r.seeds, runs))
    assert j.verdict.kind == "inconclusive" and j.verdict.sentence.startswith("Premise absent:")
    assert "log10 depth ratio at the first step was -0.5" in j.verdict.sentence


def test_judge_premise_absent_when_the_gain_2_net_does_not_explode():
    r = _results(0.10, 0.10, NUANCED)
    runs = dict(r.runs, explode=tuple({**run, "first_grad_norm": 3.0} for run in r.runs["explode"]))
    j = judge(cu.STUDY, Results(r.study, r.profile, r.params, r.seeds, runs))
    assert j.verdict.sentence.startswith("Premise absent:") and "×2 that of the He-init net" in j.verdict.sentence


def test_evidence_is_declared():
    get_study("cures")._check_evidence()
    assert cu.STUDY.version == 2 and cu.STUDY.revisions[0].before.startswith("nuanced, quick")
