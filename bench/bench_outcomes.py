"""Benchmark of outcome scoring. Run: .venv/bin/python bench/bench_outcomes.py

Prints the machine, then for 100,000 forecasts x 201 points: score_outcome + peer_scores (all four scores, the
standardization included), the ratio to one a.sum() over the same array measured in the same run, standardize_cdf
alone, and the same scores written as plain numpy passes (what the compiled kernel replaces).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numba
import numpy as np
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cpuinfo import describe

from amplification.grid import U_GRID
from amplification.outcomes import outcome_bucket, peer_scores, score_outcome, standardize_cdf

N = 100_000
RUNS = 9
OUTCOME_U = 0.4321  # inside the range, bucket 87
SIDES = {"open_lower": True, "open_upper": True}


def median_of(fn, runs=RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def machine() -> str:
    return f"{describe()}; numpy {np.__version__}, numba {numba.__version__} (other processes share the cores)"


def random_cdfs(rng, n):
    """Normal-shaped CDFs on the u grid with random centre and spread, open on both sides (tails kept)."""
    mu = rng.uniform(0.1, 0.9, n)
    sd = rng.uniform(0.02, 0.4, n)
    return ndtr((U_GRID[None, :] - mu[:, None]) / sd[:, None])


def numpy_scores(cdfs, bucket, u):
    """The same four scores in plain numpy passes: standardize, mass at the outcome, CRPS by segments."""
    std = standardize_cdf(cdfs, **SIDES)
    p = std[:, bucket] - std[:, bucket - 1]
    m = min(int(u * 200), 199)
    s0, s1 = std[:, :-1], std[:, 1:]
    left = (s0[:, :m] ** 2 + s0[:, :m] * s1[:, :m] + s1[:, :m] ** 2).sum(axis=1)
    g0, g1 = 1 - s0[:, m + 1:], 1 - s1[:, m + 1:]
    right = (g0**2 + g0 * g1 + g1**2).sum(axis=1)
    wl, wr = u - m / 200, (m + 1) / 200 - u
    so = s0[:, m] + (s1[:, m] - s0[:, m]) * wl * 200
    split = wl * (s0[:, m] ** 2 + s0[:, m] * so + so**2) + wr * ((1 - so) ** 2 + (1 - so) * (1 - s1[:, m])
                                                                 + (1 - s1[:, m]) ** 2)
    crps = (left + right) / 600 + split / 3
    log_score = np.log(p)
    return log_score, 50 * (log_score - np.log(0.9 / 200)), crps, peer_scores(p)


def main() -> None:
    print(f"machine: {machine()}")
    rng = np.random.default_rng(0)
    cdfs = random_cdfs(rng, N)
    bucket = outcome_bucket(OUTCOME_U)

    def run():
        scores = score_outcome(cdfs, bucket=bucket, u=OUTCOME_U, **SIDES)
        return scores, peer_scores(scores.p_outcome)

    start = time.perf_counter()
    run()
    print(f"0. first call in this process (compiles the kernel, or loads it from numba's cache): "
          f"{time.perf_counter() - start:.2f} s")
    t_sum_before = median_of(lambda: cdfs.sum())
    t_score = median_of(run)
    t_alone = median_of(lambda: score_outcome(cdfs, bucket=bucket, u=OUTCOME_U, **SIDES))
    t_sum_after = median_of(lambda: cdfs.sum())
    t_sum = (t_sum_before + t_sum_after) / 2
    print(f"1. score_outcome + peer_scores on {N:,} x 201 (log, baseline, peer, crps; standardized), "
          f"median of {RUNS}: {t_score:.4f} s  (target <= 0.05 s)")
    print(f"1b. score_outcome alone: {t_alone:.4f} s")
    print(f"2. a.sum() over the same array, median of {RUNS} before and after 1.: {t_sum:.4f} s "
          f"-> ratio of 1. {t_score / t_sum:.2f}x  (target <= 5x)")
    t_std = median_of(lambda: standardize_cdf(cdfs, **SIDES))
    print(f"3. standardize_cdf alone on {N:,} x 201 (writes a new array): {t_std:.4f} s")
    spiky = cdfs.copy()
    spiky[::100] = ndtr((U_GRID - 0.5) / 1e-4)  # 1% of rows need the 0.2 cap
    t_spiky = median_of(lambda: score_outcome(spiky, bucket=bucket, u=OUTCOME_U, **SIDES))
    print(f"4. score_outcome with 1% of the rows needing the step cap: {t_spiky:.4f} s")
    t_numpy = median_of(lambda: numpy_scores(cdfs, bucket, OUTCOME_U), runs=3)
    print(f"5. the same scores as plain numpy passes (what the kernel replaces): {t_numpy:.4f} s "
          f"-> {t_numpy / t_sum:.1f}x a.sum()")
    check = run()[0]
    reference = numpy_scores(cdfs, bucket, OUTCOME_U)
    print(f"   largest difference kernel vs numpy: crps {np.abs(check.crps - reference[2]).max():.1e}, "
          f"baseline {np.abs(check.baseline - reference[1]).max():.1e}")


if __name__ == "__main__":
    main()
