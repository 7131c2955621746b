import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.layers import Bottleneck, Conv2d, create_block
from cnnlab.models import create, format_summary, summarize

# torchvision's published operation counts (GMACs, its "GFLOPS" column) for 224×224 inputs.
PUBLISHED_GMACS = {
    "alexnet": 0.714,
    "vgg11": 7.609,
    "vgg16": 15.47,
    "vgg19": 19.632,
    "googlenet": 1.498,
    "resnet18": 1.814,
    "resnet34": 3.664,
    "resnet50": 4.089,
    "resnet101": 7.801,
    "resnet152": 11.514,
    "densenet121": 2.834,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMACS))
def test_macs_match_published_figures(name):
    with torch.device("meta"):
        summary = summarize(create(name))
    digits = len(str(PUBLISHED_GMACS[name]).split(".")[1])
    assert round(summary.macs / 1e9, digits) == PUBLISHED_GMACS[name]


def test_conv_macs_and_params_formula():
    conv = Conv2d(3, 8, 3, padding=1, stride=2)
    s = summarize(conv, (3, 32, 32))
    assert s.output_shape == (8, 16, 16)
    assert s.macs == 8 * 16 * 16 * 3 * 3 * 3
    assert s.params == 8 * 3 * 3 * 3 + 8


def test_bottleneck_rows_reproduce_the_note():
    s = summarize(Bottleneck(256, 64, 256, norm=None, bias=False), (256, 56, 56), name="bottleneck")
    conv_rows = [r for r in s.layers if r.type == "Conv2d"]
    assert [r.params for r in conv_rows] == [1 * 1 * 256 * 64, 3 * 3 * 64 * 64, 1 * 1 * 64 * 256]
    assert [r.output_shape for r in conv_rows] == [(64, 56, 56), (64, 56, 56), (256, 56, 56)]
    assert s.params == 69_632
    assert s.macs == 69_632 * 56 * 56
    text = format_summary(s)
    assert text.splitlines()[0] == "bottleneck  (input 256×56×56)"
    assert "69,632" in text.splitlines()[-1]


def test_rows_add_up_to_the_totals_and_depth_groups():
    model = create("resnet20")
    flat = summarize(model)
    assert sum(r.params for r in flat.layers) == flat.params == 269_722
    assert sum(r.macs for r in flat.layers) == flat.macs
    grouped = summarize(model, depth=2)
    assert [r.name for r in grouped.layers] == [
        "features.stem", "features.layer1", "features.layer2", "features.layer3",
        "head.pool", "head.flatten", "head.hidden", "head.fc",
    ]  # fmt: skip
    assert sum(r.params for r in grouped.layers) == flat.params
    assert sum(r.macs for r in grouped.layers) == flat.macs
    assert grouped.layers[3].output_shape == (64, 8, 8)


def test_weight_norm_layers_are_counted_once():
    model = create("resnet20", norm="weight")
    s = summarize(model)
    assert sum(r.params for r in s.layers) == s.params
    assert any(r.type == "Conv2d+WN" for r in s.layers)


def test_summary_restores_training_mode_and_returns_plain_data():
    model = create("lenet5").train()
    s = summarize(model)
    assert model.training
    d = s.to_dict()
    assert d["params"] == 61_706 and d["input_shape"] == (1, 32, 32)
    with pytest.raises(AttributeError):
        s.params = 0  # frozen


def test_summary_needs_a_shape_for_plain_modules():
    with pytest.raises(ConfigError, match="input_shape"):
        summarize(create_block("basic_block", 8))
    with pytest.raises(ConfigError, match="depth"):
        summarize(create("lenet5"), depth=0)
