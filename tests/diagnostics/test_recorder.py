"""What `Diagnostics` records equals what a hand computation from p.grad, the weights and the outputs gives."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

import cnnlab
from cnnlab.diagnostics import Diagnostics, Thresholds
from cnnlab.errors import ConfigError


def _own_params(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    owners = {name: list(m.parameters(recurse=False)) for name, m in model.named_modules()}
    return {name: params for name, params in owners.items() if params}


def _norm(tensors) -> float:
    return math.sqrt(sum(float(t.double().norm()) ** 2 for t in tensors))


def _by_key(records) -> dict[tuple[int, str], object]:
    return {(r.step, r.layer): r for r in records}


@pytest.mark.parametrize("make_optimizer", [lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), torch.optim.Adam])
def test_gradient_weight_norms_and_update_ratio_equal_hand_computation(digits, batch_iter, make_optimizer):
    model = cnnlab.create("mlp", depth=3, width=32, norm="batch", input_size=8)
    optimizer = make_optimizer(model.parameters())
    owners = _own_params(model)
    expected = {}
    with Diagnostics(model, optimizer, every=2) as diag:
        for step, (x, y) in enumerate(batch_iter(digits, 5)):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            before = {name: [p.detach().clone() for p in params] for name, params in owners.items()}
            grads = {name: _norm(p.grad for p in params) for name, params in owners.items()}
            optimizer.step()
            if step % 2 == 0:
                for name, params in owners.items():
                    weight = _norm(before[name])
                    delta = _norm(p.detach() - b for p, b in zip(params, before[name], strict=True))
                    expected[step, name] = (grads[name], weight, delta / weight)
    got = {key: (r.grad_norm, r.weight_norm, r.update_ratio) for key, r in _by_key(diag.records).items()}
    assert {key for key, values in got.items() if values[0] is not None} == set(expected)
    for key, values in expected.items():
        assert got[key] == pytest.approx(values, rel=1e-5), key
    assert min(v[2] for v in expected.values()) > 1e-5  # the updates are real, not zero


def _capture(model: nn.Module, kinds: tuple[type, ...]) -> dict[str, list[torch.Tensor]]:
    """Outputs of every module of `kinds`, per forward call, copied (the test's own hooks)."""
    seen: dict[str, list[torch.Tensor]] = {}
    for name, module in model.named_modules():
        if isinstance(module, kinds):
            module.register_forward_hook(
                lambda m, i, out, name=name: seen.setdefault(name, []).append(out.detach().clone())
            )
    return seen


def test_activation_mean_std_and_saturation_equal_hand_computation(digits, loop):
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 10)
    )
    with torch.no_grad():  # large weights push a good share of the units into the flat tails
        model[1].weight.mul_(6)
        model[3].weight.mul_(12)
    outputs = _capture(model, (nn.Linear, nn.Sigmoid, nn.Tanh))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with Diagnostics(model, optimizer, every=3) as diag:
        loop(model, optimizer, digits, 7)
    records = _by_key(diag.records)
    assert sorted({step for step, _ in records}) == [0, 3, 6]
    derivative_below_1_percent = {
        "2": lambda y: y * (1 - y) < 0.01 * 0.25,  # σ' = σ(1 − σ), maximum 1/4
        "4": lambda y: 1 - y * y < 0.01,  # tanh' = 1 − tanh², maximum 1
    }
    for step in (0, 3, 6):
        for name, calls in outputs.items():
            y = calls[step].double()
            record = records[step, name]
            assert record.act_mean == pytest.approx(float(y.mean()), rel=1e-5, abs=1e-6)
            assert record.act_std == pytest.approx(float(y.std(correction=0)), rel=1e-4)
            if name in derivative_below_1_percent:
                fraction = float(derivative_below_1_percent[name](calls[step]).double().mean())
                assert 0.05 < fraction < 0.95  # a fraction worth checking
                assert record.saturated_fraction == fraction
            else:
                assert record.saturated_fraction is None


