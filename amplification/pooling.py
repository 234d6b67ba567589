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

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numba
import numpy as np

from .grid import N_POINTS, U_GRID

POOL_METHODS = ("equal", "recency", "quantile", "skill")

# The quantile pool averages the quantile functions exactly at QUANTILE_LEVELS + 1 evenly spaced probability levels
# (1/2^20 apart) and reads the pooled CDF off them: at most 2 / QUANTILE_LEVELS (1.9e-6) of probability from the exact
# pool of the piecewise-linear inputs, about 0.75 / QUANTILE_LEVELS measured (in the far tails). The 201-point grid's
# own interpolation error, h^2/8 max|F''|, is 7.6e-7 / s^2 for a normal of sd s (in u): 1.9e-5 at s = 0.2, 2.1e-6 at
# s = 0.6. So the grid dominates for any forecast narrower than about half the range. (2^14 levels, 1.2e-4, would not.)
# The sums are formed in two passes whose tables stay in cache: _COARSE_LEVELS bins first, then _FINE_LEVELS levels
# inside only the coarse bins that hold a grid point. (One pass into one table of 2^20 levels, 16 MB, took 0.5-2 s for
# 100,000 rows here, as its scattered adds missed the cache; the two passes take about 0.2 s.)
QUANTILE_LEVELS = 2**20
_COARSE_LEVELS = 2**12
_FINE_LEVELS = QUANTILE_LEVELS // _COARSE_LEVELS
# Below this many rows a second thread costs more (hand-over, a second table to add) than it saves: measured, 1,000
# rows took 3.7 ms on one thread and 5.2 ms on two, 3,000 rows 19 ms and 13 ms.
_ROWS_PER_THREAD = 2_000
_executor: ThreadPoolExecutor | None = None
# A conditional CDF may decrease by this much (round-off in a caller's arithmetic) before the quantile pool refuses it.
_DECREASE_TOLERANCE = 1e-10


