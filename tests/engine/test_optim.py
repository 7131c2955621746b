import pytest
import torch

from cnnlab.engine.losses import CorrectCounter, correct_count, loss_sum, resolve_loss
from cnnlab.engine.optim import create_optimizer
from cnnlab.engine.penalties import l1_penalty, l2_penalty, penalized_parameters
from cnnlab.errors import ConfigError
from cnnlab.models import create


def one_step(name, weight_decay, grad, w0, **kw):
    w = torch.nn.Parameter(w0.clone())
    opt = create_optimizer([w], name, lr=0.1, weight_decay=weight_decay, **kw)
    w.grad = grad.clone()
    opt.step()
    return w.detach()


def test_sgd_weight_decay_is_l2_in_the_gradient():
    w0, g = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.5])
    assert torch.allclose(one_step("sgd", 0.01, g, w0), w0 - 0.1 * (g + 0.01 * w0))


def test_adam_couples_and_adamw_decouples_weight_decay():
    w0, g = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.5])
    # Adam: decay enters the gradient and is normalized away by √v̂ on the first step: Δw = -lr·sign(g + λw).
    coupled = one_step("adam", 0.1, g, w0)
    assert torch.allclose(coupled, w0 - 0.1 * torch.sign(g + 0.1 * w0), atol=1e-6)
    # AdamW: the weights shrink by lr·λ·w on their own, outside the adaptive step.
    decoupled = one_step("adamw", 0.1, g, w0)
    assert torch.allclose(decoupled, w0 * (1 - 0.1 * 0.1) - 0.1 * torch.sign(g), atol=1e-6)


def test_nesterov_momentum_equals_torch():
    w0, g = torch.randn(5), torch.randn(5)
    w = torch.nn.Parameter(w0.clone())
    ref = torch.nn.Parameter(w0.clone())
    ours = create_optimizer([w], "sgd", lr=0.1, momentum=0.9, nesterov=True)
    theirs = torch.optim.SGD([ref], lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(3):
        w.grad, ref.grad = g.clone(), g.clone()
        ours.step()
        theirs.step()
    assert torch.equal(w, ref)


@pytest.mark.parametrize(
    ("name", "kw", "message"),
    [
        ("rmsprop", {}, "unknown optimizer 'rmsprop'"),
        ("sgd", {"nesterov": True}, "Nesterov SGD needs momentum"),
        ("adam", {"nesterov": True}, "applies to sgd"),
        ("sgd", {"lr": -1.0}, "learning rate must be positive"),
    ],
)
def test_bad_optimizer_arguments(name, kw, message):
    kw = {"lr": 0.1, **kw}
    with pytest.raises(ConfigError, match=message):
        create_optimizer([torch.nn.Parameter(torch.zeros(1))], name, **kw)


def test_penalty_gradients_are_sign_and_weight():
    model = create("lenet5")
    params = penalized_parameters(model)
    assert all(p.dim() > 1 for p in params) and len(params) == 5  # 2 conv + 3 FC weights; no biases
    l1_penalty(params).backward()
    assert all(torch.equal(p.grad, torch.sign(p.detach())) for p in params)
    model.zero_grad()
    l2_penalty(params).backward()
    assert all(torch.equal(p.grad, p.detach()) for p in params)
    assert l2_penalty(params).item() == pytest.approx(0.5 * sum(p.square().sum().item() for p in params), rel=1e-6)


def test_losses_are_sums_equal_to_torch():
    logits, targets = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    F = torch.nn.functional
    torch.testing.assert_close(loss_sum("ce", logits, targets), F.cross_entropy(logits, targets) * 6)
    torch.testing.assert_close(
        loss_sum("ce", logits, targets, label_smoothing=0.1),
        F.cross_entropy(logits, targets, label_smoothing=0.1) * 6,
    )
    multi = torch.randint(0, 2, (6, 4)).float()
    torch.testing.assert_close(loss_sum("bce", logits, multi), F.binary_cross_entropy_with_logits(logits, multi) * 6)
    one_hot = F.one_hot(targets, 4).float()
    torch.testing.assert_close(loss_sum("mse", logits, targets), F.mse_loss(logits, one_hot) * 6)
    for name, labels in (("ce", targets), ("bce", multi), ("mse", targets)):  # the mean: the sum over 6 samples / 6
        mean = loss_sum(name, logits, labels, label_smoothing=0.1 if name == "ce" else 0.0, reduction="mean")
        total = loss_sum(name, logits, labels, label_smoothing=0.1 if name == "ce" else 0.0)
        torch.testing.assert_close(mean, total / 6)
    with pytest.raises(ValueError, match="reduction must be 'sum' or 'mean'"):
        loss_sum("ce", logits, targets, reduction="none")


def test_predictions_argmax_and_thresholds():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, -1.0]])
    assert correct_count(logits, torch.tensor([0, 1, 1])).item() == 2
    # Multi-label: class on when sigmoid > 0.5 (logit > 0); a sample counts when every class is right.
    # Predictions: [1, 1], [0, 1] (sigmoid(0) = 0.5 is not above), [1, 0].
    multi = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    assert correct_count(logits, multi).item() == 2
    assert correct_count(logits, multi, threshold=0.8).item() == 1  # now [1, 0], [0, 1], [0, 0]
    assert resolve_loss("auto", True) == "bce" and resolve_loss("auto", False) == "ce"
    with pytest.raises(ConfigError, match="multi-label data needs --loss bce"):
        resolve_loss("ce", True)


@pytest.mark.parametrize("multilabel", [False, True])
def test_counting_batches_together_equals_counting_each(multilabel):
    generator = torch.Generator().manual_seed(0)
    counter = CorrectCounter(threshold=0.3, every=4)
    expected = counted = 0
    for i, n in enumerate([5, 7, 1, 9, 3, 8, 2]):  # uneven batches, like an epoch's last one
        logits = torch.randn(n, 6, generator=generator)
        targets = (
            torch.randint(0, 2, (n, 6), generator=generator).float()
            if multilabel
            else torch.randint(0, 6, (n,), generator=generator)
        )
        expected += correct_count(logits, targets, threshold=0.3).item()
        assert counter.add(logits, targets) == (i == 3)  # the fourth batch fills it
        if i == 3:
            assert counter.samples == 5 + 7 + 1 + 9
            counted += counter.count()
            assert (counter.waiting, counter.elements, counter.samples) == ([], 0, 0)
    counted += counter.count()
    assert counted == expected
    assert counter.count() == 0  # nothing waits twice


def test_counter_bounds_the_outputs_it_keeps():
    counter = CorrectCounter(every=100, max_elements=50)
    assert not counter.add(torch.zeros(4, 10), torch.zeros(4, dtype=torch.long))
    assert counter.add(torch.zeros(1, 10), torch.zeros(1, dtype=torch.long))  # 50 elements
    assert counter.count() == 5  # all-zero logits: argmax is class 0 everywhere
