"""Benchmark of the numerics engine. Run: .venv/bin/python bench/bench_engine.py"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np
from scipy import integrate, stats
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cpuinfo import cpu

from amplification import kernel, scoring
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


def best_of_each(fns, repeat=5, clock=time.perf_counter):
    """Best time of each function, run in turns (a, b, a, b, ...) so that a change in the load from the other
    processes on the machine reaches all of them alike. clock=time.thread_time counts only this thread's CPU time:
    for one thread, a figure that other processes taking turns on the cores barely move."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, t in zip(fns, times, strict=True):
            start = clock()
            fn()
            t.append(clock() - start)
    return [min(t) for t in times]


def log_paths(plan, q, threads):
    """Score q on both log paths, `threads` at a time: numpy's log and the kernel's own."""
    chosen = scoring.USE_NUMPY_LOG
    runs = []
    for use_numpy in (True, False):
        def run(use_numpy=use_numpy):
            scoring.USE_NUMPY_LOG = use_numpy
            try:
                scoring._score(plan, q, threads)
            finally:
                scoring.USE_NUMPY_LOG = chosen
        runs.append(run)
    return runs


def steps(preds, posterior):
    """One thread's CPU time, ms per 100,000 rows for each step of both paths (best of 3 passes over all the rows), and
    ns per value of both logs."""
    plan = scoring._Plan(posterior, DEFAULT_UNIFORM_MIX, True, True)
    rows = scoring.BLOCK_ROWS
    out = [np.empty(len(preds)) for _ in range(3)]
    mixed = scoring._aligned((rows, preds.shape[1]))
    blocks = [(start, min(len(preds), start + rows)) for start in range(0, len(preds), rows)]
    names = ("kernel", "log", "dot", "kernel with its own log")
    passes = []
    for _ in range(3):
        spent = np.zeros(len(names))
        for a, b in blocks:
            block = mixed[: b - a]
            t0 = time.thread_time()
            kernel.score_rows(preds[a:b], plan.posterior, plan.shift, plan.keep, block, out[1][a:b], out[2][a:b])
            t1 = time.thread_time()
            np.log(block, out=block)
            t2 = time.thread_time()
            kernel.weighted_rows(block, plan.weights, out[0][a:b])
            t3 = time.thread_time()
            kernel.score_rows_with_logs(preds[a:b], plan.posterior, plan.shift, plan.weights, *(o[a:b] for o in out))
            t4 = time.thread_time()
            spent += (t1 - t0, t2 - t1, t3 - t2, t4 - t3)
        passes.append(spent)
    best = np.min(passes, axis=0) * 1e3 * 100_000 / len(preds)
    masses_ = (np.diff(preds[:rows], axis=1) + plan.shift).ravel()  # cache-resident, like a block's
    scratch = np.empty_like(masses_)
    t_numpy, t_own = best_of_each([lambda: np.log(masses_, out=scratch), lambda: kernel.ln_array(masses_, scratch)],
                                  repeat=20, clock=time.thread_time)
    per_value = 1e9 / masses_.size
    return dict(zip(names, best, strict=True)), t_numpy * per_value, t_own * per_value


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
    print(f"machine: nproc={os.cpu_count()}, CPU: {cpu()[0]}, instruction set: {cpu()[1]},"
          f" numpy {np.__version__}, numba {numba.__version__}, python {platform.python_version()}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"load average {os.getloadavg()[0]:.2f} (other processes share the cores: figures vary with it)")
    own = ("numpy's (vectorised with AVX-512 here)" if scoring.USE_NUMPY_LOG
           else "the kernel's own (numpy's is scalar here)")
    print(f"log used by the scoring: {own}")
    rng = np.random.default_rng(0)
    preds = random_cdfs(rng, N)
    posterior, prior = random_cdfs(rng, 2)

    def run():
        return score_predictions(preds, posterior, prior, open_lower=True, open_upper=True)

    start = time.perf_counter()
    run()
    print(f"0. first call in this process (compiles the kernel, or loads it from numba's cache):"
          f" {time.perf_counter() - start:.2f} s")
    t_score, t_sum = best_of_each([run, lambda: preds.sum()])
    print(f"1. score {N:,} x 201 CDFs (kl, log_score, skill, crps, wasserstein), best of 5: {t_score:.4f} s"
          f"  (target <= 0.3 s)")
    threads = scoring._threads
    scoring._threads = lambda: 1
    try:
        t_one = best_of(run)
        cpu_one, cpu_sum = best_of_each([run, lambda: preds.sum()], clock=time.thread_time)
    finally:
        scoring._threads = threads
    print(f"1b. the same on 1 thread: {t_one:.4f} s ({threads()} threads: {t_one / t_score:.2f}x faster)")
    print(f"1c. CPU time of that 1 thread (which the load of other processes barely moves): scoring {cpu_one:.4f} s,"
          f" a.sum() {cpu_sum:.4f} s -> {cpu_one / cpu_sum:.1f}x")
    plan = scoring._Plan(posterior, DEFAULT_UNIFORM_MIX, True, True)
    t_numpy_log, t_own_log, t_sum_again = best_of_each([*log_paths(plan, preds, threads()), lambda: preds.sum()])
    print(f"1d. scoring alone (no checks), {threads()} threads, by log: numpy's {t_numpy_log:.4f} s"
          f" ({t_numpy_log / t_sum_again:.1f}x a.sum()), the kernel's own {t_own_log:.4f} s"
          f" ({t_own_log / t_sum_again:.1f}x a.sum())")

    t_loop = best_of(lambda: naive_scores(preds[:LOOP_N], posterior, prior), repeat=3)
    t_loop_full = t_loop * N / LOOP_N
    print(f"2. per-prediction scipy loop: {t_loop:.3f} s for {LOOP_N:,} -> {t_loop_full:.1f} s for {N:,}"
          " (extrapolated);"
          f" speed-up {t_loop_full / t_score:.0f}x  (target >= 100x)")

    t_absdiff = best_of(lambda: np.abs(preds - posterior).sum(axis=1))
    print(f"3. ratio to one plain numpy pass, a.sum() over the same array (a single read: the memory floor),"
          f" measured in turns with 1.: {t_sum:.4f} s -> {t_score / t_sum:.1f}x  (target <= 5x)")
    print(f"3b. for scale, a typical one-line numpy score, np.abs(a - b).sum(axis=1): {t_absdiff:.4f} s"
          f" -> {t_score / t_absdiff:.2f}x")

    n_fit = 10_000
    p = np.tile([0.05, 0.5, 0.95], (n_fit, 1))
    x = np.sort(rng.lognormal(20, 5, (n_fit, 3)), axis=1)
    t_fit = best_of(lambda: fit_lognormal_quantiles(p, x))
    print(f"4. fit {n_fit:,} lognormals from 3 quantiles each (vectorised): {t_fit:.4f} s  (target <= 1 s)")

    spent, ns_numpy, ns_own = steps(preds, posterior)
    print("5. where the time goes, CPU time of 1 thread, ms per 100,000 rows (best of 3):"
          f" numpy's-log path: kernel {spent['kernel']:.1f} + np.log {spent['log']:.1f} + row dots {spent['dot']:.1f};"
          f" own-log path: one kernel {spent['kernel with its own log']:.1f}")
    print(f"5b. one log of a mass, cache-resident, CPU time, best of 20: np.log {ns_numpy:.2f} ns, "
          f"kernel.ln {ns_own:.2f} ns")


if __name__ == "__main__":
    main()
