"""The compiled loops of the engine: a single read of each prediction gives everything scoring needs.

numpy runs one operation per pass over an array, so scoring with numpy alone took a dozen passes per block of
predictions (differences, shift, CDF difference, squares, products, signs, sign changes, absolute values, row sums),
5-7x the time of one read of the array. These kernels, compiled by numba, read each row once and produce:

- CRPS and Wasserstein-1 of the row against the posterior, finished;
- for the log score, either the mixed bin masses Q_i + c (`score_rows`: numpy takes their log, then `weighted_rows`
  the dot product with the posterior's masses), or the dot product itself, sum_i P_i ln(Q_i + c), with a log of
  their own (`score_rows_with_logs`). numpy's float64 log is vectorised only with AVX-512 (0.77 ns a value on an
  AVX-512 EPYC); elsewhere it calls libm once per value (4.1 ns on an AVX2 EPYC), and the log here (1.2 ns there)
  is the faster. `scoring` picks the path.

Both integrals are over u in [0, 1] with the CDF difference d = F_Q - F_P linear on each of the 200 segments
(width h), so per segment, with d0 and d1 its end values:

- CRPS: integral of d^2 = h (d0^2 + d0 d1 + d1^2) / 3;
- Wasserstein-1: integral of |d| = h (|d0| + |d1|) / 2, except where d changes sign inside the segment
  (d0 d1 < 0): two triangles, h (d0^2 + d1^2) / (2 (|d0| + |d1|)) = h (|d0| + |d1| - 2 |d0||d1| / (|d0| + |d1|)) / 2.

The loops are written branch-free (selects, not jumps) so that LLVM vectorises them for the host CPU (AVX2 or
AVX-512); `fastmath` allows only re-association and fused multiply-add (sums accumulate in SIMD lanes: results differ
from a left-to-right sum in the last bits, as numpy's own pairwise sums do), never assumptions about NaN or infinity.
The log's own arithmetic has no re-association, which would undo its error compensation. The first call in a process
compiles the kernels (a second or two) or loads them from numba's cache (`__pycache__` beside this file, or
NUMBA_CACHE_DIR). The cache cannot hand one CPU code compiled for another: numba keys each cached entry by the
signature, the LLVM target triple, the CPU name and its feature flags (`codegen.magic_tuple()`), so on another CPU
the lookup misses and the kernel is compiled again for that CPU.
"""

from __future__ import annotations

import numba
import numpy as np

_ACCUMULATE = {"reassoc", "contract"}  # sums in SIMD lanes, fused multiply-add; no NaN or infinity assumptions
_EXACT = {"contract"}  # the log: fused multiply-add only (it rounds less), the written order of operations kept

# ln x = k ln 2 + ln m with x = 2^k m, m in [sqrt(1/2), sqrt(2)), read off the bits of x.
# Adding _CARRY to the bits of x carries into the exponent field exactly when m's mantissa is >= that of sqrt(2)
# (0x3ff6a09e in the high word), so the exponent field of (bits + _CARRY) is the k + 1023 that puts m in range.
_EXPONENT_BITS = 0x7FF0000000000000
_ONE_BITS = 0x3FF0000000000000  # bits of 1.0: exponent field 1023, mantissa 0
_CARRY = 0x3FF0000000000000 - 0x3FE6A09E00000000
_TWO52_BITS = 0x4330000000000000  # bits of 2^52: OR-ing an integer e < 2^52 into them gives the double 2^52 + e
_TWO52_PLUS_BIAS = 4503599627370496.0 + 1023.0
# ln 2 in two parts: _LN2_HI has 32 significant bits (its low 21 bits are zero), so k * _LN2_HI is exact for every
# exponent |k| < 2^11.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# ln(1 + f) = ln((1 + s)/(1 - s)) with s = f / (2 + f), |s| <= 0.1716: = 2s + s R(s^2), R(z) = 2z/3 + 2z^2/5 + ...
# R's coefficients are the minimax fit of fdlibm's e_log.c (Sun Microsystems), error below 2^-58.45.
_R1 = 6.666666666666735130e-01
_R2 = 3.999999999940941908e-01
_R3 = 2.857142874366239149e-01
_R4 = 2.222219843214978396e-01
_R5 = 1.818357216161805012e-01
_R6 = 1.531383769920937332e-01
_R7 = 1.479819860511658591e-01
# The range over which the bit arithmetic is right: positive, normal, finite. A row with any other mass (0 when
# uniform_mix == 0, a subnormal, a negative or NaN from an invalid CDF) takes the scalar path with numpy's rules.
_SMALLEST_NORMAL = 2.2250738585072014e-308
_LARGEST = 1.7976931348623157e308


