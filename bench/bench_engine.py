"""Benchmark of the numerics engine. Run: .venv/bin/python bench/bench_engine.py"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
from scipy import integrate, stats
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from amplification import scoring
from amplification.distributions import masses
from amplification.fitting import fit_lognormal_quantiles
from amplification.grid import U_GRID
from amplification.scoring import DEFAULT_UNIFORM_MIX, score_predictions

N = 100_000
LOOP_N = 1_000


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def random_cdfs(rng, n):
    """Lognormal-shaped CDFs with random location and spread on the u grid (a log-scale question)."""
    mu = rng.uniform(0.1, 0.9, n)
    sd = rng.uniform(0.02, 0.4, n)
    return ndtr((U_GRID[None, :] - mu[:, None]) / sd[:, None])


def naive_scores(preds, posterior, prior, mix=DEFAULT_UNIFORM_MIX):
    """What a user would write: one prediction at a time with scipy."""
    p = masses(posterior)
    uniform = np.full(202, 1 / 202)
    prior_m = (1 - mix) * masses(prior) + mix * uniform
    kl_prior = stats.entropy(p, prior_m)
    out = []
    for q in preds:
        qm = (1 - mix) * masses(q) + mix * uniform
        kl = stats.entropy(p, qm)
        crps = integrate.trapezoid((posterior - q) ** 2, U_GRID)
        w1 = stats.wasserstein_distance(U_GRID, U_GRID, np.diff(posterior, prepend=0) + 1e-12,
                                        np.diff(q, prepend=0) + 1e-12)
        out.append((kl, kl_prior - kl, crps, w1))
    return out


def main() -> None:
    print(f"machine: nproc={os.cpu_count()}, CPU: {cpu_model()}, numpy {np.__version__}, numba {numba.__version__},"
          f" python {platform.python_version()}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"load average {os.getloadavg()[0]:.2f} (other processes share the cores: figures vary with it)")
    rng = np.random.default_rng(0)
    preds = random_cdfs(rng, N)
    posterior, prior = random_cdfs(rng, 2)

    def run():
        return score_predictions(preds, posterior, prior, open_lower=True, open_upper=True)

    start = time.perf_counter()
    run()
    print(f"0. first call in this process (compiles the kernel, or loads it from numba's cache):"
          f" {time.perf_counter() - start:.2f} s")
    t_score = best_of(run)
    print(f"1. score {N:,} x 201 CDFs (kl, log_score, skill, crps, wasserstein), best of 5: {t_score:.4f} s"
          f"  (target <= 0.3 s)")
    threads = scoring._threads
    scoring._threads = lambda: 1
    try:
        t_one = best_of(run)
    finally:
        scoring._threads = threads
    print(f"1b. the same on 1 thread: {t_one:.4f} s ({threads()} threads: {t_one / t_score:.2f}x faster)")

    t_loop = best_of(lambda: naive_scores(preds[:LOOP_N], posterior, prior), repeat=3)
    t_loop_full = t_loop * N / LOOP_N
    print(f"2. per-prediction scipy loop: {t_loop:.3f} s for {LOOP_N:,} -> {t_loop_full:.1f} s for {N:,}"
          " (extrapolated);"
          f" speed-up {t_loop_full / t_score:.0f}x  (target >= 100x)")

    t_sum = best_of(lambda: preds.sum())
    t_absdiff = best_of(lambda: np.abs(preds - posterior).sum(axis=1))
    print(f"3. ratio to one plain numpy pass, a.sum() over the same array (a single read: the memory floor):"
          f" {t_sum:.4f} s -> {t_score / t_sum:.1f}x  (target <= 5x)")
    print(f"3b. for scale, a typical one-line numpy score, np.abs(a - b).sum(axis=1): {t_absdiff:.4f} s"
          f" -> {t_score / t_absdiff:.2f}x")

    n_fit = 10_000
    p = np.tile([0.05, 0.5, 0.95], (n_fit, 1))
    x = np.sort(rng.lognormal(20, 5, (n_fit, 3)), axis=1)
    t_fit = best_of(lambda: fit_lognormal_quantiles(p, x))
    print(f"4. fit {n_fit:,} lognormals from 3 quantiles each (vectorised): {t_fit:.4f} s  (target <= 1 s)")


if __name__ == "__main__":
    main()
