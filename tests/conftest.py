import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _restore_threads():
    """A test may pin torch to one thread; the next test gets the count back (bit-exact comparisons with runs in
    subprocesses, such as the resume tests, need the same thread count on both sides)."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
