"""Every scratch layer and loss against PyTorch autograd (float64, ≤ 1e-10) and central finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scratch_oracle import check_layer

from cnnlab.scratch import (
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Dropout,
    Flatten,
    GroupNorm,
    Identity,
    InstanceNorm,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool2d,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    SigmoidBCE,
    SoftmaxCrossEntropy,
    Tanh,
)

F64 = np.float64


def _conv_case(seed: int):
    """A random convolution: batch, channels, kernel (possibly non-square), stride and padding."""
    rng = np.random.default_rng(seed)
    kh, kw = rng.choice([1, 2, 3, 5], size=2)
    sh, sw = rng.integers(1, 4, size=2)
    ph, pw = rng.integers(0, 3, size=2)
    n, c, o = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 5)
    h = int(rng.integers(max(kh - 2 * ph, 1), 9))
    w = int(rng.integers(max(kw - 2 * pw, 1), 9))
    return (int(n), int(c), int(o), h, w), (int(kh), int(kw)), (int(sh), int(sw)), (int(ph), int(pw))


@pytest.mark.parametrize("seed", range(12))
def test_conv2d_random_shapes_strides_paddings(seed):
    (n, c, o, h, w), kernel, stride, padding = _conv_case(seed)
    rng = np.random.default_rng(100 + seed)
    conv = Conv2d(c, o, kernel, stride, padding, rng=rng, dtype=F64)
    x = rng.normal(size=(n, c, h, w))
    check_layer(conv, x, lambda x, p: F.conv2d(x, p["weight"], p["bias"], stride, padding), seed=seed)


@pytest.mark.parametrize(
    ("c", "o", "k", "stride", "padding", "bias"),
    [(5, 3, 1, 1, 0, True), (4, 2, 1, 2, 0, False), (3, 4, 3, 1, 1, True), (2, 6, 5, 1, 2, False)],
)
def test_conv2d_one_by_one_same_padding_and_no_bias(c, o, k, stride, padding, bias):
    conv = Conv2d(c, o, k, stride, padding, bias=bias, dtype=F64)
    x = np.random.default_rng(1).normal(size=(2, c, 6, 6))
    reference = lambda x, p: F.conv2d(x, p["weight"], p.get("bias"), stride, padding)  # noqa: E731
    check_layer(conv, x, reference)


def test_conv2d_lenet_sized_against_autograd():
    # LeNet's C1 on 8×8 digits: 12 pixels of zero padding to reach 32×32 (too big for finite differences)
    conv = Conv2d(1, 6, 5, padding=12, dtype=F64)
    x = np.random.default_rng(2).normal(size=(8, 1, 8, 8))
    check_layer(conv, x, lambda x, p: F.conv2d(x, p["weight"], p["bias"], padding=12), finite_differences=False)


def _pool_case(seed: int):
    rng = np.random.default_rng(seed)
    kh, kw = (int(k) for k in rng.integers(1, 4, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    padding = (int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1)))  # PyTorch: pad ≤ k/2
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(kh, 9)), int(rng.integers(kw, 9)))
    return (kh, kw), stride, padding, shape


@pytest.mark.parametrize("seed", range(10))
def test_max_pool_random_windows(seed):
    kernel, stride, padding, shape = _pool_case(seed)
    x = np.random.default_rng(seed).normal(size=shape)
    check_layer(MaxPool2d(kernel, stride, padding), x, lambda x, p: F.max_pool2d(x, kernel, stride, padding))


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool_random_windows(seed, include_pad):
    kernel, stride, padding, shape = _pool_case(seed)
    x = np.random.default_rng(seed).normal(size=shape)
    pool = AvgPool2d(kernel, stride, padding, count_include_pad=include_pad)
    reference = lambda x, p: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=include_pad)  # noqa: E731
    check_layer(pool, x, reference)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    # After a ReLU whole windows are 0: PyTorch routes each window's gradient to its first element.
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = 2.0  # a tie between two maxima in the top-left window
    check_layer(MaxPool2d(2), x, lambda x, p: F.max_pool2d(x, 2), finite_differences=False)


def test_linear_and_flatten():
    rng = np.random.default_rng(3)
    check_layer(Linear(7, 4, rng=rng, dtype=F64), rng.normal(size=(5, 7)), lambda x, p: F.linear(x, **p))
    check_layer(Linear(3, 2, bias=False, dtype=F64), rng.normal(size=(2, 3)), lambda x, p: x @ p["weight"].T)
    check_layer(Flatten(), rng.normal(size=(2, 3, 2, 2)), lambda x, p: x.flatten(1))


@pytest.mark.parametrize(
    ("layer", "reference"),
    [
        (Identity(), lambda x: x),
        (Sigmoid(), torch.sigmoid),
        (Tanh(), torch.tanh),
        (ReLU(), F.relu),
        (LeakyReLU(), F.leaky_relu),
        (LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    ],
    ids=["identity", "sigmoid", "tanh", "relu", "leaky_relu", "leaky_relu_0.2"],
)
def test_activations(layer, reference):
    x = np.random.default_rng(4).normal(size=(3, 2, 4, 5)) * 3
    check_layer(layer, x, lambda x, p: reference(x))


def test_sigmoid_does_not_overflow():
    y = Sigmoid().forward(np.array([-1000.0, 0.0, 1000.0]))
    assert y.tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5, 5)])
def test_batch_norm_training_gradients_and_running_statistics(shape):
    x = np.random.default_rng(5).normal(size=shape) * 2 + 1
    norm = BatchNorm(3, dtype=F64)
    norm.params["weight"].data = np.array([0.5, 1.5, -1.0])
    norm.params["bias"].data = np.array([0.1, 0.0, -0.3])
    running_mean, running_var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)

    def reference(x, p):
        return F.batch_norm(x, running_mean, running_var, p["weight"], p["bias"], training=True, momentum=0.1)

    check_layer(norm, x, reference)
    np.testing.assert_allclose(norm.buffers["running_mean"], running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(norm.buffers["running_var"], running_var.numpy(), rtol=1e-12)  # unbiased
    assert norm.buffers["num_batches_tracked"] == 1


def test_batch_norm_eval_uses_running_statistics():
    rng = np.random.default_rng(6)
    norm = BatchNorm(4, dtype=F64)
    norm.buffers["running_mean"][:] = rng.normal(size=4)
    norm.buffers["running_var"][:] = rng.uniform(0.5, 2.0, size=4)
    mean, var = (torch.from_numpy(norm.buffers[k].copy()) for k in ("running_mean", "running_var"))
    norm.eval()
    x = rng.normal(size=(3, 4, 3, 3))
    check_layer(norm, x, lambda x, p: F.batch_norm(x, mean, var, p["weight"], p["bias"], training=False))


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_norm(groups):
    rng = np.random.default_rng(7)
    norm = GroupNorm(groups, 6, dtype=F64)
    norm.params["weight"].data = rng.normal(size=6)
    norm.params["bias"].data = rng.normal(size=6)
    x = rng.normal(size=(2, 6, 3, 4)) * 3
    check_layer(norm, x, lambda x, p: F.group_norm(x, groups, p["weight"], p["bias"]))


def test_layer_norm_on_maps_and_vectors():
    rng = np.random.default_rng(8)
    norm = LayerNorm(4, dtype=F64)
    norm.params["weight"].data = rng.normal(size=4)
    x = rng.normal(size=(3, 4, 3, 3))
    check_layer(norm, x, lambda x, p: F.group_norm(x, 1, p["weight"], p["bias"]))  # cnnlab's LayerNorm2d
    norm = LayerNorm(5, dtype=F64)
    norm.params["bias"].data = rng.normal(size=5)
    x = rng.normal(size=(4, 5))
    check_layer(norm, x, lambda x, p: F.layer_norm(x, (5,), p["weight"], p["bias"]))  # nn.LayerNorm(C)


def test_instance_norm():
    rng = np.random.default_rng(9)
    norm = InstanceNorm(3, dtype=F64)
    norm.params["weight"].data = rng.normal(size=3)
    x = rng.normal(size=(2, 3, 4, 4))
    check_layer(norm, x, lambda x, p: F.instance_norm(x, weight=p["weight"], bias=p["bias"]))


def test_dropout_is_inverted_and_identity_in_eval():
    drop = Dropout(0.4, rng=np.random.default_rng(10))
    x = np.random.default_rng(11).normal(size=(4, 50))
    check_layer(drop, x, lambda x, p: x * torch.from_numpy(drop.mask))
    assert set(np.unique(drop.mask)) == {0.0, 1 / 0.6}
    assert abs((drop.mask == 0).mean() - 0.4) < 0.05
    drop.eval()
    check_layer(drop, x, lambda x, p: x)


def test_sequential_composes_forward_and_backward():
    rng = np.random.default_rng(12)
    model = Sequential(
        conv=Conv2d(2, 3, 3, padding=1, rng=rng, dtype=F64), act=Tanh(), pool=MaxPool2d(2), flat=Flatten()
    )
    x = rng.normal(size=(2, 2, 4, 4))

    def reference(x, p):
        return F.max_pool2d(torch.tanh(F.conv2d(x, p["conv.weight"], p["conv.bias"], padding=1)), 2).flatten(1)

    check_layer(model, x, reference)


@pytest.mark.parametrize(
    ("loss", "make_target", "reference"),
    [
        (SoftmaxCrossEntropy(), lambda rng: rng.integers(0, 5, size=6), F.cross_entropy),
        (SigmoidBCE(), lambda rng: rng.integers(0, 2, size=(6, 5)).astype(F64), F.binary_cross_entropy_with_logits),
        (MSELoss(), lambda rng: rng.normal(size=(6, 5)), F.mse_loss),
    ],
    ids=["cross_entropy", "sigmoid_bce", "mse"],
)
def test_losses(loss, make_target, reference):
    rng = np.random.default_rng(13)
    x = rng.normal(size=(6, 5)) * 4
    target = make_target(rng)
    check_layer(loss, x, lambda x, p: reference(x, torch.from_numpy(target)), target=target)


def test_cross_entropy_is_stable_for_huge_logits():
    loss = SoftmaxCrossEntropy()
    x = np.array([[1000.0, 0.0], [-1000.0, 0.0]])
    value = loss.forward(x, np.array([0, 0]))
    assert value == pytest.approx(500.0)
    np.testing.assert_allclose(loss.backward(), [[0.0, 0.0], [-0.5, 0.5]])
