"""Benchmark of the four pooling methods. Run: .venv/bin/python bench/bench_pooling.py

All four pools over 100,000 x 201 random valid CDFs in one run (target: <= 0.5 s together), each also as a ratio to
one `a.sum()` over the same array, measured in the same run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numba
import numpy as np
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cpuinfo import describe

from amplification.grid import U_GRID
from amplification.pooling import pool, skill_pool_weights

N = 100_000
REPEAT = 5


def best_of(fn, repeat=REPEAT):
    """Best wall time and best CPU time of this process (the CPU time leaves out waiting for a core that another
    process holds; both are on one thread)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def machine() -> str:
    return f"{describe()}; numpy {np.__version__}, numba {numba.__version__}"


def random_cdfs(rng, n):
    """Valid CDFs as a crowd would give them: normal-shaped in u (a lognormal on a log question) with random tail
    masses on both sides; 10% histograms with empty stretches (flat CDF); 1% with no mass inside the range."""
    mu = rng.uniform(0.1, 0.9, n)
    sd = rng.uniform(0.02, 0.4, n)
    shape = ndtr((U_GRID[None, :] - mu[:, None]) / sd[:, None])
    hist = rng.random(n) < 0.10
    steps = rng.exponential(size=(int(hist.sum()), 200)) * (rng.random((int(hist.sum()), 200)) < 0.2)
    steps[:, 100] += 1e-3  # never all empty
    shape[hist, 0] = 0.0
    shape[hist, 1:] = np.cumsum(steps, axis=1)
    shape = (shape - shape[:, :1]) / (shape[:, -1:] - shape[:, :1])
    below = rng.uniform(0.0, 0.1, n)
    above = rng.uniform(0.0, 0.1, n)
    empty = rng.random(n) < 0.01
    inside = np.where(empty, 0.0, 1.0 - below - above)
    above = np.where(empty, 1.0 - below, above)
    cdfs = below[:, None] + inside[:, None] * shape
    cdfs[:, -1] = 1.0 - above
    return np.maximum.accumulate(np.clip(cdfs, 0.0, 1.0), axis=1)


def main() -> None:
    print(machine())
    print(f"load average {os.getloadavg()[0]:.2f} (other processes share the cores: figures vary with it)")
    rng = np.random.default_rng(0)
    a = random_cdfs(rng, N)
    created = rng.permutation(N).astype(np.float64)  # creation times, not in row order
    mean_skill = rng.normal(0.0, 1.0, N)
    counts = rng.integers(0, 8, N)

    start = time.perf_counter()
    pool("quantile", a[:4])
    print(f"first quantile pool in this process (compiles the kernel, or loads numba's cache): "
          f"{time.perf_counter() - start:.2f} s")

    runs = {
        "equal": lambda: pool("equal", a),
        "recency": lambda: pool("recency", a, created_order=created),
        "quantile": lambda: pool("quantile", a),
        "skill": lambda: pool("skill", a, weights=skill_pool_weights(mean_skill, counts, min_count=3)),
    }

    def all_four():
        for fn in runs.values():
            fn()

    for fn in runs.values():  # warm: page in the array, start OpenBLAS's threads
        fn()
    one_sum, one_sum_cpu = best_of(a.sum)
    print(f"\n{N:,} x 201 CDFs ({a.nbytes / 1e6:.0f} MB); best of {REPEAT}; wall time (CPU time of this process)")
    print(f"  a.sum()   {one_sum * 1e3:7.1f} ms ({one_sum_cpu * 1e3:.1f})   one read of the array")
    for name, fn in [*runs.items(), ("all four", all_four)]:
        t, t_cpu = best_of(fn)
        target = "   target <= 500 ms" if name == "all four" else ""
        print(f"  {name:9s} {t * 1e3:7.1f} ms ({t_cpu * 1e3:.1f})   {t / one_sum:5.1f}x a.sum() "
              f"({t_cpu / one_sum_cpu:.1f}x){target}")



if __name__ == "__main__":
    main()
