"""The one oracle every NumPy layer is held to: PyTorch autograd in float64, and central finite differences.

micrograd checks its engine against PyTorch (`test_engine.py`) and tinygrad has one `helper_test_op`; this is
cnnlab's: given a scratch layer, an input and the same computation written with torch functions, it checks the
output, ∂l/∂x and ∂l/∂θ for every parameter θ against autograd, and (on small shapes) against
(l(θ + h) − l(θ − h)) / 2h for every single entry of x and θ.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch

# A reference computes the layer's output from torch copies of its input and parameters (by the layer's names).
Reference = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]

AUTOGRAD_TOL = 1e-10  # max |ours − autograd| / max |autograd|, float64
FD_TOL = 1e-6  # the same against central differences with step 1e-6 (truncation error ~h², rounding ~ε/h)
FD_STEP = 1e-6


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """max |ours − reference| / max |reference| (the absolute error when the reference is all zeros)."""
    ours, reference = np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    scale = np.abs(reference).max(initial=0.0)
    error = np.abs(ours - reference).max(initial=0.0)
    return error / scale if scale > 0 else error


def _run(layer, x: np.ndarray, target) -> np.ndarray:
    return np.asarray(layer.forward(x) if target is None else layer.forward(x, target))


def _params(layer) -> dict[str, object]:
    """name -> Param for a layer, or {} for a loss (which has no parameters)."""
    return dict(layer.named_parameters()) if hasattr(layer, "named_parameters") else {}


def check_layer(
    layer,
    x: np.ndarray,
    reference: Reference,
    *,
    target: np.ndarray | None = None,
    finite_differences: bool = True,
    seed: int = 0,
) -> dict[str, float]:
    """Assert the layer's output and all its gradients equal autograd's (and finite differences); return errors.

    Args:
        layer: a float64 scratch layer, or a loss (then `target` is passed to its forward and l is its output).
        x: the float64 input.
        reference: the same computation in torch, called after the layer's forward (so it may read a cached
            dropout mask) with x and the parameters as leaf tensors that require grad.
        target: the loss target, for losses.
        finite_differences: also check every entry of x and of every parameter numerically (small shapes only).
        seed: draws the upstream gradient ∂l/∂y, so that l = Σ y·∂l/∂y weighs every output differently.
    """
    snapshot = copy.deepcopy(layer)  # the state before the forward (dropout's generator, running statistics)
    y = _run(layer, x, target)
    upstream = np.random.default_rng(seed).normal(size=y.shape) if y.ndim else np.array(0.7)
    dx = layer.backward(upstream) if target is None else layer.backward(float(upstream))
    ours = {"x": dx, **{name: p.grad for name, p in _params(layer).items()}}

    x_t = torch.tensor(x, requires_grad=True)
    params_t = {name: torch.tensor(p.data, requires_grad=True) for name, p in _params(layer).items()}
    y_t = reference(x_t, params_t)
    errors = {"output": relative_error(y, y_t.detach().numpy())}
    y_t.backward(torch.as_tensor(upstream, dtype=y_t.dtype))
    theirs = {"x": x_t.grad, **{name: t.grad for name, t in params_t.items()}}
    for name, grad in ours.items():
        errors[name] = relative_error(grad, theirs[name].numpy())
    bad = {name: err for name, err in errors.items() if not err <= AUTOGRAD_TOL}
    assert not bad, f"{type(layer).__name__} differs from autograd: {bad}"

    if finite_differences:
        for name, numeric in _finite_differences(snapshot, x, target, upstream).items():
            errors[f"fd:{name}"] = err = relative_error(ours[name], numeric)
            assert err <= FD_TOL, f"{type(layer).__name__}: ∂l/∂{name} differs from finite differences by {err:.2e}"
    return errors


def _finite_differences(snapshot, x: np.ndarray, target, upstream: np.ndarray) -> dict[str, np.ndarray]:
    """(l(v + h·e_i) − l(v − h·e_i)) / 2h for every entry i of x and of each parameter, l = Σ y·upstream."""

    def loss(x_value: np.ndarray, name: str | None = None, value: np.ndarray | None = None) -> float:
        layer = copy.deepcopy(snapshot)  # same dropout mask, same statistics, every time
        if name is not None:
            _params(layer)[name].data = value
        return float((_run(layer, x_value, target) * upstream).sum())

    arrays = {"x": x, **{name: p.data for name, p in _params(snapshot).items()}}
    numeric = {}
    for name, array in arrays.items():
        grad = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            plus, minus = array.copy(), array.copy()
            plus[i] += FD_STEP
            minus[i] -= FD_STEP
            if name == "x":
                grad[i] = (loss(plus) - loss(minus)) / (2 * FD_STEP)
            else:
                grad[i] = (loss(x, name, plus) - loss(x, name, minus)) / (2 * FD_STEP)
        numeric[name] = grad
    return numeric
