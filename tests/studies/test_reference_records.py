"""The committed reference results cannot go stale or be faked: every record was measured under the current
design, deciding the records again gives the committed verdicts, and the cheapest units of studies that train,
measured again, give the committed numbers bit for bit (on the CPU, with one torch thread, as they were measured;
measured times excepted)."""

import json
from pathlib import Path

import pytest
import torch

from cnnlab.errors import CnnlabError
from cnnlab.studies import get_study, list_studies, load_reference
from cnnlab.studies.cache import Unit
from cnnlab.studies.runner import run_unit

REFERENCE = Path(__file__).parents[2] / "results" / "reference"
MNIST = Path(__file__).parents[3] / "shared" / "data" / "mnist-t10k"  # beside the clone, where it exists
RECORDS = sorted(REFERENCE.glob("*/full/*/seed-*.json"))
VERDICTS = sorted(REFERENCE.glob("*/full/verdict.json"))
needs_records = pytest.mark.skipif(not RECORDS, reason="no reference results committed under results/reference")


def _record(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@needs_records
def test_every_committed_record_was_measured_under_the_current_design():
    stale = []
    for path in RECORDS:
        record = _record(path)
        assert record["study"] in list_studies(), f"{path}: no study {record['study']!r}"
        study = get_study(record["study"])
        if record["digest"] != study.digest("full", real_data=record["real_data"]):
            stale.append(f"{study.id} ({path.relative_to(REFERENCE)})")
    assert not stale, "design changed without re-running the reference: " + ", ".join(sorted(set(stale))[:10])


@needs_records
def test_deciding_the_committed_records_gives_the_committed_verdicts():
    committed = {_record(p)["study"]: _record(p) for p in VERDICTS}
    results = {r.study.id: r for r in load_reference(REFERENCE)}
    assert set(committed) == set(results), "every decided study has its verdict.json and no other"
    for study_id, result in results.items():
        saved = committed[study_id]
        assert list(result.results.seeds) == saved["seeds"], study_id
        assert result.verdict.kind == saved["verdict"]["kind"], study_id
        assert result.verdict.sentence == saved["verdict"]["sentence"], study_id
        assert [c.met for c in result.checks] == [c["met"] for c in saved["checks"]], study_id


def _cheapest() -> list[dict]:
    """The committed units of studies that train, one per study, cheapest first. A unit that read a training
    another study shared with it (shared_hit 1: its seconds are those of reading it back) is passed over: measured
    again without the cache, it would train all of it. (Tuning runs read back are not recorded; a unit measured
    again runs its own, seconds for the cheap studies chosen here.)"""
    units, seen = [], set()
    for record in sorted((_record(p) for p in RECORDS), key=lambda r: r["seconds"]):
        if record["study"] in seen or record["numbers"].get("shared_hit") == 1 or not get_study(record["study"]).trains:
            continue
        seen.add(record["study"])
        units.append(record)
    return units


@pytest.fixture(scope="module")
def measured_again(tmp_path_factory) -> list[tuple[dict, dict]]:
    """(committed record, the same unit measured again now) for the 3 cheapest units this machine can measure: the
    reference run names MNIST's folder for every study, and where it is absent (a clone without it beside), an
    empty folder stands in and the studies that read MNIST are passed over."""
    empty = tmp_path_factory.mktemp("no-mnist")
    data_dir = MNIST if MNIST.is_dir() else empty
    threads = torch.get_num_threads()
    pairs = []
    try:
        for record in _cheapest():
            torch.set_num_threads(record["environment"]["torch_threads"])
            unit = Unit(record["study"], "full", record["arm"], record["seed"])
            try:
                again = run_unit(get_study(unit.study), unit, data_dir=str(data_dir) if record["real_data"] else None)
            except CnnlabError as exc:
                if data_dir is MNIST or "MNIST" not in str(exc):
                    raise
                continue  # it reads MNIST
            pairs.append((record, json.loads(json.dumps(again["numbers"]))))  # as stored: JSON
            if len(pairs) == 3:
                break
    finally:
        torch.set_num_threads(threads)
    return pairs


@needs_records
@pytest.mark.parametrize("rank", range(3))
def test_the_cheapest_units_measured_again_give_the_committed_numbers(rank, measured_again):
    if rank >= len(measured_again):
        pytest.skip(f"only {len(measured_again)} committed units of studies that train can be measured here")
    record, numbers = measured_again[rank]
    assert _deterministic(numbers) == _deterministic(record["numbers"]), (record["study"], record["arm"])


def _deterministic(numbers: dict) -> dict:
    """The numbers that must repeat bit for bit. Left out: measured times (keys ending in 'seconds' or '_ms': the
    step time of this machine at that moment, e.g. descent's per-step cost, pretraining's CPU time) and
    'shared_hit' (whether a shared training was read back depends on the cache, not on the training)."""
    return {k: v for k, v in numbers.items() if not (k.endswith(("seconds", "_ms")) or k == "shared_hit")}
