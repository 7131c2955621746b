"""The NumPy reference's channel statistics equal cnnlab.data's, a constant channel included."""

import numpy as np
import torch

from cnnlab.data.dataset import channel_stats as torch_channel_stats
from cnnlab.scratch.data import channel_stats


def test_channel_stats_match_the_data_package_and_a_constant_channel_gets_std_1():
    rng = np.random.default_rng(0)
    images = rng.random((5, 3, 4, 4)).astype(np.float32)
    images[:, 1] = 0.25  # one colour everywhere: std 0
    mean, std = channel_stats(images)
    expected_mean, expected_std = torch_channel_stats(torch.from_numpy(images))
    assert np.allclose(mean, expected_mean, rtol=0, atol=1e-12) and np.allclose(std, expected_std, rtol=0, atol=1e-12)
    assert std[1] == 1.0 and mean[1] == 0.25 and 0 < std[0] < 1
