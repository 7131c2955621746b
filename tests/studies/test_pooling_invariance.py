"""The pooling-invariance study's transforms (exact on pixel grids), decision rule, table and figure."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from cnnlab.studies import Results
from cnnlab.studies import pooling_invariance as pi

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models are fastest on one thread (and do not spin on a shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_affine_shifts_rotates_and_scales_exactly_on_the_grid():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    zero, no_shift = torch.zeros(2), torch.zeros(2, 2)
    assert torch.allclose(pi.affine(x, zero, 1.0, no_shift), x, atol=1e-4)
    right = pi.affine(x, zero, 1.0, torch.tensor([[2.0, 0.0], [2.0, 0.0]]))
    assert torch.allclose(right[..., 2:], x[..., :-2], atol=1e-4)  # content moved 2 px right
    assert torch.allclose(right[..., :2], x[..., :1].expand(-1, -1, -1, 2), atol=1e-4)  # border pixels fill in
    down = pi.affine(x, zero, 1.0, torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    assert torch.allclose(down[..., 1:, :], x[..., :-1, :], atol=1e-4)
    turned = pi.affine(x, torch.full((2,), 90.0), 1.0, no_shift)
    assert torch.allclose(turned, torch.rot90(x, 1, (2, 3)), atol=1e-4)  # counter-clockwise
    big = pi.affine(x, zero, 2.0, no_shift)
    assert big[..., 2:4, 2:4].std() < x[..., 2:4, 2:4].std()  # the centre stretched: neighbours closer in value


def test_transforms_are_the_same_for_every_call_with_the_same_generator():
    x = torch.rand(8, 3, 16, 16)
    for family in pi.FAMILIES:
        t = pi.make_transform(family, pi.MAGNITUDES[family][-1])
        a = t(x, torch.Generator().manual_seed(4))
        b = t(x, torch.Generator().manual_seed(4))
        assert torch.equal(a, b) and a.shape == x.shape and not torch.equal(a, x)


def _run(gap: float, agreements: dict[str, float] | None, params: int) -> dict:
    run = {"test_accuracy": 0.9, "train_accuracy": 0.9 + gap, "gap": gap, "params": params, "head_params": 10}
    if agreements is not None:
        for fam, a in agreements.items():
            run[f"{fam}_agreement"] = [a] * 4
            run[f"{fam}_similarity"] = [0.9] * 4
            run[f"{fam}_mean_agreement"] = a
    return run


def _results(gaps: dict[str, list[float]], agree: dict[str, dict[str, list[float]]]) -> Results:
    params = {"max": 7378, "stride": 7378, "none": 88018}
    runs = {}
    for arm in pi.ARMS:
        rows = []
        for k in range(3):
            a = None if arm == "none" else {fam: agree[arm][fam][k] for fam in pi.FAMILIES}
            rows.append(_run(gaps[arm][k], a, params[arm]))
        runs[arm] = tuple(rows)
    return Results("pooling-invariance", "quick", pi.PROFILES["quick"], (0, 1, 2), runs)


STEADY = {fam: [0.80, 0.81, 0.82] for fam in pi.FAMILIES}
SHAKY = {fam: [0.60, 0.61, 0.62] for fam in pi.FAMILIES}
GAPS_HOLD = {"max": [0.02, 0.03, 0.02], "stride": [0.03] * 3, "none": [0.10, 0.11, 0.10]}
GAPS_EQUAL = {"max": [0.02, 0.03, 0.02], "stride": [0.03] * 3, "none": [0.021, 0.029, 0.021]}


def test_supported_when_every_part_holds():
    v = pi.decide(_results(GAPS_HOLD, {"max": STEADY, "stride": SHAKY}))
    assert v.kind == "supported"
    assert "11.9×" in v.sentence and "3 seeds" in v.sentence and "95% CI" in v.sentence


def test_refuted_when_every_part_fails():
    v = pi.decide(_results(GAPS_EQUAL, {"max": SHAKY, "stride": SHAKY}))
    assert v.kind == "refuted"


def test_nuanced_names_the_parts():
    rotate_same = dict(STEADY, rotate=[0.60, 0.61, 0.62])
    v = pi.decide(_results(GAPS_EQUAL, {"max": rotate_same, "stride": SHAKY}))
    assert v.kind == "nuanced"
    assert "holds for shift, scale but not for overfitting, rotate" in v.sentence


def test_inconclusive_when_a_part_could_tip_it():
    noisy = {"max": [0.02, 0.03, 0.02], "stride": [0.03] * 3, "none": [0.0, 0.12, 0.06]}
    v = pi.decide(_results(noisy, {"max": STEADY, "stride": SHAKY}))
    assert v.kind == "inconclusive"


def test_table_and_figure():
    r = _results(GAPS_HOLD, {"max": STEADY, "stride": SHAKY})
    rows = pi.table(r).rows
    assert rows[0][1] == "7,378" and rows[2][-1] == "—"
    fig = pi.figure(r)
    assert fig.axes[0].get_ylabel() == "predictions unchanged (%)"


def _with_accuracy(r: Results, accuracy: float) -> Results:
    runs = {arm: tuple(dict(run, test_accuracy=accuracy) for run in rows) for arm, rows in r.runs.items()}
    return Results(r.study, r.profile, r.params, r.seeds, runs)


def test_competence_gates_the_verdict():
    from cnnlab.studies import get_study, judge

    study = get_study("pooling-invariance")
    study._check_evidence()
    r = _results(GAPS_HOLD, {"max": STEADY, "stride": SHAKY})
    undertrained = judge(study, _with_accuracy(r, 0.7))
    assert undertrained.verdict.kind == "inconclusive" and undertrained.measured.kind == "supported"
    assert undertrained.verdict.sentence.startswith("Undertrained:") and "unpooled net reached 70.0%" in (
        undertrained.verdict.sentence
    )
    learned = judge(study, _with_accuracy(r, 0.95))
    assert learned.competent and learned.verdict.kind == "supported"
    assert [c.agrees for c in learned.comparisons] == [True, True]  # equal accuracy; 80% kept under a 1-px shift
