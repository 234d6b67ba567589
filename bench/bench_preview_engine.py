"""Engine time of a preview: from_spec + summarize, as the preview endpoint calls them while a person types.

Run: .venv/bin/python bench/bench_preview_engine.py [calls]   (default 1,000 calls per spec)

Prints the machine, then the median and p95 of single calls per spec. The target (issue 16) is the whole preview
at p95 <= 20 ms on this machine; the engine is a part of that, the HTTP and database work the rest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import scipy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cpuinfo import describe

from amplification.distributions import from_spec, summarize
from amplification.grid import Domain

TARGET_P95_MS = 20.0

COMPUTE = Domain.create(lower=1.0, upper=1e20, scale="log", open_lower=False, open_upper=True, horizon="2030-01-01")
AGI = Domain.create(lower="2020-01-01", upper="2100-12-31", scale="date", open_lower=True, open_upper=True)
THREE = [{"p": 0.05, "x": 3e11}, {"p": 0.5, "x": 2e12}, {"p": 0.95, "x": 3e13}]
AGI_POSTERIOR = {"type": "quantiles", "mass_below": 0.03, "mass_above": 0.40, "points": [
    {"p": 0.2, "x": "2030-01-01"}, {"p": 0.4, "x": "2045-01-01"}, {"p": 0.55, "x": "2070-01-01"}]}


def lognormal_mixture(k: int) -> dict:
    return {"type": "mixture", "components": [
        {"weight": 1.0 + i, "spec": {"type": "lognormal", "median": 10.0 ** (8 + i % 7), "sigma": 1.0 + i % 3}}
        for i in range(k)]}


def quantile_mixture(k: int) -> dict:
    return {"type": "mixture", "components": [
        {"weight": 1.0, "spec": {"type": "quantiles", "points": [
            {"p": 0.05, "x": 10.0 ** (7 + i % 5)}, {"p": 0.5, "x": 10.0 ** (9 + i % 5)},
            {"p": 0.95, "x": 10.0 ** (14 + i % 4)}]}}
        for i in range(k)]}


CASES = [
    ("3 quantiles, fitted (log, closed below)", {"type": "quantiles", "points": THREE}, COMPUTE),
    ("3 quantiles, fitted (date, both masses)", AGI_POSTERIOR, AGI),
    ("3 quantiles, exact (log)", {"type": "quantiles", "shape": "exact", "points": THREE}, COMPUTE),
    ("3 quantiles, exact (date, both masses)", {**AGI_POSTERIOR, "shape": "exact"}, AGI),
    ("trend (log, horizon)", {"type": "trend", "value": 1e4, "at": "2020-05-01",
                              "doubling_months": {"low": 3.0, "high": 12.0}}, COMPUTE),
    ("10-component mixture of lognormals", lognormal_mixture(10), COMPUTE),
    ("10-component mixture of 3-quantile fits", quantile_mixture(10), COMPUTE),
]


def machine() -> str:
    return f"{describe()}\nnumpy {np.__version__}, scipy {scipy.__version__}"


def timed(spec: dict, domain: Domain, calls: int) -> np.ndarray:
    summarize(from_spec(spec, domain).cdf, domain)  # first call outside the timing (imports, caches)
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        summarize(from_spec(spec, domain).cdf, domain)
        times[i] = time.perf_counter() - start
    return times * 1e3


def numpy_call_us() -> float:
    """Median time of one tiny numpy call in this run: the engine's preview work is mostly such calls, so this is
    the yardstick for how busy the (shared) machine was while the figures below were taken."""
    a = np.ones(3)
    times = []
    for _ in range(200):
        start = time.perf_counter()
        for _ in range(100):
            np.add(a, a)
        times.append((time.perf_counter() - start) / 100)
    return float(np.median(times)) * 1e6


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(machine())
    print(f"one numpy call on 3 values (np.add): {numpy_call_us():.2f} us, median in this run")
    print(f"from_spec + summarize, {calls:,} calls each (ms); target p95 <= {TARGET_P95_MS:g} ms for the whole preview")
    print(f"{'spec':<44} {'median':>8} {'p95':>8} {'max':>8}")
    for name, spec, domain in CASES:
        ms = timed(spec, domain, calls)
        print(f"{name:<44} {np.median(ms):8.3f} {np.percentile(ms, 95):8.3f} {ms.max():8.3f}")
    print(f"one numpy call on 3 values (np.add), after: {numpy_call_us():.2f} us")


if __name__ == "__main__":
    main()