@numba.njit(error_model="numpy", fastmath=_EXACT)
def _log_reduce(x: float) -> tuple[float, float, float]:
    """For a positive normal finite x = 2^k (1 + f): f, s = f / (2 + f) and k (a float). The first half of ln x,
    with the division; `_log_finish` is the second half."""
    bits = np.float64(x).view(np.int64)
    shifted = (bits + _CARRY) & _EXPONENT_BITS  # k + 1023, still in the exponent field
    f = np.int64(bits - shifted + _ONE_BITS).view(np.float64) - 1.0  # exact: m - 1 with m in [0.707, 1.414)
    k = np.int64((shifted >> 52) | _TWO52_BITS).view(np.float64) - _TWO52_PLUS_BIAS
    return f, f / (2.0 + f), k


@numba.njit(error_model="numpy", fastmath=_EXACT)
def _log_finish(f: float, s: float, k: float) -> float:
    """ln x from `_log_reduce`'s parts, within 1 ulp. Since s (2 + f) = f, 2s = f - s f, so
    ln(1 + f) = 2s + s R = f - s (f - R): f is exact and s (f - R) is small beside it, so the rounding of the
    correction barely reaches the result. k ln 2 is added in two parts, the small part first."""
    z = s * s
    w = z * z
    r = z * (_R1 + w * (_R3 + w * (_R5 + w * _R7))) + w * (_R2 + w * (_R4 + w * _R6))
    return k * _LN2_HI - ((s * (f - r) - k * _LN2_LO) - f)


@numba.njit(error_model="numpy", fastmath=_EXACT)
def ln(x: float) -> float:
    """Natural log of a positive normal finite float64 x (2.2e-308 <= x <= 1.8e308), within 1 ulp of the correctly
    rounded value; branch-free, so a loop calling it vectorises. Outside that range the result is meaningless:
    callers check the range (`score_rows_with_logs` does, per row)."""
    f, s, k = _log_reduce(x)
    return _log_finish(f, s, k)


@numba.njit(inline="always", error_model="numpy", fastmath=_ACCUMULATE)
def _segment_terms(d0: float, d1: float) -> tuple[float, float]:
    """One grid segment's share of the CRPS and W1 sums, from the differences d0, d1 (prediction minus posterior
    CDF) at its two ends, the difference linear between them: (d0^2 + d0 d1 + d1^2, the integral of |d| over the
    segment in units of h/2). Where d changes sign the |d| integral loses the two triangles' overlap."""
    a0 = abs(d0)
    a1 = abs(d1)
    span = a0 + a1
    cut = (a0 * a1) / (span if span > 0.0 else 1.0)
    return d0 * d0 + d0 * d1 + d1 * d1, span - (2.0 * cut if d0 * d1 < 0.0 else 0.0)


