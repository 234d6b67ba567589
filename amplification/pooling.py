"""Pooling many distributions into one: the crowd's amplified forecast.

Four methods (DESIGN.md, "Pooling methods"), each over (n, 201) CDFs on the canonical grid, returning one (201,) CDF:

- ``equal``: the mean of the CDFs (`linear_pool`);
- ``recency``: Metaculus's community weights, e^(sqrt(k) - sqrt(N)) for the k-th oldest of N predictions
  (`metaculus_recency_weights`), in a weighted mean of CDFs;
- ``quantile``: Vincentization (`quantile_pool`): mean tail masses, and inside the range the mean of the quantile
  functions on the u axis;
- ``skill``: a weighted mean of CDFs, weights from each author's track record (`skill_pool_weights`).

`pool(method, ...)` dispatches on the method name. `pit_values` reads each CDF at one point, for calibration.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .grid import N_POINTS, U_GRID

POOL_METHODS = ("equal", "recency", "quantile", "skill")

# Probability levels at which the quantile pool averages the quantile functions (evenly spaced, 1/2^18 apart).
# The level grid costs at most 2 / QUANTILE_LEVELS (7.6e-6) of probability anywhere, 3e-6 measured (in the far tails,
# where the pooled CDF between 0 and the first level is a straight line); the 201-point grid's own interpolation
# error, h^2/8 max|F''|, is 3.1e-6 / s^2 x 0.24 for a normal of sd s (in u): 1.9e-5 at s = 0.2, 8.4e-6 at s = 0.3.
# So the grid dominates for any forecast narrower than about a third of the range. The work is per grid point, not per
# level, so 2^18 levels cost about what 2^16 do; at 2^20 the level sums (16 MB) no longer stay in cache and the pool
# takes 3-4x as long.
QUANTILE_LEVELS = 2**18
# A conditional CDF may decrease by this much (round-off in a caller's arithmetic) before the quantile pool refuses it.
_DECREASE_TOLERANCE = 1e-10


def linear_pool(cdfs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted average of CDFs (n, 201) -> (201,). Weights default to equal and are normalised to sum to 1.

    A linear pool of valid CDFs is a valid CDF (round-off is clipped away). ValueError for bad shapes or weights.
    """
    cdfs = _checked_cdfs(cdfs)
    if weights is None:
        w = np.full(cdfs.shape[0], 1.0 / cdfs.shape[0])
    else:
        w = _normalised(weights, cdfs.shape[0])
    pooled = w @ cdfs
    # The mass above is the weighted mean of the masses above: exactly 0 when every forecast has 0 there (a closed
    # side), where 1 - (weights summing to 1 - ulp) would leave a spurious 1e-16.
    pooled[-1] = 1.0 - float(w @ (1.0 - cdfs[:, -1]))
    return np.maximum.accumulate(np.clip(pooled, 0.0, 1.0))


