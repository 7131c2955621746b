import pytest
from _toy_study import make

from cnnlab.studies import _registry


@pytest.fixture
def toy(monkeypatch):
    """The toy study, registered for this test only."""
    study = make()
    monkeypatch.setitem(_registry._STUDIES, "toy", study)
    return study
