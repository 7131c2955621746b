"""The studies' outputs helper (features and logits on a data set) and how the parts of a claim combine."""

from __future__ import annotations

import pytest
import torch

from cnnlab import create
from cnnlab.data import TensorDataset
from cnnlab.studies._nets import FAILS, HOLDS, UNDECIDED, combine, outputs, part
from cnnlab.studies.stats import NEGATIVE, NEGLIGIBLE, POSITIVE, UNCLEAR


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models are fastest on one thread (and do not spin on a shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_outputs_match_the_model_on_normalized_images():
    test = TensorDataset(torch.rand(8, 3, 16, 16), torch.arange(8), tuple("abcdefgh"), mean=(0.2, 0.5, 0.4),
                         std=(0.3, 0.2, 0.1))  # fmt: skip
    model = create("small_cnn", num_classes=8, input_size=16, widths=(8, 16)).eval()
    feats, logits = outputs(model, test, batch=5)
    mean = torch.tensor(test.mean).view(1, -1, 1, 1)
    std = torch.tensor(test.std).view(1, -1, 1, 1)
    with torch.no_grad():
        expected = model((test.images - mean) / std)
    assert torch.allclose(logits, expected, atol=1e-5)
    assert feats.shape == (8, 16 * 4 * 4)
    flipped_feats, _ = outputs(model, test, transform=lambda x, g: x.flip(-1))
    assert not torch.allclose(flipped_feats, feats)


def test_parts_and_their_combination():
    assert part(POSITIVE) == HOLDS
    assert part(NEGLIGIBLE) == part(NEGATIVE) == FAILS
    assert part(UNCLEAR) == UNDECIDED
    assert part(NEGLIGIBLE, holds_if=(POSITIVE, NEGLIGIBLE)) == HOLDS
    assert combine([HOLDS, HOLDS]) == "supported"
    assert combine([FAILS, FAILS]) == "refuted"
    assert combine([HOLDS, FAILS, UNDECIDED]) == "nuanced"
    assert combine([HOLDS, UNDECIDED]) == "inconclusive"
    assert combine([FAILS, UNDECIDED]) == "inconclusive"
