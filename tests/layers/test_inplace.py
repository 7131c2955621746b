"""set_inplace: identical numbers, fewer fresh tensors, and models from `create` left out-of-place."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import create
from cnnlab.layers import Add, BasicBlock, Bottleneck, ConvNormAct, set_inplace

CL = torch.channels_last


def _forward_backward(model, x):
    model.train()
    x = x.clone().requires_grad_()
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    F.cross_entropy(out, torch.arange(len(x)) % out.shape[1]).backward()
    return out.detach(), x.grad, [p.grad for p in model.parameters()]


CASES = [
    ("resnet20", {}),
    ("resnet20", {"norm": "group:4"}),
    ("resnet20", {"norm": "layer"}),
    ("resnet20", {"norm": "instance"}),
    ("resnet20", {"norm": "weight"}),
    ("resnet20", {"norm": "none"}),
    ("resnet20", {"act": "leaky_relu"}),
    ("resnet20", {"act": "tanh"}),
    ("plain20", {}),
    ("resnet18", {"small_input": True}),
    ("resnet50", {"small_input": True}),
    ("densenet_bc40", {}),
    ("googlenet", {"small_input": True}),
    ("nin", {}),
    ("lenet5", {"act": "relu", "pool": "max"}),
    ("vgg11_bn", {"small_input": True}),
]


@pytest.mark.parametrize("fmt", [torch.contiguous_format, CL], ids=["nchw", "channels_last"])
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_in_place_gives_bit_identical_outputs_and_gradients(name, kwargs, fmt):
    torch.manual_seed(0)
    plain = create(name, num_classes=10, **kwargs)
    fast = copy.deepcopy(plain)  # the same weights; a second create would spend as long again initializing them
    assert set_inplace(fast) > 0
    x = torch.randn(4, *plain.input_size[:1], 32, 32).contiguous(memory_format=fmt)
    plain, fast = plain.to(memory_format=fmt), fast.to(memory_format=fmt)
    torch.manual_seed(1)  # dropout masks
    out_plain, gx_plain, grads_plain = _forward_backward(plain, x)
    torch.manual_seed(1)
    out_fast, gx_fast, grads_fast = _forward_backward(fast, x)
    assert torch.equal(out_plain, out_fast)
    assert torch.equal(gx_plain, gx_fast)
    assert all(torch.equal(a, b) for a, b in zip(grads_plain, grads_fast, strict=True))


def test_which_layers_switch():
    block = BasicBlock(8, 8)
    assert set_inplace(block) == 3  # the first unit's ReLU, the add, the block's ReLU
    assert block.body[0].act.inplace and block.add.inplace and block.act.inplace
    assert "inplace=True" in repr(block.add)
    bottleneck = Bottleneck(16, 4)
    assert set_inplace(bottleneck) == 4
    # a pre-activation unit without a norm: its ReLU would overwrite the unit's (the caller's) input
    preact = ConvNormAct(4, 4, norm=None, preact=True)
    assert set_inplace(preact) == 0 and not preact.act.inplace
    # a plain block ending in its activation (no norm, no shortcut): nothing fresh to add into
    plain = nn.Sequential(ConvNormAct(4, 4, norm=None))
    assert set_inplace(plain) == 1
    assert set_inplace(block, enabled=False) == 3 and not (block.add.inplace or block.act.inplace)


def test_create_builds_out_of_place_so_hooks_keep_each_output():
    model = create("resnet20")
    kept = {}
    norm = model.features.stem.norm
    norm.register_forward_hook(lambda m, i, o: kept.setdefault("norm", o))
    model(torch.randn(2, 3, 32, 32))
    assert (kept["norm"] < 0).any()  # the ReLU after it did not overwrite it
    assert not any(getattr(m, "inplace", False) for m in model.modules())


def test_add_out_of_place_by_default_leaves_its_inputs_alone():
    x, y = torch.ones(2, 3), torch.full((2, 3), 2.0)
    assert torch.equal(Add()(x, y), torch.full((2, 3), 3.0)) and torch.equal(x, torch.ones(2, 3))
    out = Add(inplace=True)(x, y)
    assert out is x and torch.equal(x, torch.full((2, 3), 3.0))