def linear_pool(cdfs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted average of CDFs (n, 201) -> (201,). Weights default to equal and are normalised to sum to 1.

    A linear pool of valid CDFs is a valid CDF (round-off is clipped away). ValueError for bad shapes or weights.
    """
    cdfs = _checked_cdfs(cdfs)
    n = cdfs.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else _normalised(weights, n)
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
    - The in-range average weighs each prediction by v_i proportional to w_i m_i, its share of the linear pool's
      in-range mass: a prediction with nothing inside the range has no quantile function there and drops out, and one
      with almost nothing inside counts almost nothing (with v_i = w_i, a forecast with 1e-12 of its mass inside would
      move the in-range shape as much as one with all of it). When no prediction has mass inside, the pool is flat
      inside. Where every m_i is equal (e.g. no tails), v_i = w_i.
    - Flat stretches of G_i (no mass) are jumps of u_i, and every G_i is continuous (its mass is in the bins), so
      u_i is well defined everywhere: u_i(p) = the length of {u in [0, 1]: G_i(u) < p}, and u_i(0) is taken as its
      right limit, where the support begins.

    The average is formed exactly at QUANTILE_LEVELS + 1 evenly spaced levels, and the pooled CDF is read off it by
    linear interpolation: at most 2 / QUANTILE_LEVELS of probability from the exact pool of the piecewise-linear
    inputs (see QUANTILE_LEVELS). With one contributing prediction the pool is that prediction, returned as it is.
    The work is two compiled passes over the rows (`_coarse_sums`, `_fine_sums`), linear in n x 201.

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
    """The CDF on U_GRID (0 at u = 0, 1 at u = 1) of sum v_i u_i(p), v summing to 1 (see quantile_pool).

    Levels are p = j / QUANTILE_LEVELS. The coarse pass gives the mean quantile at every _FINE_LEVELS-th level; the
    grid points u_k fall between two of those (their bracket, a coarse bin), and the fine pass gives it at every level
    inside those brackets only. Each u_k is then read off its bracket by linear interpolation."""
    coarse, fine = _COARSE_LEVELS, _FINE_LEVELS
    narrow = 1.0 / (coarse * fine)
    parts = _row_parts(cdfs.shape[0])
    tables = [np.zeros((coarse + 1, 2)) for _ in parts]
    found = _in_threads([
        partial(_coarse_sums, cdfs[lo:hi], v[lo:hi], coarse, narrow, _DECREASE_TOLERANCE, table)
        for (lo, hi), table in zip(parts, tables, strict=True)
    ])
    for (lo, _), (_, _, bad) in zip(parts, found, strict=True):
        if bad >= 0:
            raise ValueError(f"cdfs[{lo + bad}] is not a non-decreasing CDF (NaN, or a decrease beyond round-off)")
    sums = np.sum(tables, axis=0)
    start = sum(part[0] for part in found)
    end = sum(part[1] for part in found)
    # Knots in bin j (j/K <= t < (j+1)/K) count at the levels above them: j + 1 and up. `before` = the running sums
    # over the bins below each level: the slope and offset of the mean quantile there, u = p * slope + offset.
    before = np.zeros((coarse + 1, 2))
    np.cumsum(sums[:-1], axis=0, out=before[1:])
    p = np.arange(coarse + 1, dtype=np.float64) / coarse
    u_coarse = p * before[:, 0] + before[:, 1]
    u_coarse[0], u_coarse[-1] = start, end
    u_coarse = np.maximum.accumulate(u_coarse)  # round-off in the sums must not make the table decrease

    targets = U_GRID[1:-1]
    bracket = np.searchsorted(u_coarse, targets, side="right") - 1  # u_coarse[b] <= u_k < u_coarse[b + 1]
    inside = (bracket >= 0) & (bracket < coarse)  # else u_k is before the supports begin (0) or after they end (1)
    bins, which = np.unique(bracket[inside], return_inverse=True)
    slot = np.full(coarse + 1, -1, dtype=np.int64)
    slot[bins] = np.arange(bins.size)
    fine_tables = [np.zeros((bins.size, fine, 2)) for _ in parts]
    _in_threads([
        partial(_fine_sums, cdfs[lo:hi], v[lo:hi], fine.bit_length() - 1, narrow, slot, table)
        for (lo, hi), table in zip(parts, fine_tables, strict=True)
    ])
    fine_sums = np.sum(fine_tables, axis=0)

    # The mean quantile at the fine levels of each bracket: the coarse sums below the bracket plus the fine ones below
    # each level inside it; its two ends are the coarse values themselves.
    running = np.zeros((bins.size, fine + 1, 2))
    np.cumsum(fine_sums, axis=1, out=running[:, 1:])
    running += before[bins][:, None, :]
    p_fine = (bins[:, None] * fine + np.arange(fine + 1)) / (coarse * fine)
    u_fine = p_fine * running[..., 0] + running[..., 1]
    u_fine[:, 0], u_fine[:, -1] = u_coarse[bins], u_coarse[bins + 1]
    u_fine = np.maximum.accumulate(u_fine, axis=1)

    rows = u_fine[which]  # each grid point's bracket, (points inside, fine + 1)
    at = targets[inside]
    j = np.clip((rows <= at[:, None]).sum(axis=1) - 1, 0, fine - 1)
    left = np.take_along_axis(rows, j[:, None], axis=1)[:, 0]
    right = np.take_along_axis(rows, j[:, None] + 1, axis=1)[:, 0]
    width = right - left
    frac = np.where(width > 0, (at - left) / np.where(width > 0, width, 1.0), 0.0)
    shape = np.ones(N_POINTS)
    shape[0] = 0.0
    shape[1:-1][bracket < 0] = 0.0
    shape[1:-1][inside] = (bins[which] * fine + j + np.clip(frac, 0.0, 1.0)) / (coarse * fine)
    return shape


def _row_parts(n: int) -> list[tuple[int, int]]:
    """Rows split in one contiguous part per thread: two where there are two cores, and enough rows to pay for it."""
    threads = max(1, min(2, os.cpu_count() or 1)) if n >= _ROWS_PER_THREAD else 1
    bounds = [n * t // threads for t in range(threads + 1)]
    return list(itertools.pairwise(bounds))


def _in_threads(calls: list) -> list:
    """Run the calls (compiled passes that release the GIL, each on its own rows and table) in parallel."""
    if len(calls) == 1:
        return [calls[0]()]
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="amplification-pooling")
    return [future.result() for future in [_executor.submit(call) for call in calls]]


# The two passes share their arithmetic, so that a grid point lands in the same level bin in both.


@numba.njit(inline="always")
def _next_g(cdfs, i, k, f0, scale, a):
    """G_i at grid point k from its CDF, given G at k - 1 (a): exactly 1 at the last point, and round-off that would
    step below a or above 1 flattened (every level index stays within the tables)."""
    if k == cdfs.shape[1] - 1:
        return 1.0
    return min(max((cdfs[i, k] - f0) * scale, a), 1.0)


@numba.njit(inline="always")
def _segment(wh, a, b, narrow):
    """Slope c and step e of a segment [a, b] of G worth wh (see _coarse_sums)."""
    dg = b - a
    c = wh / max(dg, narrow)
    return c, wh - c * dg


@numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy")
def _coarse_sums(cdfs, v, coarse, narrow, tolerance, sums):
    """Accumulate, for every row i with v[i] > 0, v_i u_i(p) at the levels p = l / coarse, as two sums per level bin.

    u_i(p) = sum over the 200 segments [a, b] of G_i of h * clip((p - a) / (b - a), 0, 1): a ramp per segment. A ramp
    is c (max(p - a, 0) - max(p - b, 0)) with c = h / (b - a), so the whole sum at p is p * S(p) - T(p), where S adds
    c at each segment start below p and -c at each end below p, and T adds c t likewise at those points t. Each grid
    point adds to the one level bin it falls in: sums[bin, 0] to S, sums[bin, 1] to the offset -T (and the steps e
    below); running totals over the bins give both at every level, so the cost is one pass over the rows whatever the
    number of levels.

    A segment narrower than `narrow` (the final level spacing: a near-flat stretch of G, little mass) would make c
    huge and S a difference of huge numbers; its slope is capped at h / narrow and the rest of its h is added as a
    step at b (e). That changes the sum only at a level strictly inside such a segment (there is at most one), by less
    than its h: a shift of less than `narrow` in p.

    Returns (start, end, bad): sum v_i u_i(0+) and sum v_i u_i(1) (where the supports begin and end), and the first
    row that is not a non-decreasing CDF, or -1.
    """
    n, points = cdfs.shape
    h = 1.0 / (points - 1)
    start = 0.0
    end = 0.0
    for i in range(n):
        wh = v[i] * h
        if wh == 0.0:
            continue
        f0 = cdfs[i, 0]
        scale = 1.0 / (cdfs[i, points - 1] - f0)
        a = 0.0  # G at the segment's start (exactly 0 at u = 0)
        bin_a = 0
        c_prev = 0.0  # the previous segment's slope and step: they end at a
        e_prev = 0.0
        flat_at_zero = 0
        below_one = 0
        for k in range(1, points):
            raw = (cdfs[i, k] - f0) * scale
            if not a - tolerance <= raw <= 1.0 + tolerance:  # NaN, a decrease, or above the last point
                return start, end, i
            b = _next_g(cdfs, i, k, f0, scale, a)
            c, e = _segment(wh, a, b, narrow)
            change = c - c_prev  # segment k - 1 starts at a, the one before it ends there
            sums[bin_a, 0] += change
            sums[bin_a, 1] += e_prev - change * a
            flat_at_zero += b == 0.0
            below_one += a < 1.0
            c_prev, e_prev, a = c, e, b
            bin_a = int(b * coarse)
        sums[bin_a, 0] -= c_prev  # the last segment ends at G = 1
        sums[bin_a, 1] += e_prev + c_prev * a
        start += flat_at_zero * wh
        end += below_one * wh
    return start, end, -1


@numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy")
def _fine_sums(cdfs, v, shift, narrow, slot, sums):
    """The sums of `_coarse_sums` at the 2^shift levels inside each coarse bin that has a slot (slot[bin] >= 0):
    sums[slot, level inside the bin]. The rows were checked by the coarse pass. A grid point outside those bins costs
    a table look-up; the slope and step are computed only for the points that land in one."""
    n, points = cdfs.shape
    h = 1.0 / (points - 1)
    levels = float((slot.size - 1) << shift)
    inside_bin = (1 << shift) - 1
    for i in range(n):
        wh = v[i] * h
        if wh == 0.0:
            continue
        f0 = cdfs[i, 0]
        scale = 1.0 / (cdfs[i, points - 1] - f0)
        before = 0.0  # G at grid points k - 2, k - 1 (= a) and k (= b): the segments that meet at a
        a = 0.0
        for k in range(1, points):  # the last point, G = 1, is in the bin past the last, which never has a slot
            b = _next_g(cdfs, i, k, f0, scale, a)
            level = int(a * levels)
            s = slot[level >> shift]
            if s >= 0:
                c_prev, e_prev = _segment(wh, before, a, narrow) if k > 1 else (0.0, 0.0)
                c, _ = _segment(wh, a, b, narrow)
                change = c - c_prev
                sums[s, level & inside_bin, 0] += change
                sums[s, level & inside_bin, 1] += e_prev - change * a
            before, a = a, b


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
