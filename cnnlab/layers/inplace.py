"""In-place ReLUs and residual adds, where autograd allows them, as torchvision's ResNets run.

A ReLU that follows a conv or a norm may overwrite that layer's output (neither backward pass needs it), and a
residual block may add its shortcut into the fresh output of its last conv or norm. Fewer fresh tensors per step
make training faster (benchmarks/engine_speed.py). The price: a forward hook that keeps a reference to a conv's or
norm's output sees it overwritten later in the forward pass, so `cnnlab.create` builds models out-of-place and the
trainer switches this on (`TrainConfig.inplace`); cnnlab's own diagnostics read each output inside its hook and are
unaffected.
"""

from __future__ import annotations

from torch import nn

from .blocks import _Residual
from .conv import ConvNormAct

# Activations whose in-place backward needs only their own output.
_INPLACE_ACTS = (nn.ReLU, nn.LeakyReLU)


def _ends_fresh(body: nn.Module) -> bool:
    """Does `body` end in a conv or norm, whose output nothing in the backward pass reads?"""
    last = body[-1] if isinstance(body, nn.Sequential) and len(body) else None
    return isinstance(last, ConvNormAct) and next(reversed(last._modules)) in ("conv", "norm")


def set_inplace(model: nn.Module, enabled: bool = True) -> int:
    """Switch the ReLUs after convs/norms and the residual adds of `model` in place (or back); returns how many
    layers were switched."""
    switched = 0
    for module in model.modules():
        if isinstance(module, ConvNormAct):
            names = list(module._modules)
            act = module._modules.get("act")
            if isinstance(act, _INPLACE_ACTS) and names.index("act") > 0:  # never on the unit's own input
                act.inplace = enabled
                switched += 1
        elif isinstance(module, _Residual):
            fresh = _ends_fresh(module.body)
            if module.add is not None and fresh:
                module.add.inplace = enabled
                switched += 1
            if isinstance(module.act, _INPLACE_ACTS) and (module.add is not None or fresh):
                module.act.inplace = enabled
                switched += 1
    return switched
