"""The one compiled loop of the engine: a single read of each prediction gives everything scoring needs but the logs.

numpy runs one operation per pass over an array, so scoring with numpy alone took a dozen passes per block of
predictions (differences, shift, CDF difference, squares, products, signs, sign changes, absolute values, row sums),
5-7x the time of one read of the array. This kernel, compiled by numba, reads each row once and produces in that read:

- the mixed bin masses Q_i + c that the log score takes the log of (the log itself stays numpy's, whose AVX-512
  log is several times faster than a compiled scalar one, then a BLAS dot product with the posterior's masses);
- CRPS and Wasserstein-1 of the row against the posterior, finished.

Both integrals are over u in [0, 1] with the CDF difference d = F_Q - F_P linear on each of the 200 segments
(width h), so per segment, with d0 and d1 its end values:

- CRPS: integral of d^2 = h (d0^2 + d0 d1 + d1^2) / 3;
- Wasserstein-1: integral of |d| = h (|d0| + |d1|) / 2, except where d changes sign inside the segment
  (d0 d1 < 0): two triangles, h (d0^2 + d1^2) / (2 (|d0| + |d1|)) = h (|d0| + |d1| - 2 |d0||d1| / (|d0| + |d1|)) / 2.

The loop is written branch-free (selects, not jumps) so that LLVM vectorises it; `fastmath` allows only
re-association and fused multiply-add (sums accumulate in SIMD lanes: results differ from a left-to-right sum in the
last bits, as numpy's own pairwise sums do), never assumptions about NaN or infinity. The first call in a process
compiles it (about a second) or loads it from numba's cache (`__pycache__` beside this file, or NUMBA_CACHE_DIR).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(
    nogil=True,  # the scoring threads run it in parallel
    cache=True,
    boundscheck=False,
    error_model="numpy",  # x / 0 gives inf instead of raising: no per-division check to stop vectorisation
    fastmath={"reassoc", "contract"},
)
def score_rows(
    q: np.ndarray,
    posterior: np.ndarray,
    shift: float,
    keep: np.ndarray,
    mixed: np.ndarray,
    crps: np.ndarray,
    wasserstein: np.ndarray,
) -> None:
    """For each row r of q (rows x 201 CDFs): mixed[r] = the 200 bin masses and the mass above, each plus `shift`
    (1.0 where keep is False: cells the log score weighs by 0), and crps[r], wasserstein[r] against `posterior`."""
    rows, n = q.shape
    h = 1.0 / (n - 1)
    for r in range(rows):
        square = 0.0
        absolute = 0.0
        for j in range(n - 1):
            q0 = q[r, j]
            q1 = q[r, j + 1]
            mass = q1 - q0 + shift
            mixed[r, j] = mass if keep[j] else 1.0
            d0 = q0 - posterior[j]
            d1 = q1 - posterior[j + 1]
            square += d0 * d0 + d0 * d1 + d1 * d1
            a0 = abs(d0)
            a1 = abs(d1)
            span = a0 + a1
            cut = (a0 * a1) / (span if span > 0.0 else 1.0)
            absolute += span - (2.0 * cut if d0 * d1 < 0.0 else 0.0)
        above = 1.0 - q[r, n - 1] + shift
        mixed[r, n - 1] = above if keep[n - 1] else 1.0
        crps[r] = square * (h / 3.0)
        wasserstein[r] = absolute * (h / 2.0)


@numba.njit(nogil=True, cache=True, boundscheck=False, fastmath={"reassoc", "contract"})
def weighted_rows(x: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """out[r] = x[r] . weights for each row: a dot product per row (BLAS gemv would do the same; OpenBLAS starts its
    own threads for it, which contend with the scoring threads)."""
    rows, n = x.shape
    for r in range(rows):
        total = 0.0
        for j in range(n):
            total += x[r, j] * weights[j]
        out[r] = total
