"""The study registry: `register_study`, `get_study`, `list_studies` (in the order of the curriculum)."""

from __future__ import annotations

from ..errors import ConfigError, unknown_name
from ._base import Study

_STUDIES: dict[str, Study] = {}

# The report's order: from descent and optimizers through architecture, regularization and normalization to the
# activations, the gradient problems and their cures. Studies registered outside cnnlab follow in their own order.
CURRICULUM = (
    "descent", "lr-schedule", "optimizers", "multilabel-head", "bottleneck", "pooling-invariance", "fc-head",
    "overfitting-cures", "l1-vs-l2", "batchnorm", "norm-batch-size", "linear-collapse", "saturation",
    "activation-depth", "dead-relu", "vanish-explode", "cures", "lstm", "pretraining", "degradation", "chain-rule",
    "giou-gradient", "box-loss", "neck-merge", "upsample", "ap-thresholds",
)  # fmt: skip


def register_study(study: Study) -> Study:
    """Add `study` to the registry; a second study with the same id is an error."""
    if study.id in _STUDIES:
        raise ConfigError(f"study {study.id!r} is already registered; pick another id")
    _STUDIES[study.id] = study
    return study


def get_study(study_id: str) -> Study:
    """The study named `study_id`; an unknown id raises ConfigError naming close matches."""
    if study_id not in _STUDIES:
        raise unknown_name("study", study_id, _STUDIES)
    return _STUDIES[study_id]


def list_studies() -> list[str]:
    """The registered ids, in the order the report shows them (`CURRICULUM`, then any others as registered)."""
    rank = {sid: i for i, sid in enumerate(CURRICULUM)}
    return sorted(_STUDIES, key=lambda sid: rank.get(sid, len(rank)))
