"""Score many predicted posteriors against the expert's posterior, block by block on two threads.

Per block of rows, where numpy's float64 log is vectorised (AVX-512): one compiled read of the block
(amplification/kernel.py: mixed masses, CRPS, Wasserstein-1), numpy's log of the mixed masses, and a compiled dot
product with the posterior's masses. Elsewhere (AVX2) numpy's log is a libm call per value, 3-4x slower, and one
compiled read does all of it with a vectorised log of its own (`kernel.score_rows_with_logs`).

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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import kernel
from .grid import N_POINTS

DEFAULT_UNIFORM_MIX = 0.01  # Metaculus mixes 1% uniform into predictions before log scoring
# Rows per block: the unit of work the threads take turns at. With numpy's log, one thread's block of q and its
# scratch array (1.2 MB each at 768 rows) stay in its core's L2 cache between the kernel and the log (2 MB of L2 on the
# AVX-512 machine); chosen there by measurement with two threads (bench/bench_engine.py). The kernel with its own log
# keeps one row's scratch in L1 and needs nothing of the block size.
BLOCK_ROWS = 768
SKILL_ROUNDOFF = 1e-12  # nats; skill differences this small are floating-point noise and reported as exactly 0


def numpy_log_is_avx512() -> bool:
    """True where numpy runs its AVX-512 loop for the float64 log (its target for AVX-512 CPUs, named X86_V4 in numpy
    2.4, AVX512F or AVX512_SKX before). Its other targets call libm once per value."""
    target = np.lib.introspect.opt_func_info(func_name="^log$", signature="float64")["log"]["dd"]["current"]
    return str(target).startswith(("X86_V4", "AVX512"))


# Which log the scoring uses, decided once: numpy's where it is vectorised with AVX-512 (0.77 ns a value on the
# AVX-512 EPYC), the kernel's everywhere else (1.2 ns on the AVX2 EPYC, where numpy's takes 4.1 ns). Both are within
# 1 ulp of the exact log. Tests and the benchmark set it to run either path on one machine.
USE_NUMPY_LOG = numpy_log_is_avx512()

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
    """Everything that does not depend on the prediction, worked out once per call."""

    def __init__(self, posterior: np.ndarray, mix: float, open_lower: bool, open_upper: bool):
        p = np.clip(_masses(posterior), 0.0, None)
        self.posterior = np.array(posterior, dtype=np.float64)  # a writable copy: one compiled signature, not two
        cells = (N_POINTS - 1) + int(open_lower) + int(open_upper)
        uniform = np.full(N_POINTS + 1, 1.0 / cells)
        uniform[0] = 1.0 / cells if open_lower else 0.0
        uniform[-1] = 1.0 / cells if open_upper else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.entropy_term = float(np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)))
            # mix == 1: every mixed prediction is the uniform itself
            self.constant_log_score = float(np.sum(np.where(p > 0, p * np.log(uniform), 0.0)))
        self.scaled = mix < 1.0
        # ln((1-m) Q + m U) = ln(1-m) + ln(Q + c), c = m U / (1-m): one scalar add per cell, done by the kernel.
        # A closed tail's posterior mass is 0 (checked), so its column is dropped below and its shift never matters.
        self.shift = float(mix / (1.0 - mix) / cells) if self.scaled else 0.0
        self.shift_below = self.shift if open_lower else 0.0
        self.log_scale = float(np.log1p(-mix)) * float(p.sum()) if self.scaled else 0.0
        # Weights for the kernel's (rows, 201) output: 200 bins then the mass above; mass below is a column apart.
        self.weights = np.concatenate([p[1:-1], p[-1:]])
        self.weight_below = float(p[0])
        # Cells where P = 0 contribute 0 ln 0 = 0: the kernel writes 1 there so that an empty Q cell is harmless.
        self.keep = self.weights > 0


def _aligned(shape: tuple[int, int]) -> np.ndarray:
    """An empty float64 array starting on a 64-byte boundary: AVX-512 stores to a misaligned output split across
    cache lines, which doubles the time of a cache-resident pass such as the log."""
    size = shape[0] * shape[1]
    raw = np.empty(size * 8 + 64, dtype=np.uint8)
    offset = -raw.ctypes.data % 64
    return raw[offset : offset + size * 8].view(np.float64).reshape(shape)


def _score_blocks(plan: _Plan, q: np.ndarray, out: Scores, next_block: Iterator[int], rows: int) -> None:
    """Score blocks taken from the shared counter until none is left (threads balance themselves). Every step
    releases the GIL: the compiled loops (nogil) and numpy's log."""
    n = q.shape[0]
    # With its own log the kernel does everything in one call per block. numpy's log needs a scratch array: the
    # kernel's mixed masses, their logs in place, then the row dot products (and when uniform_mix == 1 there are no
    # logs to take: the log score is a constant, and the kernel that writes masses is the one that skips them).
    mixed = _aligned((rows, N_POINTS)) if USE_NUMPY_LOG or not plan.scaled else None
    with np.errstate(divide="ignore", invalid="ignore"):  # once per thread: errstate costs microseconds to enter
        while True:
            start = next(next_block) * BLOCK_ROWS
            if start >= n:
                return
            stop = min(n, start + BLOCK_ROWS)
            if mixed is None:
                kernel.score_rows_with_logs(
                    q[start:stop], plan.posterior, plan.shift, plan.weights,
                    out.log_score[start:stop], out.crps[start:stop], out.wasserstein[start:stop],
                )
                continue
            block = mixed[: stop - start]
            kernel.score_rows(
                q[start:stop], plan.posterior, plan.shift, plan.keep, block,
                out.crps[start:stop], out.wasserstein[start:stop],
            )
            if plan.scaled:
                np.log(block, out=block)  # a zero mass (only when uniform_mix == 0) gives -inf
                kernel.weighted_rows(block, plan.weights, out.log_score[start:stop])


