"""Score many predicted posteriors against the expert's posterior in one vectorised pass.

All inputs are canonical CDFs on the 201-point grid; the 202 masses are [below lower, 200 bins, above upper].

- Log-based scores (kl, log_score, skill) use the prediction mixed with a small uniform,
  Q' = (1 - m) Q + m U, where U spreads equally over the 200 bins plus each OPEN tail (a closed tail gets 0), so that
  no log is of zero. The prior is mixed the same way; the posterior P is not mixed.
- CRPS and Wasserstein-1 are computed on the CDFs as given (they need no mixing: an empty bin costs nothing special),
  on the transformed axis u in [0, 1], with each CDF piecewise linear between grid points. The tail masses enter
  through F(0) = mass below and F(1) = 1 - mass above.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .grid import N_POINTS

DEFAULT_UNIFORM_MIX = 0.01  # Metaculus mixes 1% uniform into predictions before log scoring
# Rows per block, chosen by measurement with two threads (512-1024 are within noise of each other; 256 is 1.4x slower).
# Smaller blocks keep more in the L2 cache (2 MB; a block of q and its one scratch array are 1.2 MB each here) but
# pay per numpy call, and with two threads every call is a GIL hand-over (a thread wake-up); also numpy's gufuncs
# (vecdot, matmul) keep the GIL when they loop over 500 rows or fewer, which serialised the old 256-row blocks.
BLOCK_ROWS = 768
TILE_ROWS = 32  # rows of the repeated posterior that q - F_P is computed against
SKILL_ROUNDOFF = 1e-12  # nats; skill differences this small are floating-point noise and reported as exactly 0
_H = 1.0 / (N_POINTS - 1)  # width of a grid segment on the u axis

_pool: ThreadPoolExecutor | None = None


def _threads() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="amplification-scoring")
    return _pool


@dataclass(frozen=True)
class Scores:
    """Per-prediction scores, each an (n,) float64 array.

    kl: KL(P || Q') in nats (lower is better); log_score: sum_i P_i ln Q'_i (higher is better);
    skill: KL(P || prior') - KL(P || Q') (positive: the prediction moved toward the posterior);
    crps: integral over u of (F_P - F_Q)^2; wasserstein: integral over u of |F_P - F_Q| (both lower is better).
    """

    kl: np.ndarray
    log_score: np.ndarray
    skill: np.ndarray
    crps: np.ndarray
    wasserstein: np.ndarray


def _as_cdf(values: np.ndarray, name: str, open_lower: bool, open_upper: bool) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.shape != (N_POINTS,):
        raise ValueError(f"{name} must have shape ({N_POINTS},), got {a.shape}")
    if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1 or np.any(np.diff(a) < -1e-12):
        raise ValueError(f"{name} must be a CDF: finite, within [0, 1], non-decreasing")
    if (not open_lower and a[0] > 1e-12) or (not open_upper and a[-1] < 1 - 1e-12):
        raise ValueError(f"{name} puts probability beyond a closed bound")
    return a


def _masses(cdf: np.ndarray) -> np.ndarray:
    return np.concatenate([cdf[:1], np.diff(cdf), 1.0 - cdf[-1:]])


class _Plan:
    """Everything that does not depend on the prediction, worked out once per call.

    Blocks are handled as flat arrays of BLOCK_ROWS * 201 values: a flat `x[1:] - x[:-1]` gives, for each row, its
    200 bin masses followed by one junk value (next row's first minus this row's last), which is overwritten or
    ignored. Contiguous 1-D operations run at full SIMD speed, unlike strided (n, 200) views.
    """

    def __init__(self, posterior: np.ndarray, mix: float, open_lower: bool, open_upper: bool):
        p = np.clip(_masses(posterior), 0.0, None)
        # The posterior repeated TILE_ROWS times: q - F_P runs as (b / TILE_ROWS, TILE_ROWS * 201) minus this
        # (a long inner loop, and 51 KB instead of a block-sized copy competing with q for the L2 cache)
        self.posterior_tiled = _aligned(TILE_ROWS * N_POINTS)
        self.posterior_tiled.reshape(TILE_ROWS, N_POINTS)[:] = posterior
        self.posterior_first = float(posterior[0])
        self.posterior_last = float(posterior[-1])
        self.mix = mix
        cells = (N_POINTS - 1) + int(open_lower) + int(open_upper)
        uniform = np.full(N_POINTS + 1, 1.0 / cells)
        uniform[0] = 1.0 / cells if open_lower else 0.0
        uniform[-1] = 1.0 / cells if open_upper else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.entropy_term = float(np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)))
            # mix == 1: every mixed prediction is the uniform itself
            self.constant_log_score = float(np.sum(np.where(p > 0, p * np.log(uniform), 0.0)))
        self.ones = np.ones(N_POINTS)
        self.scaled = mix < 1.0
        if not self.scaled:
            return
        # ln((1-m) Q + m U) = ln(1-m) + ln(Q + c), c = m U / (1-m): one scalar add per cell instead of two ops.
        # A closed tail's posterior mass is 0 (checked), so its column is dropped below and its shift never matters.
        self.shift = float(mix / (1.0 - mix) / cells)
        self.shift_below = self.shift if open_lower else 0.0
        self.log_scale = float(np.log1p(-mix)) * float(p.sum())
        # Weights for the (rows, 201) view: 200 bins then the mass above; mass below is handled as a column apart.
        self.weights = np.concatenate([p[1:-1], p[-1:]])
        self.weight_below = float(p[0])
        # Cells where P = 0 contribute 0 ln 0 = 0: they are set to 1 before the log so an empty Q there is harmless.
        self.zero_cols = np.flatnonzero(self.weights == 0)


class _Sums:
    """Per-row raw sums, filled block by block (each block writes only its own rows), finished in `_finish`."""

    def __init__(self, n: int):
        self.log_raw = np.empty(n)  # sum over the 200 bins and the mass above of P ln(Q + c)
        self.sq = np.empty(n)  # sum d^2
        self.cross = np.empty(n)  # sum over segments d0 d1
        self.abs = np.empty(n)  # sum |d|
        self.low = np.empty(n)  # Q's CDF at u = 0 (the mass below)
        self.high = np.empty(n)  # and at u = 1
        # Per block, the segments where d changes sign: flat index (row * 201 + segment) and |d| at both ends
        self.crossings: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * -(-n // BLOCK_ROWS)


def _aligned(size: int, dtype=np.float64) -> np.ndarray:
    """An empty 1-D array starting on a 64-byte boundary: AVX-512 stores to a misaligned output split across cache
    lines, which doubles the time of a cache-resident binary op (measured: subtract 8.4 ms vs 4.2 ms per 20 M)."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(size * itemsize + 64, dtype=np.uint8)
    offset = -raw.ctypes.data % 64
    return raw[offset : offset + size * itemsize].view(dtype)


class _Buffers:
    """One thread's scratch space for one block: one float64 array and two flag arrays."""

    def __init__(self, rows: int):
        size = rows * N_POINTS
        self.x = _aligned(size)  # the masses, then (once they are used) the CDF difference d
        self.neg = _aligned(size + 1, np.bool_)
        self.neg[:] = False
        self.flips = _aligned(size, np.bool_)


def _block(plan: _Plan, q: np.ndarray, sums: _Sums, start: int, bufs: _Buffers) -> None:
    """Raw sums of rows q (b, 201) into sums.*[start:start+b]: 12 passes over the block, only the first of which
    reads q from memory. Row sums go through BLAS gemv (np.dot, which releases the GIL) or np.vecdot."""
    b = q.shape[0]
    stop = start + b
    size = b * N_POINTS
    qf = q.reshape(-1)
    m = d = bufs.x[:size]
    m2 = d2 = m.reshape(b, N_POINTS)

    # --- log scores: S = sum_i P_i ln Q'_i (4 passes: difference, shift, log, gemv)
    if plan.scaled:
        np.subtract(qf[1:], qf[:-1], out=m[:-1])  # the one pass that streams q from memory
        np.subtract(1.0, q[:, -1], out=m2[:, -1])  # mass above replaces the junk column
        np.add(m, plan.shift, out=m)
        if plan.zero_cols.size:
            m2[:, plan.zero_cols] = 1.0
        np.log(m, out=m)  # a zero mass (only when uniform_mix == 0) gives -inf; errstate is set by the caller
        np.dot(m2, plan.weights, out=sums.log_raw[start:stop])

    # --- CRPS and Wasserstein on the piecewise-linear CDF difference d(u) (sign irrelevant: d = F_Q - F_P)
    whole = b - b % TILE_ROWS
    if whole:
        span = TILE_ROWS * N_POINTS
        np.subtract(qf[: whole * N_POINTS].reshape(-1, span), plan.posterior_tiled, out=d2[:whole].reshape(-1, span))
    if whole < b:
        np.subtract(q[whole:], plan.posterior_tiled[:N_POINTS], out=d2[whole:])
    np.copyto(sums.low[start:stop], q[:, 0])  # two 1-D copies: a (b, 2) one costs 10x more (a 2-long inner loop)
    np.copyto(sums.high[start:stop], q[:, -1])
    # CRPS needs sum d^2 and sum over segments of d0 d1: two row-wise dot products, read-only passes. (numpy
    # releases the GIL in a gufunc such as vecdot only above 500 rows: one reason BLOCK_ROWS is above that.)
    np.vecdot(d2, d2, out=sums.sq[start:stop])
    np.vecdot(d2[:, :-1], d2[:, 1:], out=sums.cross[start:stop])
    # Wasserstein: per segment h (|d0| + |d1|) / 2, less h |d0||d1| / (|d0| + |d1|) where d changes sign inside
    # it (the exact area of the two triangles either side of the crossing). Crossings are few: handled sparsely.
    neg, flips = bufs.neg, bufs.flips[:size]
    np.less(d, 0.0, out=neg[:size])
    np.not_equal(neg[1 : size + 1], neg[:size], out=flips)  # flips[size - 1] reads a stale flag: it is junk
    flips[N_POINTS - 1 :: N_POINTS] = False  # the junk pair between rows
    idx = np.flatnonzero(flips)
    np.abs(d, out=d)
    np.dot(d2, plan.ones, out=sums.abs[start:stop])
    if idx.size:
        sums.crossings[start // BLOCK_ROWS] = (idx + start * N_POINTS, d[idx], d[idx + 1])


def _score_blocks(plan: _Plan, q: np.ndarray, sums: _Sums, next_block, bufs: _Buffers) -> None:
    """Score blocks taken from the shared counter until none is left (threads balance themselves)."""
    n = q.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):  # once per thread: errstate costs microseconds to enter
        while True:
            k = next(next_block)
            start = k * BLOCK_ROWS
            if start >= n:
                return
            _block(plan, q[start : start + BLOCK_ROWS], sums, start, bufs)


def _finish(plan: _Plan, sums: _Sums, out: Scores, prior_log_score: float, lo: int, hi: int) -> None:
    """Turn the raw sums of rows lo:hi into scores, in place (same operations, in the same order, as per row)."""
    k = hi - lo
    rows = slice(lo, hi)
    tmp = np.empty(k)
    low, high = sums.low[rows], sums.high[rows]
    log_score = out.log_score[rows]  # is sums.log_raw
    with np.errstate(divide="ignore", invalid="ignore"):
        if plan.scaled:
            if plan.weight_below > 0:
                np.add(low, plan.shift_below, out=tmp)
                np.log(tmp, out=tmp)
                tmp *= plan.weight_below
                log_score += tmp
            log_score += plan.log_scale
        else:
            log_score[:] = plan.constant_log_score
        np.subtract(plan.entropy_term, log_score, out=out.kl[rows])
        # skill = KL(P||prior') - KL(P||Q') = log_score - prior_log_score (the entropy term cancels exactly)
        skill = out.skill[rows]
        np.subtract(log_score, prior_log_score, out=skill)
        # The prior is scored as a one-row block, whose dot products may round differently from the big blocks'; a
        # prediction identical to the prior must earn exactly the zero that "predict no change" is defined to earn.
        skill[np.abs(skill) <= SKILL_ROUNDOFF] = 0.0
    first = np.subtract(low, plan.posterior_first, out=low)
    last = np.subtract(high, plan.posterior_last, out=high)
    # CRPS: per segment the integral of a squared linear function is h (d0^2 + d0 d1 + d1^2) / 3; summed over the
    # 200 segments: h/3 * (2 sum d^2 - d_first^2 - d_last^2 + sum d0 d1)
    crps = np.multiply(sums.sq[rows], 2.0, out=out.crps[rows])
    crps -= np.multiply(first, first, out=tmp)
    crps -= np.multiply(last, last, out=tmp)
    crps += sums.cross[rows]
    crps *= _H / 3.0
    w = np.multiply(sums.abs[rows], 2.0, out=out.wasserstein[rows])
    w -= np.abs(first, out=tmp)
    w -= np.abs(last, out=tmp)
    parts = [p for p in sums.crossings[lo // BLOCK_ROWS : -(-hi // BLOCK_ROWS)] if p is not None]
    if parts:
        flat, a, c = (np.concatenate(x) for x in zip(*parts, strict=True))
        # d0 d1 < 0 exactly as a float product: signs differ and |d0| |d1| neither is 0 nor underflows to 0
        keep = a * c > 0.0
        flat, a, c = flat[keep], a[keep], c[keep]
        w -= np.bincount(flat // N_POINTS - lo, weights=2.0 * a * c / (a + c), minlength=k)
    w *= _H / 2.0


def _score(plan: _Plan, q: np.ndarray, threads: int, prior_log_score: float = 0.0) -> Scores:
    """All five scores for the rows of q: blocks first (threads take the next block as they free up), then finishing."""
    n = q.shape[0]
    sums = _Sums(n)
    out = Scores(kl=np.empty(n), log_score=sums.log_raw, skill=np.empty(n), crps=np.empty(n), wasserstein=np.empty(n))
    rows = min(BLOCK_ROWS, max(n, 1))
    blocks = itertools.count()  # next() on it is atomic under the GIL
    if threads == 1 or n <= BLOCK_ROWS:
        _score_blocks(plan, q, sums, blocks, _Buffers(rows))
        _finish(plan, sums, out, prior_log_score, 0, n)
        return out
    # numpy releases the GIL inside its loops (and in a gufunc such as vecdot or matmul only above 500 rows), so
    # the threads' blocks run in parallel; then each thread finishes a share of the rows.
    pool = _get_pool()
    for f in [pool.submit(_score_blocks, plan, q, sums, blocks, _Buffers(rows)) for _ in range(threads)]:
        f.result()
    n_blocks = -(-n // BLOCK_ROWS)
    cuts = [min(n, n_blocks * i // threads * BLOCK_ROWS) for i in range(threads + 1)]
    for f in [pool.submit(_finish, plan, sums, out, prior_log_score, cuts[i], cuts[i + 1]) for i in range(threads)]:
        f.result()
    return out


def score_predictions(
    predictions: np.ndarray,
    posterior: np.ndarray,
    prior: np.ndarray,
    *,
    open_lower: bool,
    open_upper: bool,
    uniform_mix: float = DEFAULT_UNIFORM_MIX,
) -> Scores:
    """Score predicted posteriors (n, 201 CDFs) against the expert's posterior and prior (201-point CDFs).

    Predictions are trusted to be valid CDFs (as `from_spec` makes them); posterior and prior are checked.
    KL(P || Q') is +inf only when uniform_mix == 0 and the prediction puts zero mass where the posterior has some.
    """
    q = np.asarray(predictions, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != N_POINTS:
        raise ValueError(f"predictions must have shape (n, {N_POINTS}), got {q.shape}")
    if not (0.0 <= uniform_mix <= 1.0):
        raise ValueError("uniform_mix must be within [0, 1]")
    q = np.ascontiguousarray(q)
    posterior_cdf = _as_cdf(posterior, "posterior", open_lower, open_upper)
    prior_cdf = _as_cdf(prior, "prior", open_lower, open_upper)
    plan = _Plan(posterior_cdf, float(uniform_mix), bool(open_lower), bool(open_upper))

    # The prior is scored first, as a one-row block, so that the threads can finish skill too.
    prior_log_score = float(_score(plan, prior_cdf[None, :], 1).log_score[0])
    return _score(plan, q, _threads(), prior_log_score)
