"""small_cnn's ablation switches: each changes only the part it names."""

import pytest
import torch

from cnnlab import create
from cnnlab.errors import ConfigError


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_default_parameter_count():
    assert n_params(create("small_cnn")) == 33_946


def test_switches_change_only_what_they_name():
    base = create("small_cnn", input_size=24, widths=(8, 16, 32))
    stride = create("small_cnn", input_size=24, widths=(8, 16, 32), downsample="stride")
    none = create("small_cnn", input_size=24, widths=(8, 16, 32), downsample="none")
    gap = create("small_cnn", input_size=24, widths=(8, 16, 32), head="gap")
    assert n_params(stride) == n_params(base) == 8_978  # stride-2 convs shrink the map as the pools do
    assert n_params(none) - n_params(base) == 32 * (24 * 24 - 3 * 3) * 10  # only the FC layer grows
    assert n_params(base) - n_params(gap) == 32 * (3 * 3 - 1) * 10
    x = torch.randn(2, 3, 24, 24)
    for model in (base, stride, none, gap):
        assert model(x).shape == (2, 10)
    assert none.forward_features(x).shape == (2, 32, 24, 24)
    assert stride.forward_features(x).shape == (2, 32, 3, 3)


def test_block_stages_keep_their_channels():
    basic = create("small_cnn", input_size=16, widths=(16, 16), unit="basic")
    bott = create("small_cnn", input_size=16, widths=(16, 16), unit="bottleneck")
    conv_weights = [sum(m.weight.numel() for m in net.features.modules() if isinstance(m, torch.nn.Conv2d))
                    for net in (basic, bott)]  # fmt: skip
    stem = 3 * 16 * 9
    assert conv_weights[0] - stem == 2 * (2 * 9 * 16 * 16)  # two blocks of two 3×3 convs
    assert conv_weights[1] - stem == 2 * (16 * 4 + 9 * 4 * 4 + 4 * 16)  # two blocks of 1×1, 3×3, 1×1
    with pytest.raises(ConfigError, match="equal widths"):
        create("small_cnn", widths=(16, 32), unit="basic")
    with pytest.raises(ConfigError, match="downsample must be one of"):
        create("small_cnn", downsample="avg")
    with pytest.raises(ConfigError, match="divisible by 8"):
        create("small_cnn", input_size=28, downsample="stride")