def _finish(plan: _Plan, q: np.ndarray, out: Scores, prior_log_score: float) -> None:
    """Log score, KL and skill from the raw log sums, in place."""
    log_score = out.log_score
    with np.errstate(divide="ignore", invalid="ignore"):
        if plan.scaled:
            if plan.weight_below > 0:
                log_score += plan.weight_below * np.log(q[:, 0] + plan.shift_below)
            log_score += plan.log_scale
        else:
            log_score[:] = plan.constant_log_score
        np.subtract(plan.entropy_term, log_score, out=out.kl)
        # skill = KL(P||prior') - KL(P||Q') = log_score - prior_log_score (the entropy term cancels exactly)
        np.subtract(log_score, prior_log_score, out=out.skill)
        # A prediction identical to the prior must earn exactly the zero that "predict no change" is defined to earn.
        # The prior goes through the same per-row arithmetic as every prediction, so today the difference is exactly
        # 0; the guard keeps it so if a future kernel sums a lone row in another order than a block's rows.
        out.skill[np.abs(out.skill) <= SKILL_ROUNDOFF] = 0.0


def _score(plan: _Plan, q: np.ndarray, threads: int, prior_log_score: float = 0.0) -> Scores:
    """All five scores for the rows of q: blocks first (threads take the next block as they free up), then finishing."""
    n = q.shape[0]
    out = Scores(kl=np.empty(n), log_score=np.empty(n), skill=np.empty(n), crps=np.empty(n), wasserstein=np.empty(n))
    rows = min(BLOCK_ROWS, max(n, 1))
    blocks = itertools.count()  # next() on it is atomic under the GIL
    if threads == 1 or n <= BLOCK_ROWS:
        _score_blocks(plan, q, out, blocks, rows)
    else:
        pool = _get_pool()
        for f in [pool.submit(_score_blocks, plan, q, out, blocks, rows) for _ in range(threads)]:
            f.result()
    _finish(plan, q, out, prior_log_score)
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
    KL(P || Q') is +inf only when uniform_mix == 0 and the prediction puts zero mass where the posterior has some;
    skill is then -inf, or +inf where only the prior misses, or NaN (inf - inf) where both miss. The platform's
    settings refuse uniform_mix == 0, so stored scores are always finite.
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
