"""A channels_last network must stay channels_last through its backward pass.

When one operand of a backward kernel is NCHW and the other channels_last, PyTorch's CPU kernels take a slow
mixed-layout path (a ReLU backward on 128×16×32×32: 7 ms instead of 0.6 ms on 2 cores). This test records every op
of a training step and fails on any op that meets both layouts, naming it.
"""

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from cnnlab import create
from cnnlab.layers import set_inplace

CL = torch.channels_last


def _layout(t: object) -> str | None:
    if not isinstance(t, torch.Tensor) or t.dim() != 4 or t.shape[1] == 1 or t.shape[2] * t.shape[3] == 1:
        return None  # not a feature map, or one whose layout is ambiguous
    if t.is_contiguous(memory_format=CL):
        return "channels_last"
    return "nchw" if t.is_contiguous() else None  # channel slices (DenseNet's concat) are neither


class MixedLayouts(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.mixed: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        tensors = [a for arg in (*args, *(kwargs or {}).values()) for a in (arg if isinstance(arg, list) else [arg])]
        layouts = {_layout(t) for t in tensors} - {None}
        if len(layouts) > 1:
            self.mixed.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("resnet20", {}),
        ("plain20", {}),
        ("resnet18", {"small_input": True}),
        ("lenet5", {}),
        ("small_cnn", {}),
        ("nin", {}),
        ("densenet_bc40", {}),
        ("vgg11_bn", {"small_input": True}),
    ],
)
@pytest.mark.parametrize("inplace", [False, True])
def test_no_backward_op_mixes_nchw_and_channels_last(name, kwargs, inplace):
    torch.manual_seed(0)
    model = create(name, num_classes=10, **kwargs).to(memory_format=CL)
    if inplace:
        set_inplace(model)
    x = torch.randn(4, *model.input_size[:1], 32, 32).contiguous(memory_format=CL)
    mode = MixedLayouts()
    with mode:
        F.cross_entropy(model(x), torch.arange(4)).backward()
    assert mode.mixed == []
