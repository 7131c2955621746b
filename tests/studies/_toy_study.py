"""A toy study for the framework's tests: fast, deterministic, and it can die on request.

usage: python _toy_study.py OUT [KILL_AFTER]   runs every unit of 'toy' into OUT; with KILL_AFTER = k the process
SIGKILLs itself while the (k+1)-th unit runs, after k units have been written. With CNNLAB_TOY_SLEEP = s, each unit
sleeps s seconds first (a slow study, to stop or kill mid-run).
"""

from __future__ import annotations

import os
import signal
import sys
import time

from cnnlab.studies import Results, Study, Table, Verdict, get_study, list_studies, reaches, register_study
from cnnlab.studies.stats import POSITIVE, effect

CALLS_ENV = "CNNLAB_TOY_CALLS"  # a file that each run appends its (arm, seed) to
KILL_ENV = "CNNLAB_TOY_KILL_AFTER"
SLEEP_ENV = "CNNLAB_TOY_SLEEP"
PROFILES = {"quick": {"scale": 1.0}, "full": {"scale": 1.0, "more": True}}


def run(arm, seed, ctx):
    calls = os.environ.get(CALLS_ENV)
    done = 0
    if calls:
        with open(calls, "a+", encoding="utf-8") as f:
            f.seek(0)
            done = len(f.read().splitlines())
            f.write(f"{arm} {seed}\n")
    kill = os.environ.get(KILL_ENV)
    if kill is not None and done >= int(kill):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(os.environ.get(SLEEP_ENV, 0)))
    base = 1.0 if arm == "treated" else 0.0
    return {"score": base * ctx["scale"] + 0.01 * seed, "curve": [seed, seed + 1.5], "nan": float("nan")}


def decide(r: Results) -> Verdict:
    e = effect(r.values("treated", "score"), r.values("control", "score"), 0.5)
    kind = "supported" if e.direction == POSITIVE else "inconclusive"
    return Verdict(kind, f"treated − control = {e.interval.format(digits=2)}", f"{e.mean:.2f}")


def table(r: Results) -> Table:
    return Table(("arm", "score"), tuple((a, f"{r.values(a, 'score').mean():.2f}") for a in r.arms))


# The treated arm "learned" when its score reaches 0.5 (half of what scale 1 gives it); the claim's premise is a
# control that stays below 0.5.
COMPETENCE = reaches("competence", {"treated": "the treated arm"}, "score", at_least=0.5, what="score", scale=1,
                     unit="", digits=2, basis="scale 1 gives it 1.0")  # fmt: skip
PREMISE = reaches("premise", {"control": "the control arm"}, "score", at_most=0.5, what="score", scale=1, unit="",
                  digits=2, basis="untreated, it has no score of its own")  # fmt: skip


def make(**changes) -> Study:
    fields = dict(id="toy", title="Toy", topic="testing", claim="treated beats control", question="does it?",
                  design="two arms", rule="positive effect ≥ 0.5", arms=("control", "treated"), profiles=PROFILES,
                  run=run, decide=decide, table=table, requirements=(COMPETENCE, PREMISE))  # fmt: skip
    fields.update(changes)
    return Study(**fields)


def ensure_registered() -> Study:
    return get_study("toy") if "toy" in list_studies() else register_study(make())


STUDY = ensure_registered()  # importing the module registers it, as with cnnlab's own studies

if __name__ == "__main__":
    from cnnlab.studies import run_studies

    if len(sys.argv) > 2:
        os.environ[KILL_ENV] = sys.argv[2]
    run_studies(["toy"], out=sys.argv[1], seeds=4)
