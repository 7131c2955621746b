import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.layers import (
    BasicBlock,
    Bottleneck,
    ConvNormAct,
    DenseBlock,
    DenseLayer,
    Inception,
    Transition,
    ZeroPadShortcut,
    create_block,
    resolve_residual,
)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_the_notes_bottleneck_arithmetic():
    bottleneck = Bottleneck(256, 64, 256, norm=None, bias=False)
    two_convs = BasicBlock(256, 256, norm=None, bias=False)
    assert n_params(bottleneck) == 1 * 1 * 256 * 64 + 3 * 3 * 64 * 64 + 1 * 1 * 64 * 256 == 69_632
    assert n_params(two_convs) == 3 * 3 * 256 * 256 * 2 == 1_179_648
    assert round(n_params(two_convs) / n_params(bottleneck), 2) == 16.94


def test_bottleneck_default_expands_four_times():
    block = Bottleneck(64, 64)
    assert block(torch.randn(2, 64, 8, 8)).shape == (2, 256, 8, 8)
    assert isinstance(block.shortcut, ConvNormAct)  # 64 → 256 needs a projection


@pytest.mark.parametrize("block_cls", [BasicBlock, Bottleneck])
def test_residual_adds_the_identity(block_cls):
    block = block_cls(16, 4 if block_cls is Bottleneck else 16, residual="identity").eval()
    x = torch.randn(2, 16, 6, 6)
    assert isinstance(block.shortcut, nn.Identity)
    torch.testing.assert_close(block(x), F.relu(block.body(x) + x))


@pytest.mark.parametrize("block_cls", [BasicBlock, Bottleneck])
def test_no_residual_is_the_plain_block(block_cls):
    block = block_cls(16, 4 if block_cls is Bottleneck else 16, residual="none").eval()
    x = torch.randn(2, 16, 6, 6)
    assert block.shortcut is None and block.add is None
    torch.testing.assert_close(block(x), F.relu(block.body(x)))


def test_projection_when_shapes_change_and_everywhere_on_request():
    block = BasicBlock(16, 32, stride=2, residual="identity")
    assert isinstance(block.shortcut, ConvNormAct)
    assert block.shortcut.conv.kernel_size == (1, 1) and block.shortcut.conv.stride == (2, 2)
    assert isinstance(BasicBlock(16, 16, residual="projection").shortcut, ConvNormAct)
    assert block(torch.randn(2, 16, 8, 8)).shape == (2, 32, 4, 4)


def test_zero_pad_shortcut_is_option_a():
    block = BasicBlock(16, 32, stride=2, residual="zero_pad")
    assert isinstance(block.shortcut, ZeroPadShortcut)
    assert n_params(block.shortcut) == 0
    x = torch.randn(2, 16, 8, 8)
    out = block.shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2])
    assert torch.equal(out[:, 16:], torch.zeros(2, 16, 4, 4))
    with pytest.raises(ConfigError, match="cannot reduce channels"):
        ZeroPadShortcut(8, 4, 1)


def test_residual_aliases_and_unknown():
    assert resolve_residual(True) == "identity"
    assert resolve_residual(False) == "none"
    with pytest.raises(ConfigError, match="unknown residual mode 'skip'"):
        BasicBlock(4, 4, residual="skip")


def test_zero_init_last_starts_as_the_shortcut():
    block = BasicBlock(8, 8)
    block.zero_init_last()
    block.eval()
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(block(x), F.relu(x))


def test_inception_concatenates_four_branches():
    block = Inception(192, 64, 96, 128, 16, 32, 32)
    out = block(torch.randn(2, 192, 28, 28))
    assert out.shape == (2, 64 + 128 + 32 + 32, 28, 28)
    paper = Inception(192, 64, 96, 128, 16, 32, 32, c5_kernel=5)
    torchvision_like = Inception(192, 64, 96, 128, 16, 32, 32, c5_kernel=3)
    assert n_params(paper) - n_params(torchvision_like) == 16 * 32 * (25 - 9)


def test_dense_layer_keeps_its_input_and_stacks_new_channels():
    layer = DenseLayer(24, 12)
    x = torch.randn(2, 24, 8, 8)
    out = layer(x)
    assert out.shape == (2, 36, 8, 8)
    assert torch.equal(out[:, :24], x)  # concatenation, not addition
    block = DenseBlock(4, 24, 12)
    assert block(x).shape == (2, 24 + 4 * 12, 8, 8) and block.out_channels == 72
    assert Transition(72, 36)(block(x)).shape == (2, 36, 4, 4)


@pytest.mark.parametrize(("name", "out_channels"), [("basic_block", 64), ("bottleneck", 64), ("inception", 256)])
def test_create_block_from_input_channels(name, out_channels):
    block = create_block(name, 64)
    assert block(torch.randn(2, 64, 8, 8)).shape[1] == out_channels
    assert create_block("dense_layer", 64, growth_rate=8)(torch.randn(1, 64, 4, 4)).shape[1] == 72


def test_create_block_errors():
    with pytest.raises(ConfigError, match="unknown block 'bottle'"):
        create_block("bottle", 64)
    with pytest.raises(ConfigError, match="block 'bottleneck' takes no argument 'resdual'; did you mean 'residual'"):
        create_block("bottleneck", 64, resdual="none")
