"""A worked example of backpropagation: one neuron, its chain rule with numbers, and autograd beside it.

    z = w1·x1 + w2·x2 + b,   a = f(z),   l = (a − target)²
    ∂l/∂w1 = ∂l/∂a · ∂a/∂z · ∂z/∂w1 = 2(a − target) · f′(z) · x1

Each factor comes from a scratch layer's own backward pass (Linear, the activation, MSELoss); PyTorch autograd
computes the same gradient independently, so the two can be compared.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass

import numpy as np

from .._spec import parse_spec
from .activations import create_act
from .linear import Linear
from .losses import MSELoss

# How f′(z) reads for each activation, in terms of z, a = f(z) or the slope.
_DERIVATIVES = {
    "sigmoid": "a(1 − a)",
    "tanh": "1 − a²",
    "relu": "[z > 0]",
    "leaky_relu": "[z > 0] + {slope:g}·[z ≤ 0]",
    "linear": "1",
    "identity": "1",
}


@dataclass(frozen=True)
class BackpropExplanation:
    """One neuron's forward values and the factors of its gradients (all float64).

    `dl_dw1 = dl_da · da_dz · x1`, `dl_dw2 = dl_da · da_dz · x2`, `dl_db = dl_da · da_dz`; the `autograd_*`
    fields are PyTorch's values for the same gradients.
    """

    act: str
    derivative: str  # how f′(z) reads, e.g. 'a(1 − a)' ([z > 0] is 1 when z > 0, else 0)
    x1: float
    x2: float
    w1: float
    w2: float
    b: float
    target: float
    z: float
    a: float
    loss: float
    dl_da: float  # ∂l/∂a = 2(a − target)
    da_dz: float  # f′(z)
    dl_dw1: float
    dl_dw2: float
    dl_db: float
    autograd_dl_dw1: float
    autograd_dl_dw2: float
    autograd_dl_db: float

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


def explain_backprop(
    *,
    x1: float = 0.5,
    x2: float = -1.0,
    w1: float = 0.8,
    w2: float = 0.3,
    b: float = 0.1,
    target: float = 1.0,
    act: str = "sigmoid",
) -> BackpropExplanation:
    """Run the neuron forward and backward with scratch layers, and once more with autograd (this needs torch).

    Args:
        x1, x2: the inputs. w1, w2, b: the weights and the bias. target: what a should be.
        act: 'sigmoid', 'tanh', 'relu', 'leaky_relu[:slope]' or 'linear'.
    """
    import torch  # the comparison with autograd; the rest of the reference runs without torch

    from ..layers import create_act as create_torch_act

    neuron = Linear(2, 1, dtype=np.float64)
    neuron.params["weight"].data[...] = [[w1, w2]]
    neuron.params["bias"].data[...] = [b]
    f = create_act(act) or create_act("linear")
    loss_fn = MSELoss()
    x = np.array([[x1, x2]])  # (1 sample, 2 inputs)
    z = neuron.forward(x)
    a = f.forward(z)
    loss = loss_fn.forward(a, np.array([[target]]))
    dl_da = loss_fn.backward()  # 2(a − target)
    dl_dz = f.backward(dl_da)  # ∂l/∂a · f′(z)
    neuron.backward(dl_dz)  # ∂l/∂w = ∂l/∂z · x, ∂l/∂b = ∂l/∂z
    da_dz = f.backward(np.ones_like(z))  # f′(z) alone

    weights = torch.tensor([w1, w2], dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    z_t = weights @ torch.tensor([x1, x2], dtype=torch.float64) + bias
    a_t = (create_torch_act(act) or torch.nn.Identity())(z_t)
    ((a_t - target) ** 2).backward()

    grad_w, grad_b = neuron.params["weight"].grad[0], neuron.params["bias"].grad[0]
    name = parse_spec(act, "activation")[0]
    return BackpropExplanation(
        act=act,
        derivative=_DERIVATIVES.get(name, "f′(z)").format(slope=getattr(f, "negative_slope", 0.0)),
        x1=x1,
        x2=x2,
        w1=w1,
        w2=w2,
        b=b,
        target=target,
        z=float(z[0, 0]),
        a=float(a[0, 0]),
        loss=loss,
        dl_da=float(dl_da[0, 0]),
        da_dz=float(da_dz[0, 0]),
        dl_dw1=float(grad_w[0]) + 0.0,  # + 0.0 turns −0.0 into 0.0
        dl_dw2=float(grad_w[1]) + 0.0,
        dl_db=float(grad_b) + 0.0,
        autograd_dl_dw1=float(weights.grad[0]) + 0.0,
        autograd_dl_dw2=float(weights.grad[1]) + 0.0,
        autograd_dl_db=float(bias.grad) + 0.0,
    )


def explain_defaults() -> dict[str, float]:
    """The numbers `explain_backprop` uses unless told otherwise (x1, x2, w1, w2, b, target)."""
    params = inspect.signature(explain_backprop).parameters
    return {name: p.default for name, p in params.items() if name != "act"}


def _num(v: float) -> str:
    """Six significant digits."""
    return f"{v:.6g}"


def _factor(v: float) -> str:
    """A number as a factor of a product: negative ones in parentheses."""
    return f"({_num(v)})" if v < 0 else _num(v)


def _agrees(ours: float, autograd: float) -> str:
    return "equal" if np.isclose(ours, autograd, rtol=1e-12, atol=1e-15) else "DIFFERENT"


def format_backprop(e: BackpropExplanation) -> str:
    """The forward pass and the chain rule of `e` written out, factor by factor, with autograd beside each result."""
    dl_da, da_dz = _num(e.dl_da), _num(e.da_dz)
    width = max(len("2(a − target)"), len(dl_da))
    mid = max(len(e.derivative), len(da_dz), len("f′(z)"))
    lines = [
        f"{e.act} neuron",
        f"  z = w1·x1 + w2·x2 + b = {_factor(e.w1)}·{_factor(e.x1)} + {_factor(e.w2)}·{_factor(e.x2)} + "
        f"{_factor(e.b)} = {_num(e.z)}",
        f"  a = f(z) = {e.act.partition(':')[0]}({_num(e.z)}) = {_num(e.a)}",
        f"  l = (a − target)² = ({_num(e.a)} − {_factor(e.target)})² = {_num(e.loss)}",
        "",
        f"  ∂l/∂w1 = {'∂l/∂a':<{width}} · {'f′(z)':<{mid}} · ∂z/∂w1",
        f"         = {'2(a − target)':<{width}} · {e.derivative:<{mid}} · x1",
        f"         = {dl_da:<{width}} × {da_dz:<{mid}} × {_num(e.x1)}",
        f"         = {_num(e.dl_dw1)}    autograd: {_num(e.autograd_dl_dw1)} ({_agrees(e.dl_dw1, e.autograd_dl_dw1)})",
    ]
    for name, last, ours, autograd in (
        ("w2", e.x2, e.dl_dw2, e.autograd_dl_dw2),
        ("b ", 1.0, e.dl_db, e.autograd_dl_db),
    ):
        lines.append(
            f"  ∂l/∂{name} = {dl_da} × {da_dz} × {_factor(last)} = {_num(ours)}    "
            f"autograd: {_num(autograd)} ({_agrees(ours, autograd)})"
        )
    return "\n".join(lines)
