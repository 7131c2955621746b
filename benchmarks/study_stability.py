"""Are the quick verdicts stable? Every study's quick profile on two disjoint seed sets, side by side.

A quick verdict must not depend on which seeds were drawn: each study is run with seeds 0, 1, 2 and with seeds
100, 101, 102 (disjoint), into separate caches, and the two verdict kinds are compared. Also reports, per seed set,
whether the study's nets met their competence requirement ("learned"), the suite's wall time per seed set (what
`make demo` spends on studies) and each study's summed compute time.

    .venv/bin/python benchmarks/study_stability.py                 # all studies, --jobs = cores
    .venv/bin/python benchmarks/study_stability.py descent optimizers --jobs 1
    .venv/bin/python benchmarks/study_stability.py --out runs/stability    # keep (and reuse) the caches

Exits 1 when a verdict differs between the seed sets.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from cnnlab.studies import list_studies, run_studies
from cnnlab.studies._base import Table
from cnnlab.studies.report import rests_on

SEED_SETS = (0, 100)  # first seeds of the two sets; each set has the study's quick seed count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("studies", nargs="*", default=["all"])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", help="cache directory (default: a temporary one, so everything is measured)")
    args = parser.parse_args()
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="cnnlab-stability-"))
    verdicts: dict[int, dict] = {}
    for first in SEED_SETS:
        started = time.perf_counter()
        results = run_studies(args.studies, first_seed=first, jobs=args.jobs, out=root / f"seeds-{first}",
                              progress=sys.stderr.isatty())  # fmt: skip
        wall = time.perf_counter() - started
        verdicts[first] = {r.study.id: r for r in results}
        print(f"seeds {first}–{first + 2}: {len(results)} studies in {wall:.1f} s wall (--jobs {args.jobs})")
    ids = [i for i in list_studies() if all(i in v for v in verdicts.values())]
    rows, differ = [], 0
    for study_id in ids:
        a, b = (verdicts[first][study_id] for first in SEED_SETS)
        same = a.verdict.kind == b.verdict.kind
        differ += not same
        rows.append((study_id, a.verdict.kind, a.verdict.number, rests_on(a), b.verdict.kind, b.verdict.number,
                     rests_on(b), "yes" if same else "NO", f"{a.seconds:.1f} s"))  # fmt: skip
    header = ("study", "seeds 0–2", "deciding number", "learned", "seeds 100–102", "deciding number", "learned",
              "same", "compute")  # fmt: skip
    print(Table(header, tuple(rows)).format())
    print(f"{len(ids) - differ} of {len(ids)} verdicts agree")
    for first in SEED_SETS:
        trained = [verdicts[first][i] for i in ids if verdicts[first][i].study.trains]
        print(f"seeds {first}–{first + 2}: {sum(r.competent for r in trained)} of {len(trained)} studies that train "
              "met their competence requirements")  # fmt: skip
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