def metaculus_recency_weights(n: int) -> np.ndarray:
    """Metaculus's community-prediction weights for n current predictions ordered oldest first: the k-th gets
    e^(sqrt(k) - sqrt(n)), k = 1..n, so the newest weighs 1 and older ones less; all equal when n <= 2.
    Normalised to sum to 1."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError("n must be a positive integer")
    if n <= 2:
        return np.full(n, 1.0 / n)
    # sqrt(k) - sqrt(n) is in (-sqrt(n), 0]: exp never overflows, and underflows only past n ~ 5e5.
    w = np.exp(np.sqrt(np.arange(1, n + 1, dtype=np.float64)) - math.sqrt(n))
    return w / w.sum()


def quantile_pool(cdfs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Vincentization of CDFs (n, 201) -> (201,): the mean of the quantile functions, on the u axis.

    With weights w (default equal, normalised):
    - the pooled mass below the range is sum w_i cdf_i[0], the mass above sum w_i (1 - cdf_i[200]);
    - inside the range, each prediction's in-range part, G_i(u) = (F_i(u) - F_i(0)) / m_i with m_i = F_i(1) - F_i(0),
      linear between grid points, has a quantile function u_i(p), and the pool's in-range part is the CDF of
      sum v_i u_i(p), rescaled to fill sum w_i m_i. On a log question u is linear in ln x, so this is the geometric
      mean of the x values at each probability.
    - The in-range average weighs each prediction by v_i proportional to w_i m_i, its share of the linear pool's in-range
      mass: a prediction with nothing inside the range has no quantile function there and drops out, and one with
      almost nothing inside counts almost nothing (with v_i = w_i, a forecast with 1e-12 of its mass inside would
      move the in-range shape as much as one with all of it). When no prediction has mass inside, the pool is flat
      inside. Where every m_i is equal (e.g. no tails), v_i = w_i.
    - Flat stretches of G_i (no mass) are jumps of u_i, and every G_i is continuous (its mass is in the bins), so
      u_i is well defined everywhere: u_i(p) = the length of {u in [0, 1]: G_i(u) < p}, and u_i(0) is taken as its
      right limit, where the support begins.

    The average is formed exactly at QUANTILE_LEVELS + 1 evenly spaced levels, and the pooled CDF is read off it by
    linear interpolation: at most 2 / QUANTILE_LEVELS of probability from the exact pool of the piecewise-linear
    inputs (see QUANTILE_LEVELS). With one contributing prediction the pool is that prediction, returned as it is.
    The work is one compiled pass over the rows (`_quantile_level_sums`), linear in n x 201.

    ValueError for bad shapes or weights, tails outside [0, 1], or a contributing row that is not a non-decreasing CDF.
    """
    cdfs = _checked_cdfs(cdfs)
    n = cdfs.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else _normalised(weights, n)
    first, last = cdfs[:, 0], cdfs[:, -1]
    if not (np.all((first >= 0) & (first <= last) & (last <= 1))):  # also False for NaN
        raise ValueError("each CDF needs 0 <= cdf[0] <= cdf[200] <= 1")
    below = float(w @ first)
    above = float(w @ (1.0 - last))
    in_mass = w * (last - first)
    total_in = float(in_mass.sum())
    inside = max(0.0, 1.0 - below - above)
    if not total_in > 0:
        shape = np.zeros(N_POINTS)  # nothing inside: flat, and `inside` is 0 up to round-off
    else:
        v = in_mass / total_in
        contributing = np.flatnonzero(v > 0)
        if contributing.size == 1:
            row = cdfs[contributing[0]]
            shape = (row - row[0]) / (row[-1] - row[0])
            if not np.all(np.diff(shape) >= -_DECREASE_TOLERANCE):
                raise ValueError(f"cdfs[{contributing[0]}] is not a non-decreasing CDF")
        else:
            shape = _vincentized_shape(cdfs, v)
    pooled = below + inside * shape
    pooled[0], pooled[-1] = below, 1.0 - above
    return np.maximum.accumulate(np.clip(pooled, 0.0, 1.0))


