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

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .grid import N_POINTS

DEFAULT_UNIFORM_MIX = 0.01  # Metaculus mixes 1% uniform into predictions before log scoring
BLOCK_ROWS = 256  # rows per block: the few (256 x 201) float64 scratch buffers stay in the 2 MB L2 cache
SKILL_ROUNDOFF = 1e-12  # nats; skill differences this small are floating-point noise and reported as exactly 0
_H = 1.0 / (N_POINTS - 1)  # width of a grid segment on the u axis
_EIGHT = np.arange(8)

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
    given zero weight. Contiguous 1-D operations run at full SIMD speed, unlike strided (n, 200) views.
    """

    def __init__(self, posterior: np.ndarray, mix: float, open_lower: bool, open_upper: bool, rows: int):
        p = np.clip(_masses(posterior), 0.0, None)
        self.posterior_tiled = np.tile(posterior, rows)
        self.mix = mix
        cells = (N_POINTS - 1) + int(open_lower) + int(open_upper)
        uniform = np.full(N_POINTS + 1, 1.0 / cells)
        uniform[0] = 1.0 / cells if open_lower else 0.0
        uniform[-1] = 1.0 / cells if open_upper else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.entropy_term = float(np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)))
            # mix == 1: every mixed prediction is the uniform itself
            self.constant_log_score = float(np.sum(np.where(p > 0, p * np.log(uniform), 0.0)))
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
        self.pair_weights = np.ones(N_POINTS)
        self.pair_weights[-1] = 0.0  # the junk product between rows
        self.ones = np.ones(N_POINTS)


def _block(plan: _Plan, q: np.ndarray, out: dict, start: int, bufs: dict) -> None:
    """Score rows q (b, 201) into out[...][start:start+b], reusing the scratch buffers."""
    b = q.shape[0]
    size = b * N_POINTS
    qf = q.reshape(-1)
    m, d, s, neg = bufs["m"][:size], bufs["d"][:size], bufs["s"][:size], bufs["neg"]
    m2, d2, s2 = m.reshape(b, N_POINTS), d.reshape(b, N_POINTS), s.reshape(b, N_POINTS)

    # --- log scores: S = sum_i P_i ln Q'_i
    if plan.scaled:
        np.subtract(qf[1:], qf[:-1], out=m[:-1])
        np.subtract(1.0, q[:, -1], out=m2[:, -1])  # mass above replaces the junk column
        np.add(m, plan.shift, out=m)
        if plan.zero_cols.size:
            m2[:, plan.zero_cols] = 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log(m, out=m)
            log_score = m2 @ plan.weights
            if plan.weight_below > 0:
                log_score += plan.weight_below * np.log(q[:, 0] + plan.shift_below)
        log_score += plan.log_scale
    else:
        log_score = np.full(b, plan.constant_log_score)
    out["log_score"][start : start + b] = log_score

    # --- CRPS and Wasserstein on the piecewise-linear CDF difference d(u) (sign irrelevant: d = F_Q - F_P)
    np.subtract(qf, plan.posterior_tiled[:size], out=d)
    # CRPS: per segment the integral of a squared linear function is h (d0^2 + d0 d1 + d1^2) / 3; summed over the
    # 200 segments: h/3 * (2 sum d^2 - d_first^2 - d_last^2 + sum d0 d1)
    sq = np.einsum("ij,ij->i", d2, d2)
    np.multiply(d[1:], d[:-1], out=s[:-1])
    s[-1] = 0.0
    cross = s2 @ plan.pair_weights
    first, last = d2[:, 0], d2[:, -1]
    out["crps"][start : start + b] = (_H / 3.0) * (2.0 * sq - first * first - last * last + cross)
    # Wasserstein: per segment h (|d0| + |d1|) / 2, less h |d0||d1| / (|d0| + |d1|) where d changes sign inside
    # it (the exact area of the two triangles either side of the crossing). Crossings are few: handled sparsely.
    np.less(s, 0.0, out=neg[:size])
    neg[size : -(-size // 8) * 8] = False  # stale flags from a larger earlier block
    # Scan the flags 8 at a time (as uint64 words; the buffer is padded to a multiple of 8 with False), then look
    # at the few words that hold a crossing: an 8x shorter scan than np.flatnonzero over the bytes.
    words = np.flatnonzero(neg.view(np.uint64)[: -(-size // 8)])
    idx = (words[:, None] * 8 + _EIGHT).ravel()
    idx = idx[neg[idx]]
    idx = idx[idx % N_POINTS != N_POINTS - 1]  # the junk product between rows
    np.abs(d, out=d)
    w = 2.0 * (d2 @ plan.ones) - d2[:, 0] - d2[:, -1]
    if idx.size:
        a, c = d[idx], d[idx + 1]
        w -= np.bincount(idx // N_POINTS, weights=2.0 * a * c / (a + c), minlength=b)
    out["wasserstein"][start : start + b] = (_H / 2.0) * w


def _score_range(plan: _Plan, predictions: np.ndarray, out: dict, lo: int, hi: int) -> None:
    rows = min(BLOCK_ROWS, max(hi - lo, 1))
    size = rows * N_POINTS
    padded = -(-size // 8) * 8
    bufs = {"m": np.empty(size), "d": np.empty(size), "s": np.empty(size), "neg": np.zeros(padded, dtype=bool)}
    for start in range(lo, hi, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, hi)
        _block(plan, predictions[start:stop], out, start, bufs)


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
    n = q.shape[0]
    posterior_cdf = _as_cdf(posterior, "posterior", open_lower, open_upper)
    prior_cdf = _as_cdf(prior, "prior", open_lower, open_upper)
    plan = _Plan(posterior_cdf, float(uniform_mix), bool(open_lower), bool(open_upper), min(BLOCK_ROWS, max(n, 1)))

    out = {k: np.empty(n) for k in ("log_score", "crps", "wasserstein")}
    threads = _threads()
    if n <= BLOCK_ROWS or threads == 1:
        _score_range(plan, q, out, 0, n)
    else:
        # numpy releases the GIL inside its loops, so two threads over disjoint row ranges run in parallel.
        blocks = -(-n // BLOCK_ROWS)
        cuts = [min(n, (blocks * i // threads) * BLOCK_ROWS) for i in range(threads + 1)]
        futures = [_get_pool().submit(_score_range, plan, q, out, cuts[i], cuts[i + 1]) for i in range(threads)]
        for f in futures:
            f.result()

    prior_out = {k: np.empty(1) for k in out}
    _score_range(plan, prior_cdf[None, :], prior_out, 0, 1)
    prior_log_score = prior_out["log_score"][0]

    log_score = out["log_score"]
    kl = plan.entropy_term - log_score
    # skill = KL(P||prior') - KL(P||Q') = log_score - prior_log_score (the entropy term cancels exactly)
    skill = log_score - prior_log_score
    # The prior is scored as a one-row block, whose dot products may round differently from the big blocks'; a
    # prediction identical to the prior must earn exactly the zero that "predict no change" is defined to earn.
    skill[np.abs(skill) <= SKILL_ROUNDOFF] = 0.0
    return Scores(kl=kl, log_score=log_score, skill=skill, crps=out["crps"], wasserstein=out["wasserstein"])
