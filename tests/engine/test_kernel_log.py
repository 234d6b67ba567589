"""The kernel's own natural log (`kernel.ln`, used for scoring where numpy's log is not vectorised) and scoring on
both log paths.

The log must agree with numpy's to 1e-12 relative (ties between scores are decided at 1e-9) over every value the
scoring takes the log of: a bin mass Q in [0, 1] plus the uniform's share c = m / (1 - m) / cells, so values in
[c, 1 + c]. Masses of 0 or subnormal ones occur only with uniform_mix = 0 (or a mix below ~1e-305); those rows take
the scalar path, tested below at the scoring level.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from amplification import kernel, scoring
from amplification.distributions import masses
from amplification.grid import U_GRID
from amplification.scoring import DEFAULT_UNIFORM_MIX, score_predictions

SMALLEST_NORMAL = float(np.finfo(np.float64).smallest_normal)
LARGEST = float(np.finfo(np.float64).max)
# x86's 80-bit long double carries 64 mantissa bits: its log is an independent and more precise reference.
EXTENDED = np.finfo(np.longdouble).nmant >= 63
REPOSITORY = Path(__file__).resolve().parents[2]


def ln(x):
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    out = np.empty_like(x)
    kernel.ln_array(x, out)
    return out


def assert_agrees_with_numpy(x, rel=1e-12):
    x = np.asarray(x, dtype=np.float64).ravel()
    ours, ref = ln(x), np.log(x)
    # relative to |ln x|: the hard cases are near 1, where ln x is tiny; at x = 1 the log must be exactly 0
    bad = np.abs(ours - ref) > rel * np.abs(ref)
    assert not bad.any(), f"{bad.sum()} values differ, e.g. x={x[bad][:3]!r}: {ours[bad][:3]!r} vs {ref[bad][:3]!r}"


def random_cdfs(rng, n):
    mu = rng.uniform(0.0, 1.0, n)
    sd = rng.uniform(0.002, 0.5, n)
    return stats.norm.cdf((U_GRID[None, :] - mu[:, None]) / sd[:, None])


def test_it_agrees_with_numpy_over_a_log_spaced_sweep_of_1e_300_to_1():
    assert_agrees_with_numpy(np.logspace(-300, 0, 3_000_001))


def test_it_agrees_with_numpy_on_the_mixed_masses_scoring_takes_the_log_of():
    rng = np.random.default_rng(11)
    q = masses(random_cdfs(rng, 2000))
    assert q.shape == (2000, 202) and q.min() >= 0.0
    for mix in (1e-6, 1e-3, DEFAULT_UNIFORM_MIX, 0.1, 0.49):
        assert_agrees_with_numpy(q + mix / (1 - mix) / 202)


def test_it_agrees_with_numpy_on_random_values_across_the_whole_float_range():
    rng = np.random.default_rng(12)
    assert_agrees_with_numpy(np.exp(rng.uniform(np.log(SMALLEST_NORMAL), np.log(LARGEST), 2_000_000)))
    assert_agrees_with_numpy(rng.uniform(0.0, 2.0, 2_000_000)[1:] + SMALLEST_NORMAL)


def test_it_is_exact_to_numpy_at_every_power_of_two():
    powers = 2.0 ** np.arange(-1022, 1024)
    assert_agrees_with_numpy(powers)
    assert ln([1.0])[0] == 0.0
    np.testing.assert_allclose(ln(powers), np.arange(-1022, 1024) * np.log(2.0), rtol=1e-15, atol=0)


def test_it_keeps_its_relative_accuracy_just_below_and_above_one():
    k = np.arange(1, 5001, dtype=np.float64)
    eps = np.finfo(np.float64).eps
    just_below = 1.0 - k * eps / 2  # 1 - 2^-53 is the largest double below 1
    just_above = 1.0 + k * eps
    near = 1.0 + np.concatenate([-np.logspace(-15, -1, 2001), np.logspace(-15, -1, 2001)])
    assert just_below[0] == np.nextafter(1.0, 0.0)
    for x in (just_below, just_above, near):
        assert_agrees_with_numpy(x)
    # ln(1 - 2^-53) is -2^-53 to within 2^-107: exact in float64
    assert ln([np.nextafter(1.0, 0.0)])[0] == -eps / 2


def test_it_is_right_on_both_sides_of_where_the_mantissa_is_halved():
    # x = 2^k m with m in [sqrt(1/2), sqrt(2)): mantissas from 0x6a09e00000000 on (2.4e-8 below sqrt 2) are halved,
    # so m jumps from ~1.414 to ~0.707 and k by one there; 2,000 ulps either side of the switch, at 9 exponents
    bits = np.int64(0x3FF6A09E00000000) + np.arange(-2000, 2000, dtype=np.int64)
    mantissas = bits.view(np.float64)
    exponents = 2.0 ** np.array([-1022, -600, -30, -1, 0, 1, 30, 600, 1022], dtype=np.float64)
    assert_agrees_with_numpy(mantissas[None, :] * exponents[:, None])


@pytest.mark.skipif(not EXTENDED, reason="long double is not wider than double here")
def test_it_is_within_one_ulp_of_an_extended_precision_log():
    rng = np.random.default_rng(13)
    x = np.concatenate([
        np.logspace(-307, 0, 500_001),
        rng.uniform(0.5, 2.0, 500_000),
        1.0 + rng.uniform(-1e-6, 1e-6, 200_000),
        np.exp(rng.uniform(np.log(SMALLEST_NORMAL), np.log(LARGEST), 300_000)),
    ])
    exact = np.log(x.astype(np.longdouble))
    ulps = np.abs(ln(x).astype(np.longdouble) - exact) / np.spacing(np.abs(exact.astype(np.float64)))
    assert ulps.max() <= 1.0


@given(st.floats(min_value=SMALLEST_NORMAL, max_value=LARGEST))
def test_it_agrees_with_numpy_for_any_positive_normal_float(x):
    ours = kernel.ln(x)
    assert abs(ours - np.log(x)) <= 1e-12 * abs(np.log(x))


def test_the_scoring_kernel_takes_the_same_log_as_ln_to_the_bit():
    # The kernel sums with re-association allowed; the log inside it must keep its own order of operations. With
    # one cell weighted 1 and the rest 0 the kernel's log sum is that cell's log alone.
    rng = np.random.default_rng(16)
    q = random_cdfs(rng, 3)
    posterior = random_cdfs(rng, 1)[0]
    shift = DEFAULT_UNIFORM_MIX / (1 - DEFAULT_UNIFORM_MIX) / 202
    cells = np.concatenate([np.diff(q, axis=1), 1.0 - q[:, -1:]], axis=1) + shift  # 200 bins and the mass above
    sums, crps, w1 = np.empty(3), np.empty(3), np.empty(3)
    for j in range(201):
        one_hot = np.zeros(201)
        one_hot[j] = 1.0
        kernel.score_rows_with_logs(q, posterior, shift, one_hot, sums, crps, w1)
        np.testing.assert_array_equal(sums, ln(cells[:, j]))


# Scoring on both paths. The path is chosen once per machine (numpy's log where it is vectorised with AVX-512, the
# kernel's own elsewhere); each test runs both here, so either kind of machine checks both.


@pytest.fixture(params=[False, True], ids=["own log", "numpy log"])
def log_path(request, monkeypatch):
    monkeypatch.setattr(scoring, "USE_NUMPY_LOG", request.param)
    return request.param


def mixed_log_score(posterior, pred, mix, open_lower, open_upper):
    """sum_i P_i ln Q'_i with Q' = (1 - m) Q + m U written out directly (0 ln 0 = 0), by numpy alone."""
    cells = 200 + open_lower + open_upper
    uniform = np.full(202, 1.0 / cells)
    uniform[0] = uniform[0] if open_lower else 0.0
    uniform[-1] = uniform[-1] if open_upper else 0.0
    p = masses(posterior)
    with np.errstate(divide="ignore"):
        logs = np.log((1 - mix) * masses(pred) + mix * uniform)
    return float(np.sum(p[p > 0] * logs[p > 0]))


@pytest.mark.parametrize(("open_lower", "open_upper"), [(True, True), (False, True), (False, False)])
def test_it_gives_the_log_score_and_kl_of_a_direct_computation_on_both_paths(log_path, open_lower, open_upper):
    rng = np.random.default_rng(14)
    cdfs = random_cdfs(rng, 1602)
    if not open_lower:
        cdfs[:, 0] = 0.0
    if not open_upper:
        cdfs[:, -1] = 1.0
    prior, posterior, preds = cdfs[0], cdfs[1], cdfs[2:]
    scores = score_predictions(preds, posterior, prior, open_lower=open_lower, open_upper=open_upper)
    for i in range(0, 1600, 37):
        direct = mixed_log_score(posterior, preds[i], DEFAULT_UNIFORM_MIX, open_lower, open_upper)
        assert scores.log_score[i] == pytest.approx(direct, rel=1e-12)
    cells = 200 + open_lower + open_upper
    uniform = np.where([open_lower, *[True] * 200, open_upper], 1.0 / cells, 0.0)
    q_mixed = (1 - DEFAULT_UNIFORM_MIX) * masses(preds[5]) + DEFAULT_UNIFORM_MIX * uniform
    assert scores.kl[5] == pytest.approx(stats.entropy(masses(posterior), q_mixed), rel=1e-9)


def test_the_two_log_paths_give_the_same_scores_to_1e_12(monkeypatch):
    # ties are decided at 1e-9 relative: a machine with AVX-512 and one without must rank alike
    rng = np.random.default_rng(15)
    cdfs = random_cdfs(rng, 3002)
    by_path = {}
    for use_numpy in (False, True):
        monkeypatch.setattr(scoring, "USE_NUMPY_LOG", use_numpy)
        by_path[use_numpy] = score_predictions(cdfs[2:], cdfs[1], cdfs[0], open_lower=True, open_upper=True)
    # the two kernels sum in SIMD lanes in their own orders: the last bits may differ, on CRPS and W1 too
    for name in ("kl", "log_score", "skill", "crps", "wasserstein"):
        np.testing.assert_allclose(getattr(by_path[False], name), getattr(by_path[True], name), rtol=1e-12,
                                   atol=1e-13)


def test_it_scores_zero_and_subnormal_masses_by_numpy_rules_on_both_paths(log_path):
    # With uniform_mix = 0 a bin mass can be 0 or subnormal: such a row takes the scalar path.
    posterior = np.linspace(0.0, 1.0, 201) ** 2
    subnormal = np.linspace(0.0, 1.0, 201)
    subnormal[:6] = [0.0, 1e-310, 3e-310, 3e-310 + 5e-324, 1e-300, 1e-200]  # masses 1e-310, 2e-310, 5e-324, ...
    misses = np.linspace(0.0, 1.0, 201)
    misses[:100] = 0.0  # no mass in bins where the posterior has some
    same = posterior.copy()  # masses below and above are 0, where the posterior's are 0 too: 0 ln 0 = 0
    preds = np.stack([subnormal, misses, same])
    scores = score_predictions(preds, posterior, posterior, open_lower=True, open_upper=True, uniform_mix=0.0)
    assert masses(subnormal)[1] == 1e-310 and masses(subnormal)[3] == 5e-324
    assert scores.log_score[0] == pytest.approx(mixed_log_score(posterior, subnormal, 0.0, True, True), rel=1e-12)
    assert np.isfinite(scores.log_score[0])
    assert scores.log_score[1] == -np.inf and scores.kl[1] == np.inf
    assert scores.kl[2] == pytest.approx(0.0, abs=1e-12)


def test_it_gives_nan_not_a_number_for_a_row_that_is_not_a_cdf(log_path):
    # predictions are trusted to be CDFs; a broken one must not get a plausible log score
    posterior = np.linspace(0.0, 1.0, 201)
    broken = posterior.copy()
    broken[50] = np.nan
    scores = score_predictions(np.stack([broken, posterior]), posterior, posterior, open_lower=True,
                               open_upper=True)
    assert np.isnan(scores.log_score[0]) and np.isfinite(scores.log_score[1])


def test_it_does_not_load_a_kernel_cached_for_another_cpu(tmp_path):
    # numba compiles for the CPU it runs on; a cache written on another CPU (a shared volume, an image built
    # elsewhere) must be compiled again, never run. numba keys each cached entry by CPU name and features.
    probe = (
        "import json, numpy as np\n"
        "from amplification import kernel\n"
        "x = np.linspace(0.5, 2.0, 64)\n"
        "out = np.empty_like(x)\n"
        "kernel.ln_array(x, out)\n"
        "s = kernel.ln_array.stats\n"
        "print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))\n"
    )

    def hits_and_misses(cpu_name=None):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
        env.pop("NUMBA_CPU_NAME", None)
        env.pop("NUMBA_CPU_FEATURES", None)
        if cpu_name:
            env["NUMBA_CPU_NAME"] = cpu_name
        run = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPOSITORY, capture_output=True, text=True,
                             check=True)
        return json.loads(run.stdout.strip().splitlines()[-1])

    assert hits_and_misses("generic") == [0, 1]  # compiled for a baseline x86-64 CPU and cached
    assert hits_and_misses() == [0, 1]  # this CPU does not load that: it compiles its own
    assert hits_and_misses() == [1, 0]  # and loads its own the next time
