import pytest

from cnnlab.studies import _registry

from _toy_study import make


@pytest.fixture
def toy(monkeypatch):
    """The toy study, registered for this test only."""
    study = make()
    monkeypatch.setitem(_registry._STUDIES, "toy", study)
    return study
