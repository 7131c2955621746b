"""The lr-schedule study's decision rule on synthetic results (one test per verdict kind), table and figures."""

from __future__ import annotations

import matplotlib
import pytest

from cnnlab.studies import Results
from cnnlab.studies import lr_schedule as ls

matplotlib.use("Agg")
SEEDS = (0, 1, 2)


def _results(noise, loss, acc) -> Results:
    """noise/loss/acc: arm -> one value per seed (step copies constant's)."""
    runs = {}
    for arm in ls.ARMS:
        src = "constant" if arm == "step" else arm
        runs[arm] = tuple(
            {"peak_lr": 0.1, "tail_noise": noise[src][k], "final_loss": loss[src][k], "test_accuracy": acc[src][k],
             "epoch_loss": [1.0, 0.1, loss[src][k]], "epoch_lr": [0.1, 0.05, 0.0]}
            for k in range(3)
        )  # fmt: skip
    return Results("lr-schedule", "quick", ls.PROFILES["quick"], SEEDS, runs)


SAME_ACC = {"constant": [0.97, 0.975, 0.972], "cos": [0.971, 0.976, 0.973]}


def test_supported():
    v = ls.decide(_results({"constant": [3e-3, 4e-3, 3.5e-3], "cos": [1e-3, 1.1e-3, 1.2e-3]},
                           {"constant": [3e-2, 2.8e-2, 3.1e-2], "cos": [5e-3, 6e-3, 5.5e-3]}, SAME_ACC))  # fmt: skip
    assert v.kind == "supported"
    assert "3.5e-03 ± 5e-04" in v.sentence and "3 seeds" in v.sentence and "0.1" in v.sentence


def test_refuted_when_constant_ends_lower_and_steadier():
    v = ls.decide(_results({"constant": [3e-4, 2e-4, 4e-4], "cos": [1e-3, 0.9e-3, 1.1e-3]},
                           {"constant": [3e-4, 4e-4, 3.5e-4], "cos": [1.4e-3, 1.3e-3, 1.5e-3]}, SAME_ACC))  # fmt: skip
    assert v.kind == "refuted"
    assert "1.4e-03 ± 1e-04" in v.sentence


def test_nuanced_when_cos_is_steadier_but_loses_test_accuracy():
    acc = {"constant": [0.97, 0.975, 0.972], "cos": [0.93, 0.936, 0.931]}
    v = ls.decide(_results({"constant": [3e-3, 4e-3, 3.5e-3], "cos": [1e-3, 1.1e-3, 1.2e-3]},
                           {"constant": [3e-2, 2.8e-2, 3.1e-2], "cos": [5e-3, 6e-3, 5.5e-3]}, acc))  # fmt: skip
    assert v.kind == "nuanced"
    assert "test accuracy" in v.sentence.split(":")[0]


def test_nuanced_when_steadier_but_not_lower():
    v = ls.decide(_results({"constant": [3e-3, 4e-3, 3.5e-3], "cos": [1e-3, 1.1e-3, 1.2e-3]},
                           {"constant": [3e-4, 4e-4, 3.5e-4], "cos": [1.4e-3, 1.3e-3, 1.5e-3]}, SAME_ACC))  # fmt: skip
    assert v.kind == "nuanced"
    assert v.sentence.startswith("Cosine decay won on steadier end but not on lower final loss")


def test_inconclusive_when_noisy():
    v = ls.decide(_results({"constant": [3e-3, 1e-4, 3.5e-3], "cos": [1e-3, 1.1e-3, 1.2e-3]},
                           {"constant": [3e-2, 1e-4, 3.1e-2], "cos": [5e-3, 6e-3, 5.5e-3]}, SAME_ACC))  # fmt: skip
    assert v.kind == "inconclusive"


def test_table_and_figures():
    r = _results({"constant": [3e-3] * 3, "cos": [1e-3] * 3}, {"constant": [3e-2] * 3, "cos": [5e-3] * 3}, SAME_ACC)
    t = ls.table(r)
    assert [row[0] for row in t.rows] == list(ls.ARMS) and t.rows[0][1] == "0.1"
    assert len(ls.figure(r)) == 2
    import matplotlib.pyplot as plt

    plt.close("all")


def test_step_arm_decays_twice_within_the_run():
    cfg = ls._config(type("C", (), {"__getitem__": lambda self, k: {"epochs": 20, "width": 8}[k]})(), "step", 0.1)
    assert cfg["step_size"] * 2 < 20 <= cfg["step_size"] * 3
    assert cfg["step_size"] == pytest.approx(7)
