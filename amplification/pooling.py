"""Pooling many distributions into one: the crowd's amplified forecast."""

from __future__ import annotations

import numpy as np

from .grid import N_POINTS


def linear_pool(cdfs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted average of CDFs (n, 201) -> (201,). Weights default to equal and are normalised to sum to 1.

    A linear pool of valid CDFs is a valid CDF (round-off is clipped away). ValueError for bad shapes or weights.
    """
    cdfs = np.asarray(cdfs, dtype=np.float64)
    if cdfs.ndim != 2 or cdfs.shape[1] != N_POINTS or cdfs.shape[0] == 0:
        raise ValueError(f"cdfs must have shape (n, {N_POINTS}) with n >= 1, got {cdfs.shape}")
    if weights is None:
        w = np.full(cdfs.shape[0], 1.0 / cdfs.shape[0])
    else:
        w = _normalised(weights, cdfs.shape[0])
    pooled = w @ cdfs
    return np.maximum.accumulate(np.clip(pooled, 0.0, 1.0))


def _normalised(weights: np.ndarray, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite")
    if np.any(w < 0):
        raise ValueError("weights must be >= 0")
    total = w.sum()
    if not total > 0:
        raise ValueError("weights must not all be 0")
    return w / total


def recency_weights(n: int, half_life: float) -> np.ndarray:
    """Weights for n items ordered oldest first (newest last): each item counts half as much as the one
    `half_life` places newer. Normalised to sum to 1."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError("n must be a positive integer")
    if not (np.isfinite(half_life) and half_life > 0):
        raise ValueError("half_life must be finite and > 0")
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    w = np.exp2(-age / half_life)
    return w / w.sum()


def skill_weights(skills: np.ndarray) -> np.ndarray:
    """Weights proportional to the positive part of each skill; equal weights when no skill is positive."""
    s = np.asarray(skills, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError("skills must be a non-empty 1-D array")
    if np.any(np.isnan(s)):
        raise ValueError("skills must not be NaN")
    w = np.clip(s, 0.0, None)
    if np.isinf(w).any():  # an infinitely skilled forecast takes everything, shared among equals
        w = np.isinf(w).astype(np.float64)
    total = w.sum()
    if not total > 0:
        return np.full(s.size, 1.0 / s.size)
    return w / total
