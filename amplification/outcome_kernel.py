"""The compiled loop of outcome scoring: one read of each forecast gives its mass at the outcome and its CRPS.

Scoring against an outcome needs, per forecast, the standardized CDF F' = a F + 0.01 u + t (outcomes.py), its mass at
the outcome's bucket, the integral of (F' - step)^2 and whether any standardized step exceeds the cap. In numpy that is
a pass to standardize (writing a second array as large as the input), one for the steps and their maximum, and several
for the squares and row sums of the integral: together about 10x one read of the array. This loop standardizes on the
fly and does all of it in the one read.

CRPS against a step at u_o, with F' linear on each of the 200 segments (width h): a segment wholly left of the step
contributes the integral of F'^2, h (s0^2 + s0 s1 + s1^2) / 3, one wholly right of it the same in 1 - F'; the segment
holding the step is split at u_o, each part exact with F'(u_o) interpolated.

As in kernel.py: branch-free inner loop (selects and 0/1 weights, not jumps) so that LLVM vectorises it, `fastmath`
limited to re-association and fused multiply-add (sums accumulate in SIMD lanes; the last bits differ from a
left-to-right sum), never assumptions about NaN or infinity; compiled on first use or loaded from numba's cache.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(
    nogil=True,
    cache=True,
    boundscheck=False,
    error_model="numpy",
    fastmath={"reassoc", "contract"},
)
def outcome_rows(
    q: np.ndarray,
    scale: float,
    offsets: np.ndarray,
    cap: float,
    bucket: int,
    u_step: float,
    segment: int,
    left: np.ndarray,
    right: np.ndarray,
    p_outcome: np.ndarray,
    crps: np.ndarray,
    capped: np.ndarray,
) -> None:
    """For each row r of q (rows x 201 CDFs), with s = scale * q[r] + offsets the standardized row:
    p_outcome[r] = the mass of s in `bucket` (0: s[0]; 201: 1 - s[200]; else s[bucket] - s[bucket - 1]);
    crps[r] = integral over u in [0, 1] of (s(u) - 1[u >= u_step])^2, the step inside segment `segment`, `left` and
    `right` the 0/1 weights of the segments wholly left and right of it; capped[r] = the number of steps of s > cap."""
    rows, n = q.shape
    bins = n - 1
    h = 1.0 / bins
    m = segment
    width_left = max(u_step - m * h, 0.0)
    width_right = max((m + 1) * h - u_step, 0.0)
    fraction = width_left / h
    for r in range(rows):
        squares_left = 0.0
        squares_right = 0.0
        over = 0.0
        for j in range(bins):
            s0 = scale * q[r, j] + offsets[j]
            s1 = scale * q[r, j + 1] + offsets[j + 1]
            g0 = 1.0 - s0
            g1 = 1.0 - s1
            squares_left += left[j] * (s0 * s0 + s0 * s1 + s1 * s1)
            squares_right += right[j] * (g0 * g0 + g0 * g1 + g1 * g1)
            over += 1.0 if s1 - s0 > cap else 0.0
        s0 = scale * q[r, m] + offsets[m]
        s1 = scale * q[r, m + 1] + offsets[m + 1]
        so = s0 + (s1 - s0) * fraction
        go = 1.0 - so
        g1 = 1.0 - s1
        split = width_left * (s0 * s0 + s0 * so + so * so) + width_right * (go * go + go * g1 + g1 * g1)
        crps[r] = (h * (squares_left + squares_right) + split) / 3.0
        if bucket == 0:
            p_outcome[r] = scale * q[r, 0] + offsets[0]
        elif bucket == n:
            p_outcome[r] = 1.0 - (scale * q[r, bins] + offsets[bins])
        else:
            p_outcome[r] = (scale * q[r, bucket] + offsets[bucket]) - (scale * q[r, bucket - 1] + offsets[bucket - 1])
        capped[r] = over
