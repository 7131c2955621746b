"""The bottleneck study's exact counts, its decision rule on synthetic results, table and figure."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from cnnlab.studies import Results
from cnnlab.studies import bottleneck as bn

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models are fastest on one thread (and do not spin on a shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_block_counts_are_exact():
    assert bn.block_counts("bottleneck") == (69_632, 218_365_952)
    assert bn.block_counts("basic_block") == (1_179_648, 3_699_376_128)
    assert 1_179_648 == 3 * 3 * 256 * 256 * 2
    assert 69_632 == 256 * 64 + 3 * 3 * 64 * 64 + 64 * 256


def test_step_times_measure_both_nets():
    times = bn.step_times({"image_size": 16, "width": 8}, seed=0)
    assert set(times) == {"step_ms_basic", "step_ms_bottleneck"}
    assert all(t > 0 for t in times.values())


def _results(basic: list[float], bott: list[float], params=(1_179_648, 69_632)) -> Results:
    def runs(acc, block_params, block_macs, extra):
        return tuple({"test_accuracy": a, "params": 5000, "conv_weights": 4000, "block_params": block_params,
                      "block_macs": block_macs, **extra} for a in acc)  # fmt: skip

    timing = {"step_ms_basic": 25.0, "step_ms_bottleneck": 17.0}
    return Results("bottleneck", "quick", bn.PROFILES["quick"], (0, 1, 2), {
        "basic": runs(basic, params[0], 3_699_376_128, {}),
        "bottleneck": runs(bott, params[1], 218_365_952, timing),
    })  # fmt: skip


def test_supported_when_the_loss_is_ruled_out():
    v = bn.decide(_results([0.80, 0.82, 0.81], [0.80, 0.815, 0.805]))
    assert v.kind == "supported"
    assert "16.94× fewer" in v.sentence and "69,632" in v.sentence and "3 seeds" in v.sentence


def test_nuanced_when_accuracy_drops_clearly():
    v = bn.decide(_results([0.80, 0.82, 0.81], [0.70, 0.71, 0.705]))
    assert v.kind == "nuanced"
    assert "Only the parameter cut held" in v.sentence


def test_refuted_when_both_parts_fail():
    v = bn.decide(_results([0.80, 0.82, 0.81], [0.70, 0.71, 0.705], params=(100_000, 50_000)))
    assert v.kind == "refuted"


def test_inconclusive_when_the_cost_is_uncertain():
    v = bn.decide(_results([0.80, 0.60, 0.75], [0.65, 0.78, 0.70]))
    assert v.kind == "inconclusive"
    assert "95% CI" in v.sentence


def test_table_and_figure():
    r = _results([0.80, 0.82, 0.81], [0.80, 0.815, 0.805])
    rows = bn.table(r).rows
    assert rows[0][1] == "1,179,648" and rows[1][1] == "69,632" and rows[1][-1] == "17.00 ± 0.00"
    fig = bn.figure(r)
    assert len(fig.axes) == 2


def test_competence_gates_the_verdict():
    from cnnlab.studies import get_study, judge

    study = get_study("bottleneck")
    study._check_evidence()
    r = _results([0.76, 0.75, 0.77], [0.85, 0.86, 0.84])
    undertrained = judge(study, r)
    assert undertrained.verdict.kind == "inconclusive"
    assert undertrained.verdict.sentence.startswith("Undertrained:") and "basic-block net reached 76.0%" in (
        undertrained.verdict.sentence
    )
    learned = judge(study, _results([0.975, 0.985, 0.98], [0.98, 0.99, 0.985]))
    assert learned.competent and learned.verdict.kind == learned.measured.kind == "supported"
