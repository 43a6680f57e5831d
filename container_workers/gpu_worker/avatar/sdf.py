"""Signed distance functions (negative inside, metres) of the shapes the humanoid is built from, vectorised over points (N, 3)."""

from __future__ import annotations

import numpy as np


def _length(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def ellipsoid(p: np.ndarray, radii) -> np.ndarray:
    """An axis-aligned ellipsoid centred at the origin (Quilez's bound, exact on the axes)."""
    r = np.asarray(radii, dtype=np.float64)
    k0 = _length(p / r)
    k1 = np.maximum(_length(p / (r * r)), 1e-12)
    return k0 * (k0 - 1.0) / k1


def round_cone(p: np.ndarray, a, b, ra: float, rb: float) -> np.ndarray:
    """A capsule from `a` (radius ra) to `b` (radius rb) with spherical ends (Quilez's exact round cone)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ba = b - a
    l2 = float(ba @ ba)
    rr = ra - rb
    a2 = l2 - rr * rr
    il2 = 1.0 / l2
    pa = p - a
    y = pa @ ba
    z = y - l2
    w = pa * l2 - y[:, None] * ba
    x2 = np.einsum("ij,ij->i", w, w)
    y2, z2 = y * y * l2, z * z * l2
    k = np.sign(rr) * rr * rr * x2
    side = (np.sqrt(x2 * a2 * il2) + y * rr) * il2 - ra
    end_b = np.sqrt(x2 + z2) * il2 - rb
    end_a = np.sqrt(x2 + y2) * il2 - ra
    return np.where(np.sign(z) * a2 * z2 > k, end_b, np.where(np.sign(y) * a2 * y2 < k, end_a, side))


def frustum(p: np.ndarray, half_height: float, r_bottom: float, r_top: float) -> np.ndarray:
    """A capped cone around +Y centred at the origin, radius r_bottom at y = -h and r_top at y = +h (Quilez)."""
    qx, qy = np.hypot(p[:, 0], p[:, 2]), p[:, 1]
    h = half_height
    k2x, k2y = r_top - r_bottom, 2.0 * h
    cax = qx - np.minimum(qx, np.where(qy < 0, r_bottom, r_top))
    cay = np.abs(qy) - h
    t = np.clip(((r_top - qx) * k2x + (h - qy) * k2y) / (k2x * k2x + k2y * k2y), 0.0, 1.0)
    cbx, cby = qx - r_top + k2x * t, qy - h + k2y * t
    sign = np.where((cbx < 0) & (cay < 0), -1.0, 1.0)
    return sign * np.sqrt(np.minimum(cax * cax + cay * cay, cbx * cbx + cby * cby))


def cylinder(p: np.ndarray, radius: float, half_height: float) -> np.ndarray:
    """A capped cylinder around +Y centred at the origin."""
    dx = np.hypot(p[:, 0], p[:, 2]) - radius
    dy = np.abs(p[:, 1]) - half_height
    return np.hypot(np.maximum(dx, 0), np.maximum(dy, 0)) + np.minimum(np.maximum(dx, dy), 0)


def round_box(p: np.ndarray, half, rounding: float) -> np.ndarray:
    """An axis-aligned box with rounded edges centred at the origin."""
    q = np.abs(p) - (np.asarray(half, dtype=np.float64) - rounding)
    return _length(np.maximum(q, 0)) + np.minimum(q.max(axis=1), 0) - rounding


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (a smooth union blending within distance k); plain min when k is 0."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 at edge0 to 1 at edge1."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def wave_noise(p: np.ndarray, frequency: float) -> np.ndarray:
    """A smooth, repeatable pseudo-random pattern of points (N, 3), in about [-1, 1]."""
    a = np.sin(frequency * (p @ (0.83, 0.31, 0.47)) + 1.3) * np.sin(frequency * (p @ (-0.27, 0.91, 0.33)) + 0.4)
    b = np.sin(2.31 * frequency * (p @ (0.41, -0.52, 0.75)) + 2.1)
    return (a + 0.5 * b) / 1.5