@numba.njit(
    nogil=True,  # the scoring threads run it in parallel
    cache=True,
    boundscheck=False,
    error_model="numpy",  # x / 0 gives inf instead of raising: no per-division check to stop vectorisation
    fastmath=_ACCUMULATE,
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
            squared, distance = _segment_terms(q0 - posterior[j], q1 - posterior[j + 1])
            square += squared
            absolute += distance
        above = 1.0 - q[r, n - 1] + shift
        mixed[r, n - 1] = above if keep[n - 1] else 1.0
        crps[r] = square * (h / 3.0)
        wasserstein[r] = absolute * (h / 2.0)


@numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy", fastmath=_ACCUMULATE)
def score_rows_with_logs(
    q: np.ndarray,
    posterior: np.ndarray,
    shift: float,
    weights: np.ndarray,
    log_sums: np.ndarray,
    crps: np.ndarray,
    wasserstein: np.ndarray,
) -> None:
    """For each row r of q (rows x 201 CDFs): log_sums[r] = sum_i weights[i] ln(m_i + shift) over the 200 bin
    masses and the mass above (a cell of weight 0 counts 0 whatever its mass), and crps[r], wasserstein[r].

    The log is done in two loops over the row, joined by three scratch rows (f, s, k) that stay in L1 cache: one
    loop with the segment integrals, the range reduction and the log's division, one with the polynomial and the
    weighted sum. One loop doing all of it was 1.3x slower on the AVX2 machine: its chain of dependent operations per
    cell (two divisions among them) was too long for the out-of-order core to overlap enough cells."""
    rows, n = q.shape
    h = 1.0 / (n - 1)
    parts = np.empty((3, n))
    fs, ss, ks = parts[0], parts[1], parts[2]
    for r in range(rows):
        square = 0.0
        absolute = 0.0
        in_range = True
        for j in range(n - 1):
            q0 = q[r, j]
            q1 = q[r, j + 1]
            mass = q1 - q0 + shift
            in_range &= (mass >= _SMALLEST_NORMAL) & (mass <= _LARGEST)
            fs[j], ss[j], ks[j] = _log_reduce(mass)
            squared, distance = _segment_terms(q0 - posterior[j], q1 - posterior[j + 1])
            square += squared
            absolute += distance
        above = 1.0 - q[r, n - 1] + shift
        in_range &= (above >= _SMALLEST_NORMAL) & (above <= _LARGEST)
        fs[n - 1], ss[n - 1], ks[n - 1] = _log_reduce(above)
        total = 0.0
        for j in range(n):
            total += weights[j] * _log_finish(fs[j], ss[j], ks[j])
        log_sums[r] = total if in_range else _log_sum_any(q, r, shift, weights)
        crps[r] = square * (h / 3.0)
        wasserstein[r] = absolute * (h / 2.0)


@numba.njit(nogil=True, boundscheck=False, error_model="numpy")
def _log_sum_any(q: np.ndarray, r: int, shift: float, weights: np.ndarray) -> float:
    """`score_rows_with_logs`' log sum for a row with a mass outside the normal range, one cell at a time with the
    C library's log and numpy's rules: ln 0 = -inf, the log of a negative or NaN is NaN; weight 0 skips the cell."""
    n = q.shape[1]
    total = 0.0
    for j in range(n):
        if weights[j] > 0.0:
            mass = (q[r, j + 1] - q[r, j] if j < n - 1 else 1.0 - q[r, n - 1]) + shift
            total += weights[j] * np.log(mass)
    return total


@numba.njit(nogil=True, cache=True, boundscheck=False, fastmath=_ACCUMULATE)
def weighted_rows(x: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """out[r] = x[r] . weights for each row: a dot product per row (BLAS gemv would do the same; OpenBLAS starts its
    own threads for it, which contend with the scoring threads)."""
    rows, n = x.shape
    for r in range(rows):
        total = 0.0
        for j in range(n):
            total += x[r, j] * weights[j]
        out[r] = total


@numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy")
def ln_array(x: np.ndarray, out: np.ndarray) -> None:
    """out = `ln`(x) elementwise for 1-D arrays, for the tests and the benchmark (x within `ln`'s range)."""
    for i in range(x.size):
        out[i] = ln(x[i])
