"""Signed distance functions of the `shapes` classes (Quilez, '2D distance functions', iquilezles.org).

Each takes pixel coordinates (px, py) in the shape's own frame (centred, rotated) and its circumradius r, and returns
the signed distance in pixels, negative inside. `coverage` turns it into one pixel of anti-aliasing.
"""

from __future__ import annotations

import math

import torch


def _polygon(px: torch.Tensor, py: torch.Tensor, r: torch.Tensor, sides: int) -> torch.Tensor:
    """Signed distance to a regular polygon of circumradius r: distance to the nearest edge's line."""
    sector = 2 * math.pi / sides
    phi = torch.remainder(torch.atan2(py, px) + sector / 2, sector) - sector / 2  # angle from the edge's normal
    return torch.hypot(px, py) * torch.cos(phi) - r * math.cos(math.pi / sides)


def _box(px: torch.Tensor, py: torch.Tensor, bx: torch.Tensor, by: torch.Tensor) -> torch.Tensor:
    """Signed distance to an axis-aligned box of half-sizes (bx, by) (Quilez, '2D distance functions')."""
    qx, qy = px.abs() - bx, py.abs() - by
    return torch.hypot(qx.clamp(min=0), qy.clamp(min=0)) + torch.maximum(qx, qy).clamp(max=0)


def _star(px: torch.Tensor, py: torch.Tensor, r: torch.Tensor, points: int = 5, inner: float = 0.45) -> torch.Tensor:
    """Signed distance to a star: fold the angle into one half-spike, then measure to its edge segment A→B."""
    half = math.pi / points
    phi = (torch.remainder(torch.atan2(py, px) + half, 2 * half) - half).abs()  # in [0, π/points]
    rho = torch.hypot(px, py)
    qx, qy = rho * torch.cos(phi), rho * torch.sin(phi)
    ax, bx, by = r, inner * r * math.cos(half), inner * r * math.sin(half)  # tip A = (ax, 0), inner vertex B
    ex, ey, wx, wy = bx - ax, by, qx - ax, qy
    t = ((wx * ex + wy * ey) / (ex * ex + ey * ey)).clamp(0, 1)
    dist = torch.hypot(wx - t * ex, wy - t * ey)
    return torch.where(ex * wy - ey * wx > 0, -dist, dist)  # the origin's side of A→B is inside


def shape_sdf(name: str, px: torch.Tensor, py: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Signed distance (pixels, negative inside) to shape `name` of circumradius r centred at the origin."""
    if name == "circle":
        return torch.hypot(px, py) - r
    if name == "ring":
        return (torch.hypot(px, py) - 0.72 * r).abs() - 0.28 * r
    if name == "semicircle":
        y = py - 0.5 * r  # the half disk spans y ∈ [−r/2, r/2] around the centre
        return torch.maximum(torch.hypot(px, y) - r, y)
    if name == "cross":
        return torch.minimum(_box(px, py, r, 0.3 * r), _box(px, py, 0.3 * r, r))
    if name == "bar":
        return _box(px, py, r, 0.4 * r)
    if name == "star":
        return _star(px, py, r)
    sides = {"triangle": 3, "square": 4, "pentagon": 5, "hexagon": 6}[name]
    return _polygon(px, py, r, sides)


def coverage(sd: torch.Tensor) -> torch.Tensor:
    """Share of a pixel inside the shape: 1 deep inside, 0 outside, linear across the pixel at the edge."""
    return (0.5 - sd).clamp(0, 1)