def _vincentized_shape(cdfs: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The CDF on U_GRID (0 at u = 0, 1 at u = 1) of sum v_i u_i(p), v summing to 1 (see quantile_pool)."""
    levels = QUANTILE_LEVELS
    sums = np.zeros((levels + 1, 2))
    start, end, bad = _quantile_level_sums(cdfs, v, levels, _DECREASE_TOLERANCE, sums)
    if bad >= 0:
        raise ValueError(f"cdfs[{bad}] is not a non-decreasing CDF (NaN, or a decrease beyond round-off)")
    p = np.arange(levels + 1, dtype=np.float64) / levels
    # A knot in bin j (j/K <= t < (j+1)/K) counts at the levels above it: j + 1 and up.
    slope = np.zeros(levels + 1)
    offset = np.zeros(levels + 1)
    np.cumsum(sums[:-1, 0], out=slope[1:])
    np.cumsum(sums[:-1, 1], out=offset[1:])
    u_mean = p * slope + offset
    u_mean[0], u_mean[-1] = start, end
    u_mean = np.maximum.accumulate(u_mean)  # round-off in the sums must not make the interpolation table decrease
    shape = np.interp(U_GRID, u_mean, p)
    shape[0], shape[-1] = 0.0, 1.0
    return shape


@numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy")
def _quantile_level_sums(cdfs, v, levels, tolerance, sums):  # pragma: no cover - compiled; tested through the pool
    """Accumulate, for every row i with v[i] > 0, v_i u_i(p) at the levels p = l / levels, as two sums per level bin.

    u_i(p) = sum over the 200 segments [a, b] of G_i of h * clip((p - a) / (b - a), 0, 1): a ramp per segment. A ramp
    is c (max(p - a, 0) - max(p - b, 0)) with c = h / (b - a), so the whole sum at p is p * S(p) - T(p) where S and T
    add, over the segment ends t below p, c at a start and -c at an end (S), and c t likewise (T). Each grid point
    adds to one level bin: sums[bin, 0] for S and sums[bin, 1] for -T; running totals over the bins give the sums at
    every level, so the cost is one pass over the rows whatever the number of levels.

    A segment narrower than 1 / levels (a near-flat stretch of G: little mass) would make c huge, and S a difference
    of huge numbers; its slope is capped at h * levels and the rest of its h is added as a step at b (e below). That
    changes the sum only at the one level, if any, inside the segment, by less than that segment's h: a shift of
    less than 1 / levels in p (see QUANTILE_LEVELS), and exact wherever no level falls inside a near-flat segment.

    Returns (start, end, bad): sum v_i u_i(0+), sum v_i u_i(1) (where the supports begin and end), and the first row
    that is not a non-decreasing CDF, or -1.
    """
    n, points = cdfs.shape
    h = 1.0 / (points - 1)
    narrow = 1.0 / levels
    start = 0.0
    end = 0.0
    for i in range(n):
        wh = v[i] * h
        if wh == 0.0:
            continue
        f0 = cdfs[i, 0]
        mass = cdfs[i, points - 1] - f0
        a = 0.0  # G at the segment's start (exactly 0 at u = 0)
        bin_a = 0
        c_prev = 0.0  # the previous segment's slope and step: they end at a
        e_prev = 0.0
        flat_at_zero = 0
        below_one = 0
        for k in range(1, points):
            b = (cdfs[i, k] - f0) / mass  # exactly 1 at k = points - 1
            if not a <= b <= 1.0:  # NaN, a decrease, or above the last point (a decrease further on)
                if not a - tolerance <= b <= 1.0 + tolerance:
                    return start, end, i
                b = min(max(b, a), 1.0)  # round-off: flatten it, and keep every bin index within the levels
            dg = b - a
            c = wh / max(dg, narrow)
            change = c - c_prev  # segment k - 1 starts at a, the previous one ends there
            sums[bin_a, 0] += change
            sums[bin_a, 1] += e_prev - change * a
            flat_at_zero += b == 0.0
            below_one += a < 1.0
            c_prev = c
            e_prev = wh - c * dg
            a = b
            bin_a = int(b * levels)
        sums[bin_a, 0] -= c_prev  # the last segment ends at G = 1
        sums[bin_a, 1] += e_prev + c_prev * a
        start += flat_at_zero * wh
        end += below_one * wh
    return start, end, -1


def skill_pool_weights(mean_skill: np.ndarray, counts: np.ndarray, *, min_count: int) -> np.ndarray:
    """Weights for the `skill` pool, one per current prediction, from its author's track record on earlier questions:
    `mean_skill` (nats, mean over the scored questions of the prediction's skill over the prior) and `counts` (how many
    questions were scored). Normalised to sum to 1; every weight positive and finite.

    - An author with at least `min_count` scored questions has a record: weight proportional to e^(mean_skill). The
      exponent is the author's mean log-score gain over the prior, so e^(mean_skill) is the geometric mean over their
      questions of how many times more probability their prediction gave the expert's posterior than the prior did;
      a lead of 1 nat earns e times the weight (the multiplicative-weights rule, on the mean so that a long record
      does not by itself multiply an author's weight). Exponents are taken relative to the best record, and at most
      700 below it, so nothing overflows or underflows to 0.
    - An author below `min_count` is weighted as the average author with a record: too few questions to tell.
    - When nobody reaches `min_count`, all weights are equal.

    `mean_skill` may be NaN where the count is below `min_count` (a track record's mean is null when nothing is
    scored); where the count reaches it, it must be finite. ValueError otherwise, or for bad shapes or counts.
    """
    if isinstance(min_count, bool) or not isinstance(min_count, int | np.integer) or min_count < 1:
        raise ValueError("min_count must be a positive integer")
    skill = np.asarray(mean_skill, dtype=np.float64)
    count = np.asarray(counts)
    if skill.ndim != 1 or skill.size == 0 or count.shape != skill.shape:
        raise ValueError("mean_skill and counts must be non-empty 1-D arrays of the same length")
    if not np.issubdtype(count.dtype, np.integer) or np.any(count < 0):
        raise ValueError("counts must be integers >= 0")
    n = skill.size
    qualified = count >= min_count
    if not qualified.any():
        return np.full(n, 1.0 / n)
    record = skill[qualified]
    if not np.all(np.isfinite(record)):
        raise ValueError("mean_skill must be finite where counts reach min_count")
    raw = np.exp(np.maximum(record - record.max(), -700.0))
    w = np.empty(n)
    w[qualified] = raw
    w[~qualified] = raw.mean()
    return w / w.sum()


def pit_values(cdfs: np.ndarray, u: float | np.ndarray) -> np.ndarray:
    """Probability integral transform: each CDF (n, 201) read at the point u of the transformed axis -> (n,).

    `u` is one value for all rows, or one per row ((n,): a user's predictions on several questions at once). Inside
    [0, 1] the value is the CDF there, linear between grid points. Beyond the range the CDF jumps over a tail mass, and
    the value is the middle of the jump (the mean of a randomised PIT): cdf[0] / 2 for u < 0 (-inf included: an
    outcome "below"), (cdf[200] + 1) / 2 for u > 1 (+inf: "above"). A calibrated forecaster's values are uniform on
    [0, 1]. ValueError for NaN or a bad shape.
    """
    cdfs = _checked_cdfs(cdfs)
    n = cdfs.shape[0]
    at = np.asarray(u, dtype=np.float64)
    if at.ndim == 0:
        at = np.full(n, float(at))
    if at.shape != (n,):
        raise ValueError(f"u must be a number or have shape ({n},), got {at.shape}")
    if np.isnan(at).any():
        raise ValueError("u must not be NaN")
    x = np.clip(at, 0.0, 1.0) * (N_POINTS - 1)
    left = np.minimum(x.astype(np.intp), N_POINTS - 2)
    frac = x - left
    rows = np.arange(n)
    inside = cdfs[rows, left] * (1.0 - frac) + cdfs[rows, left + 1] * frac
    return np.where(at < 0, cdfs[:, 0] / 2, np.where(at > 1, (cdfs[:, -1] + 1.0) / 2, inside))


def pool(
    method: str,
    cdfs: np.ndarray,
    *,
    created_order: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The crowd's pooled CDF (201,) of the current predictions' CDFs (n, 201) by one of POOL_METHODS.

    - `created_order`: when each prediction was made, any values that sort oldest first (datetimes, timestamps, ids);
      used by ``recency`` (ties keep row order), accepted and ignored by the others. Without it the rows are taken to
      be oldest first.
    - `weights`: required by ``skill`` (from `skill_pool_weights`), refused by the others, which have their own.

    ValueError naming the allowed methods for an unknown one, and for missing or misplaced arguments.
    """
    if method not in POOL_METHODS:
        raise ValueError(f"unknown pooling method {method!r}; allowed: {', '.join(POOL_METHODS)}")
    if method == "skill":
        if weights is None:
            raise ValueError("the skill pool needs weights (skill_pool_weights)")
        return linear_pool(cdfs, weights)
    if weights is not None:
        raise ValueError(f"the {method} pool takes no weights: only skill does")
    if method == "equal":
        return linear_pool(cdfs)
    if method == "quantile":
        return quantile_pool(cdfs)
    cdfs = _checked_cdfs(cdfs)
    n = cdfs.shape[0]
    by_age = metaculus_recency_weights(n)
    if created_order is None:
        return linear_pool(cdfs, by_age)
    order = np.asarray(created_order)
    if order.shape != (n,):
        raise ValueError(f"created_order must have shape ({n},), got {order.shape}")
    w = np.empty(n)
    w[np.argsort(order, kind="stable")] = by_age
    return linear_pool(cdfs, w)


def _checked_cdfs(cdfs: np.ndarray) -> np.ndarray:
    cdfs = np.asarray(cdfs, dtype=np.float64)
    if cdfs.ndim != 2 or cdfs.shape[1] != N_POINTS or cdfs.shape[0] == 0:
        raise ValueError(f"cdfs must have shape (n, {N_POINTS}) with n >= 1, got {cdfs.shape}")
    return cdfs


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
    `half_life` places newer. Normalised to sum to 1. (The `recency` pool uses `metaculus_recency_weights`.)"""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError("n must be a positive integer")
    if not (np.isfinite(half_life) and half_life > 0):
        raise ValueError("half_life must be finite and > 0")
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    w = np.exp2(-age / half_life)
    return w / w.sum()


def skill_weights(skills: np.ndarray) -> np.ndarray:
    """Weights proportional to the positive part of each skill; equal weights when no skill is positive.
    (The `skill` pool uses `skill_pool_weights`, from track records.)"""
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
