"""Trainings shared by studies or arms: computed once per cache, keyed by their configuration and seed."""

import json
import subprocess
import sys
import textwrap

from cnnlab.studies import Context
from cnnlab.studies._common import shared
from cnnlab.studies.cache import SHARED, shared_key, shared_numbers


def test_one_computation_serves_every_caller_with_the_same_config_and_seed(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"map": 0.5 + len(calls)}

    config = {"model": "tinydet", "epochs": 3}
    first, hit = shared_numbers(tmp_path, "detector", config, 0, compute)
    assert (first, hit) == ({"map": 1.5}, False)
    again, hit = shared_numbers(tmp_path, "detector", dict(reversed(config.items())), 0, compute)
    assert (again, hit) == ({"map": 1.5}, True) and len(calls) == 1  # key order does not matter
    assert shared_numbers(tmp_path, "detector", config, 1, compute) == ({"map": 2.5}, False)  # another seed
    assert shared_numbers(tmp_path, "detector", {**config, "epochs": 4}, 0, compute)[0] == {"map": 3.5}
    record = json.loads((tmp_path / SHARED / "detector" / shared_key(config) / "seed-0.json").read_text())
    assert record["config"] == config and record["numbers"] == {"map": 1.5} and record["seconds"] >= 0
    assert shared_numbers(None, "detector", config, 0, compute) == ({"map": 4.5}, False)  # no cache: computed


def test_a_damaged_record_is_computed_again(tmp_path):
    config = {"a": 1}
    shared_numbers(tmp_path, "k", config, 0, lambda: {"x": 1})
    (tmp_path / SHARED / "k" / shared_key(config) / "seed-0.json").write_text("{oops")
    assert shared_numbers(tmp_path, "k", config, 0, lambda: {"x": 2}) == ({"x": 2}, False)


def test_the_context_adds_device_and_data_and_marks_hits(tmp_path):
    ctx = Context("quick", {}, cache_dir=str(tmp_path))
    assert shared(ctx, "k", {"a": 1}, 0, lambda: {"x": 1}) == {"x": 1, "shared_hit": 0}
    assert shared(ctx, "k", {"a": 1}, 0, lambda: {"x": 2}) == {"x": 1, "shared_hit": 1}
    real = Context("quick", {}, cache_dir=str(tmp_path), data_dir="/data")
    assert shared(real, "k", {"a": 1}, 0, lambda: {"x": 3}) == {"x": 3, "shared_hit": 0}  # real data: another key


def test_two_processes_at_once_compute_it_once(tmp_path):
    """The second process waits on the first's lock, then reads its record."""
    script = textwrap.dedent(f"""
        import sys, time
        from cnnlab.studies.cache import shared_numbers
        def compute():
            with open({str(tmp_path / "calls")!r}, "a") as f:
                f.write("x")
            time.sleep(1.0)
            return {{"v": 7}}
        numbers, hit = shared_numbers({str(tmp_path / "out")!r}, "k", {{"a": 1}}, 0, compute)
        print(numbers["v"], hit)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = sorted(p.communicate(timeout=120)[0].split() for p in procs)
    assert outs == [["7", "False"], ["7", "True"]]
    assert (tmp_path / "calls").read_text() == "x"