@pytest.mark.parametrize("act", [nn.ReLU, nn.LeakyReLU])
def test_dead_and_negative_units_are_channels_zero_or_negative_for_every_sample(digits, loop, act):
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), act(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))
    with torch.no_grad():
        model[0].bias[:3] = -1e3  # channels 0–2 are negative at every position of every image
    outputs = _capture(model, (act,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    with Diagnostics(model, optimizer, every=1) as diag:
        loop(model, optimizer, digits, 1)
    y = outputs["1"][0]  # (N, C, H, W): a unit is a channel
    zero = (y == 0).all(dim=0).flatten(1).all(dim=1)
    negative = (y < 0).all(dim=0).flatten(1).all(dim=1)
    (record,) = (r for r in diag.records if r.layer == "1")
    assert record.dead_fraction == float(zero.double().mean())
    if act is nn.ReLU:
        assert record.dead_fraction == 3 / 8 and record.negative_fraction is None
    else:
        assert record.dead_fraction == 0.0 and record.negative_fraction == float(negative.double().mean()) == 3 / 8


def test_hard_activations_saturate_where_clipped_and_relu6_dies_like_relu(digits, loop):
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.Hardtanh(), nn.Linear(32, 32), nn.ReLU6(), nn.Linear(32, 32),
        nn.Hardsigmoid(), nn.Linear(32, 10),
    )  # fmt: skip
    with torch.no_grad():
        for i in (1, 3, 5):
            model[i].weight.mul_(5)
        model[3].bias[:8] = -1e3  # 8 of the 32 ReLU6 units never fire
    outputs = _capture(model, (nn.Hardtanh, nn.Hardsigmoid))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    with Diagnostics(model, optimizer, every=1) as diag:
        loop(model, optimizer, digits, 1)
    rows = {r.layer: r for r in diag.records}
    hardtanh, relu6, hardsigmoid = outputs["2"][0], outputs["4"][0], outputs["6"][0]  # ReLU6 is a Hardtanh
    assert rows["2"].saturated_fraction == float(((hardtanh <= -1) | (hardtanh >= 1)).double().mean()) > 0.05
    assert rows["6"].saturated_fraction == float(((hardsigmoid <= 0) | (hardsigmoid >= 1)).double().mean()) > 0.05
    assert rows["4"].saturated_fraction is None and rows["4"].dead_fraction == float(
        (relu6 == 0).all(0).double().mean()
    )
    assert rows["4"].dead_fraction >= 8 / 32


def test_micro_batches_of_one_step_are_merged_like_one_batch(digits, batch_iter):
    """Gradient accumulation: two halves of a batch give the statistics of the whole batch."""
    whole = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    halves = copy.deepcopy(whole)
    x, y = next(batch_iter(digits, 1, batch_size=64))
    runs = []
    for model, parts in ((whole, 1), (halves, 2)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        with Diagnostics(model, optimizer, every=1) as diag:
            for xs, ys in zip(x.chunk(parts), y.chunk(parts), strict=True):
                (nn.functional.cross_entropy(model(xs), ys) / parts).backward()
            optimizer.step()
        runs.append(diag.records)
    for a, b in zip(*runs, strict=True):
        assert a.layer == b.layer
        for field in ("grad_norm", "update_ratio", "act_mean", "act_std", "dead_fraction"):
            value = getattr(a, field)
            expected = value if value is None else pytest.approx(value, rel=1e-5, abs=1e-7)
            assert getattr(b, field) == expected, (a.layer, field)


def _hooked(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_hooks_only_around_sampled_steps_and_none_after_exit(digits, batch_iter):
    model = cnnlab.create("mlp", depth=2, width=16, input_size=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    layers = 2 * 2 + 1  # per hidden layer fc and act, then head.fc
    hooked = []
    with Diagnostics(model, optimizer, every=3) as diag:
        for x, y in batch_iter(digits, 7):
            hooked.append(_hooked(model))
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    assert hooked == [layers, 0, 0, layers, 0, 0, layers]
    assert _hooked(model) == 0
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks
    assert sorted({r.step for r in diag.records}) == [0, 3, 6]


def test_evaluation_forwards_between_steps_are_not_counted(digits, batch_iter):
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    evaluated = copy.deepcopy(plain)
    runs = []
    for model in (plain, evaluated):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        with Diagnostics(model, optimizer, every=1) as diag:
            for x, y in batch_iter(digits, 2):
                if model is evaluated:
                    with torch.no_grad():
                        model(x * 50)
                    model.eval()
                    model(x * 50)
                    model.train()
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
        runs.append(diag.records)
    assert runs[0] == runs[1]


def test_inplace_relu_is_measured_like_an_out_of_place_one(digits, loop):
    def net(inplace: bool) -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Flatten(), nn.Linear(64, 32), nn.ReLU(inplace), nn.Linear(32, 32), nn.ReLU(inplace), nn.Linear(32, 10)
        )

    runs = []
    for model in (net(False), net(True)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        with Diagnostics(model, optimizer, every=2) as diag:
            loop(model, optimizer, digits, 4)
        runs.append(diag.records)
    assert runs[0] == runs[1]
    assert any(r.act_mean < 0 for r in runs[1] if r.layer_type == "Linear")  # seen before ReLU overwrote it


def test_layers_are_parameter_owners_and_activations_in_forward_order(digits, loop):
    class HeadFirst(nn.Module):  # registers the head before the body; the forward order decides the depth
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(16, 10)
            self.body = cnnlab.create("mlp", depth=2, width=16, norm="weight", input_size=8).features
            self.unused = nn.Linear(3, 3)

        def forward(self, x):
            return self.head(self.body(x))

    model = HeadFirst()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Diagnostics(model, optimizer, every=1) as diag:
        loop(model, optimizer, digits, 1)
    rows = {r.layer: r for r in diag.records}
    order = ["body.1.fc", "body.1.act", "body.2.fc", "body.2.act", "head", "unused"]
    assert sorted(rows, key=lambda name: rows[name].depth) == order
    weight_norm_fc = model.body[1].fc  # weight = g · v / ‖v‖: its parameters original0 (g), original1 (v), bias
    own = [*weight_norm_fc.parametrizations.weight.parameters(), weight_norm_fc.bias]
    assert rows["body.1.fc"].grad_norm == pytest.approx(_norm(p.grad for p in own), rel=1e-5)
    assert rows["unused"].grad_norm is None and rows["unused"].weight_norm is not None
    assert rows["unused"].act_mean is None  # never called


def test_grad_scaler_unscales_before_the_pre_step_hook(digits, batch_iter):
    """AMP: `scaler.step` unscales the gradients, then calls optimizer.step — the hook sees true gradients."""
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    scaled = copy.deepcopy(plain)
    runs = []
    for model in (plain, scaled):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12, enabled=model is scaled)
        with Diagnostics(model, optimizer, every=1) as diag:
            for x, y in batch_iter(digits, 2):
                optimizer.zero_grad()
                scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
                scaler.step(optimizer)
                scaler.update()
        runs.append([r.grad_norm for r in diag.records if r.has_params])
    assert runs[1] == pytest.approx(runs[0], rel=1e-5)


def test_start_step_numbers_the_steps_of_a_resumed_run(digits, loop):
    model = cnnlab.create("mlp", depth=1, width=8, input_size=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Diagnostics(model, optimizer, every=4, start_step=6) as diag:
        loop(model, optimizer, digits, 7)  # steps 6 … 12
    assert sorted({r.step for r in diag.records}) == [8, 12]
    assert diag.step == 13


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every": 0}, "every is a number of optimizer steps"),
        ({"start_step": -1}, "start_step"),
        ({"thresholds": "strict"}, "Thresholds"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs, message):
    model = nn.Linear(2, 2)
    with pytest.raises(ConfigError, match=message):
        Diagnostics(model, torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)


def test_bad_model_optimizer_and_thresholds_are_config_errors():
    model = nn.Linear(2, 2)
    with pytest.raises(ConfigError, match=r"torch\.optim\.Optimizer"):
        Diagnostics(model, object())
    with pytest.raises(ConfigError, match="no trainable parameters and no activation modules"):
        Diagnostics(nn.Flatten(), torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ConfigError, match="persist is a fraction"):
        Thresholds(persist=2)
    with pytest.raises(ConfigError, match="window counts sampled steps"):
        Thresholds(window=2.5)
