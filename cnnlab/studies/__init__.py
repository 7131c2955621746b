"""Studies: each claim of the classic-CNN curriculum as a controlled, seeded experiment with a verdict.

`list_studies()`, `get_study(id)`, `run(id, profile="quick")` (results and verdict, for notebooks),
`run_studies(...)` (what `cnnlab study run` calls) and `write_report(...)`. Each study lives in its own module and
registers itself when imported here; `list_studies()` gives them in the report's order.
"""

from . import (  # noqa: F401  (each module registers its study; list_studies() gives the report's order)
    activation_depth,
    ap_thresholds,
    batchnorm,
    bottleneck,
    box_loss,
    chain_rule,
    cures,
    dead_relu,
    degradation,
    descent,
    fc_head,
    giou_gradient,
    l1_vs_l2,
    linear_collapse,
    lr_schedule,
    lstm,
    multilabel_head,
    neck_merge,
    norm_batch_size,
    optimizers,
    overfitting_cures,
    pooling_invariance,
    pretraining,
    saturation,
    upsample,
    vanish_explode,
)
from ._base import PROFILES, VERDICTS, Anchor, Context, Requirement, Results, Revision, Study, Table, Verdict
from ._registry import get_study, list_studies, register_study
from .evidence import Judgement, judge, plateaued, reaches, requirement
from .runner import StudyResult, load_reference, load_results, run_studies, run_study

run = run_study

__all__ = [
    "PROFILES",
    "VERDICTS",
    "Anchor",
    "Context",
    "Judgement",
    "Requirement",
    "Results",
    "Revision",
    "Study",
    "StudyResult",
    "Table",
    "Verdict",
    "get_study",
    "judge",
    "list_studies",
    "load_reference",
    "load_results",
    "plateaued",
    "reaches",
    "register_study",
    "requirement",
    "run",
    "run_studies",
    "run_study",
]
