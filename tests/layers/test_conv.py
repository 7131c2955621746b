import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ShapeError
from cnnlab.layers import Conv2d, ConvNormAct, Linear, LinearNormAct, name_layers


def test_conv_norm_act_order_and_names():
    unit = ConvNormAct(3, 8, 3, norm="batch", act="relu")
    assert list(dict(unit.named_children())) == ["conv", "norm", "act"]
    assert unit.conv.bias is None  # the norm's shift makes a bias redundant
    pre = ConvNormAct(8, 4, 1, norm="batch", act="relu", preact=True)
    assert list(dict(pre.named_children())) == ["norm", "act", "conv"]
    assert pre.norm.num_features == 8  # pre-activation normalizes the input
    assert pre.conv.bias is None


def test_bias_only_without_a_norm_layer_unless_forced():
    assert ConvNormAct(3, 8, norm=None, act=None).conv.bias is not None
    assert ConvNormAct(3, 8, norm="none", act=None, bias=False).conv.bias is None
    assert ConvNormAct(3, 8, norm="batch", bias=True).conv.bias is not None


def test_conv_norm_act_computes_act_of_norm_of_conv():
    unit = ConvNormAct(3, 8, 3, stride=2, norm="batch", act="relu").train()
    x = torch.randn(4, 3, 9, 9)
    conv = F.conv2d(x, unit.conv.weight, None, stride=2, padding=1)
    expected = F.relu(F.batch_norm(conv, None, None, training=True))
    torch.testing.assert_close(unit(x), expected)


@pytest.mark.parametrize(("k", "dilation"), [(1, 1), (3, 1), (5, 1), (7, 1), (3, 2)])
def test_default_padding_keeps_the_size(k, dilation):
    unit = ConvNormAct(2, 3, k, dilation=dilation, norm=None, act=None)
    assert unit(torch.randn(1, 2, 11, 13)).shape == (1, 3, 11, 13)


def test_multi_channel_kernel_is_multiply_and_add():
    # Each output channel is one kernel with one slice per input channel; the slices' products are summed.
    conv = Conv2d(3, 2, 3, bias=False)
    x = torch.randn(1, 3, 5, 5)
    out = conv(x)
    by_hand = torch.zeros(2, 3, 3)
    for o in range(2):
        for i in range(3):
            for r in range(3):
                for c in range(3):
                    by_hand[o, r, c] += (x[0, i, r : r + 3, c : c + 3] * conv.weight[o, i]).sum()
    torch.testing.assert_close(out[0], by_hand)


def test_conv2d_is_a_drop_in_for_nn_conv2d():
    ours = Conv2d(3, 4, 3, padding=1)
    theirs = nn.Conv2d(3, 4, 3, padding=1)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 6, 6)
    assert torch.equal(ours(x), theirs(x))


def test_channel_mismatch_speaks_the_notes_language():
    net = name_layers(nn.Sequential(ConvNormAct(3, 6, 5)))
    with pytest.raises(ShapeError) as info:
        net(torch.zeros(8, 1, 32, 32))
    msg = str(info.value)
    assert msg.startswith("layer '0.conv' (Conv2d 3→6, 5×5)")
    assert "each of its 6 kernels has 3 input channels (3×5×5)" in msg
    assert "8×1×32×32, which is 1 channel;" in msg
    assert "in_channels=1" in msg
    assert "\n" not in msg


def test_unnamed_conv_still_explains_and_grouped_conv_says_groups():
    with pytest.raises(ShapeError, match=r"^Conv2d 4→8, 3×3: its input must have 4 channels \(2 groups"):
        Conv2d(4, 8, 3, groups=2)(torch.zeros(1, 2, 5, 5))
    with pytest.raises(ShapeError, match="not \\(N, C, H, W\\)"):
        Conv2d(4, 8, 3)(torch.zeros(4, 5))


def test_linear_mismatch_says_what_arrived():
    fc = name_layers(nn.Sequential(nn.Flatten(), Linear(400, 120)))
    with pytest.raises(ShapeError, match=r"layer '1' \(Linear 400→120\).*shape 2×784 \(784 features\)"):
        fc(torch.zeros(2, 16, 7, 7))


def test_linear_norm_act_parts():
    unit = LinearNormAct(10, 4, norm="batch", act="tanh", dropout=0.5)
    assert list(dict(unit.named_children())) == ["fc", "norm", "act", "drop"]
    assert unit.fc.bias is None
    assert LinearNormAct(10, 4).fc.bias is not None
