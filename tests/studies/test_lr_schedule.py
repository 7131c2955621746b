"""The lr-schedule study's decision rule, requirements and anchors on synthetic results, its table and figures."""

from __future__ import annotations

import matplotlib
import pytest

from cnnlab.studies import Results, get_study, judge
from cnnlab.studies import lr_schedule as ls

matplotlib.use("Agg")
SEEDS = (0, 1, 2)
FLAT = [1.0, 0.5, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]  # reaches its floor and stays there
FALLING = [1.0, 0.5, 0.25, 0.12, 0.06, 0.03, 0.015, 0.008, 0.004, 0.002]  # halves every epoch


def _results(noise, loss, acc, *, interp=None, curve=FLAT, floor_acc=None) -> Results:
    """noise/loss/acc: 'constant'/'cos' -> one value per seed for the floor regime (its step arm copies constant);
    interp: 'constant'/'cos' -> final losses of the interpolated regime (default: equal, ≈ 1e-3)."""
    interp = interp or {"constant": [1e-3, 1.1e-3, 0.9e-3], "cos": [1e-3, 1.1e-3, 0.9e-3]}
    runs = {}
    for arm in ls.ARMS:
        regime, schedule = ls.parse_arm(arm)
        src = "constant" if schedule == "step" else schedule
        rows = []
        for k in range(3):
            if regime == "floor":
                row = {"tail_noise": noise[src][k], "final_loss": loss[src][k], "test_accuracy": acc[src][k],
                       "epoch_loss": curve}  # fmt: skip
                if floor_acc is not None:
                    row["test_accuracy"] = floor_acc
            else:
                row = {"tail_noise": 1e-4, "final_loss": interp[src][k], "test_accuracy": 0.97,
                       "epoch_loss": FALLING}  # fmt: skip
            rows.append({"peak_lr": 0.1, "epoch_lr": [0.1] * 10, **row})
        runs[arm] = tuple(rows)
    return Results("lr-schedule", "quick", ls.PROFILES["quick"], SEEDS, runs)


SAME_ACC = {"constant": [0.94, 0.945, 0.942], "cos": [0.941, 0.946, 0.943]}
STEADIER = {"constant": [3e-3, 4e-3, 3.5e-3], "cos": [1e-3, 1.1e-3, 1.2e-3]}
LOWER = {"constant": [3e-2, 2.8e-2, 3.1e-2], "cos": [5e-3, 6e-3, 5.5e-3]}


def test_nuanced_when_decay_helps_only_with_a_noise_floor():
    v = ls.decide(_results(STEADIER, LOWER, SAME_ACC))
    assert v.kind == "nuanced"
    assert v.sentence.startswith("Cosine decay ended lower and steadier where SGD has a noise floor, but not where")
    assert "3.5e-03 ± 5e-04" in v.sentence and "3 seeds" in v.sentence


def test_supported_when_decay_helps_in_both_regimes():
    interp = {"constant": [3e-3, 3.2e-3, 2.9e-3], "cos": [5e-4, 6e-4, 5.5e-4]}
    v = ls.decide(_results(STEADIER, LOWER, SAME_ACC, interp=interp))
    assert v.kind == "supported"
    assert "and also where the task is interpolated" in v.sentence


def test_refuted_when_constant_ends_lower_and_steadier_even_with_a_floor():
    v = ls.decide(_results({"constant": [3e-4, 2e-4, 4e-4], "cos": [1e-3, 0.9e-3, 1.1e-3]},
                           {"constant": [3e-4, 4e-4, 3.5e-4], "cos": [1.4e-3, 1.3e-3, 1.5e-3]}, SAME_ACC))  # fmt: skip
    assert v.kind == "refuted"
    assert v.sentence.startswith("Even with a noise floor")


def test_nuanced_when_cos_is_steadier_but_loses_test_accuracy():
    acc = {"constant": [0.97, 0.975, 0.972], "cos": [0.93, 0.936, 0.931]}
    v = ls.decide(_results(STEADIER, LOWER, acc))
    assert v.kind == "nuanced"
    assert "but not on test accuracy" in v.sentence


def test_inconclusive_when_noisy():
    v = ls.decide(_results({"constant": [3e-3, 1e-4, 3.5e-3], "cos": [1e-3, 1.1e-3, 1.2e-3]},
                           {"constant": [3e-2, 1e-4, 3.1e-2], "cos": [5e-3, 6e-3, 5.5e-3]}, SAME_ACC))  # fmt: skip
    assert v.kind == "inconclusive"


def test_floor_fall_reads_flat_and_falling_curves():
    assert ls.floor_fall(_results(STEADIER, LOWER, SAME_ACC)) == pytest.approx(0.0)
    assert ls.floor_fall(_results(STEADIER, LOWER, SAME_ACC, curve=FALLING)) > 0.5


def test_judge_all_requirements_met_keeps_the_rule():
    r = _results(STEADIER, LOWER, SAME_ACC)
    j = judge(ls.STUDY, r)
    assert j.competent and j.premise_met
    assert j.verdict.kind == "nuanced" and j.verdict.sentence.startswith("Cosine decay ended lower")


def test_judge_undertrained_is_inconclusive():
    r = _results(STEADIER, LOWER, SAME_ACC, floor_acc=0.6)
    j = judge(ls.STUDY, r)
    assert j.verdict.kind == "inconclusive"
    assert j.verdict.sentence.startswith("Undertrained:") and "60.0%" in j.verdict.sentence


def test_judge_premise_absent_when_the_floor_regime_still_falls():
    r = _results(STEADIER, LOWER, SAME_ACC, curve=FALLING)
    j = judge(ls.STUDY, r)
    assert j.competent and not j.premise_met
    assert j.verdict.kind == "inconclusive"
    assert j.verdict.sentence.startswith("Premise absent:") and "fell by 74%" in j.verdict.sentence


def test_judge_premise_absent_when_the_floor_is_zero():
    low = {"constant": [1e-3, 1.1e-3, 1.2e-3], "cos": [1e-4, 1.1e-4, 1.2e-4]}
    j = judge(ls.STUDY, _results(STEADIER, low, SAME_ACC))
    assert not j.premise_met and j.verdict.sentence.startswith("Premise absent:")


def test_anchors_compare():
    j = judge(ls.STUDY, _results(STEADIER, LOWER, SAME_ACC))
    agrees = {c.anchor.source.split(",")[0]: c.agrees for c in j.comparisons}
    assert agrees == {"He": True, "Mandt": True, "Ma": True}


def test_evidence_is_declared():
    get_study("lr-schedule")._check_evidence()
    assert {r.kind for r in ls.STUDY.requirements} == {"competence", "premise"}


def test_table_and_figures():
    r = _results(STEADIER, LOWER, SAME_ACC)
    t = ls.table(r)
    assert [row[0] for row in t.rows] == list(ls.ARMS) and t.rows[0][1] == "0.1"
    assert len(ls.figure(r)) == 2
    import matplotlib.pyplot as plt

    plt.close("all")


def test_step_arm_decays_twice_within_the_run():
    cfg = ls._config(20, 8, "step", 0.1)
    assert cfg["step_size"] * 2 < 20 <= cfg["step_size"] * 3
    assert cfg["step_size"] == pytest.approx(7)
    assert cfg["model_kwargs"] == {"depth": 2, "width": 8}
