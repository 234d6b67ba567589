"""The four pooling methods (DESIGN.md, "Pooling methods"), skill weights and PIT values, against independent
references: Metaculus's formula worked by hand, closed-form normal and lognormal CDFs, and a direct Vincentization
written from the definition (np.interp per prediction at a fine set of levels)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from amplification.distributions import from_spec, summarize
from amplification.grid import U_GRID, Domain
from amplification.pooling import (
    POOL_METHODS,
    QUANTILE_LEVELS,
    linear_pool,
    metaculus_recency_weights,
    pit_values,
    pool,
    quantile_pool,
    skill_pool_weights,
)
from tests.engine.test_properties import DOMAINS, any_specs

H = 1 / 200
# The level grid's bound on the quantile pool's error in probability (see QUANTILE_LEVELS).
LEVEL_ERROR = 2 / QUANTILE_LEVELS
LINEAR = Domain.create(lower=-10.0, upper=10.0, scale="linear", open_lower=False, open_upper=False)
LOG = Domain.create(lower=1.0, upper=1e20, scale="log", open_lower=True, open_upper=True)
OPEN = Domain.create(lower=0.0, upper=1.0, scale="linear", open_lower=True, open_upper=True)


def grid_error(sds_u, weights):
    """First-order error of the Vincentized pool of normals given by their CDFs at the 201 grid points (linear
    between): each input's chord misses its CDF by up to h^2/8 |F_i''| = h^2/8 |z| phi(z) / s_i^2, which shifts its
    quantile by that over its density phi(z) / s_i; the pool, of density phi(z) / s, moves by s/s_i of it. At most
    h^2/8 phi(1) sum_i v_i / (s_i s), s = sum v_i s_i (max |z| phi(z) is phi(1))."""
    s = float(np.dot(weights, sds_u))
    return H**2 / 8 * stats.norm.pdf(1.0) * sum(v / (si * s) for v, si in zip(weights, sds_u, strict=True))


def direct_vincentization(cdfs, levels=2_000_001):
    """The definition, one prediction at a time: in-range parts G_i (tail masses removed), weights w_i m_i, quantile
    functions by np.interp of the grid against G_i at fine levels, their weighted mean, and its CDF back on the
    grid; then the mean tail masses put back. Independent of the compiled level sums; off by about the level
    spacing (5e-7 here) where a G_i is flat."""
    p = np.linspace(0.0, 1.0, levels)
    below, above = cdfs[:, 0].mean(), (1 - cdfs[:, -1]).mean()
    mass = cdfs[:, -1] - cdfs[:, 0]
    u_mean = np.zeros(levels)
    for row, m in zip(cdfs, mass, strict=True):
        if m > 0:
            g = (row - row[0]) / m
            u_mean += m / mass.sum() * np.interp(p, g, U_GRID)
    shape = np.interp(U_GRID, u_mean, p)
    return below + (1 - below - above) * shape


# --- recency -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "by_hand"),
    [
        (1, [1.0]),
        (2, [1.0, 1.0]),
        (3, [math.exp(1 - math.sqrt(3)), math.exp(math.sqrt(2) - math.sqrt(3)), 1.0]),
        (5, [math.exp(1 - math.sqrt(5)), math.exp(math.sqrt(2) - math.sqrt(5)), math.exp(math.sqrt(3) - math.sqrt(5)),
             math.exp(2 - math.sqrt(5)), 1.0]),
    ],
)
def test_it_weighs_by_recency_as_metaculus_does(n, by_hand):
    expected = np.array(by_hand) / sum(by_hand)
    np.testing.assert_allclose(metaculus_recency_weights(n), expected, rtol=1e-14)


def test_it_orders_the_recency_pool_by_creation_not_by_row():
    rows = np.stack([U_GRID, U_GRID**2, np.sqrt(U_GRID)])
    created = np.array([30.0, 10.0, 20.0])  # row 1 oldest, then row 2, then row 0
    w = metaculus_recency_weights(3)
    expected = w[2] * rows[0] + w[0] * rows[1] + w[1] * rows[2]
    np.testing.assert_allclose(pool("recency", rows, created_order=created), expected, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(pool("recency", rows), w @ rows, rtol=1e-14, atol=1e-16)


# --- quantile (Vincentization) -------------------------------------------------------------------------------------


def test_it_vincentizes_two_normals_into_the_normal_of_mean_mean_and_mean_sd():
    # N(-1, 1) and N(1, 1.5) on [-10, 10]: both at least 6 sd from the bounds, so truncation (< 1e-9) is negligible.
    cdfs = np.stack([from_spec({"type": "normal", "mean": m, "sd": s}, LINEAR).cdf for m, s in ((-1, 1), (1, 1.5))])
    expected = stats.norm.cdf(LINEAR.x_grid(), loc=0.0, scale=1.25)
    tolerance = 1.2 * grid_error([1 / 20, 1.5 / 20], [0.5, 0.5]) + LEVEL_ERROR  # 20% over the first-order bound
    error = np.abs(quantile_pool(cdfs) - expected)
    assert error.max() <= tolerance
    # ...and the bound is not slack: the grid's own error is most of it (a wrong pool is off by ~0.1 here).
    assert error.max() >= 0.3 * tolerance
    assert np.abs(linear_pool(cdfs) - expected).max() > 50 * tolerance


def test_it_takes_the_geometric_mean_of_x_on_a_log_question():
    # ln X ~ N(ln 1e8, 2) and N(ln 1e12, 3); u = ln x / ln 1e20, so sd in u is sigma / ln 1e20.
    specs = [{"type": "lognormal", "median": 1e8, "sigma": 2.0}, {"type": "lognormal", "median": 1e12, "sigma": 3.0}]
    cdfs = np.stack([from_spec(s, LOG).cdf for s in specs])
    mu, sigma = (math.log(1e8) + math.log(1e12)) / 2, 2.5
    expected = stats.lognorm.cdf(LOG.x_grid(), s=sigma, scale=math.exp(mu))
    width = math.log(1e20)
    # The lognormals' tails beyond [1, 1e20] (up to 3e-5 above) are pooled as the mean of the two, which the
    # closed form also has at the bounds only to that order: the in-range comparison allows for it.
    tails = stats.norm.sf((width - math.log(1e12)) / 3.0)
    tolerance = 1.2 * grid_error([2 / width, 3 / width], [0.5, 0.5]) + LEVEL_ERROR + tails
    pooled = quantile_pool(cdfs)
    assert np.abs(pooled - expected).max() <= tolerance
    # The pooled quantiles are the geometric means of the two forecasts' quantiles.
    summary = summarize(pooled, LOG)
    for key, p in (("p5", 0.05), ("median", 0.5), ("p95", 0.95)):
        geometric = math.sqrt(stats.lognorm.ppf(p, s=2.0, scale=1e8) * stats.lognorm.ppf(p, s=3.0, scale=1e12))
        assert math.log(summary[key]) == pytest.approx(math.log(geometric), abs=0.02)  # 2% of x


def test_it_matches_a_direct_vincentization_of_uneven_shapes():
    rng = np.random.default_rng(7)
    # Histograms with empty stretches, a normal, and different tail masses on an open question.
    steps = rng.dirichlet(np.full(200, 0.2), size=3) * (rng.random((3, 200)) > 0.3)
    steps /= steps.sum(axis=1, keepdims=True)
    shapes = np.concatenate([np.zeros((3, 1)), np.cumsum(steps, axis=1)], axis=1)
    shapes = np.vstack([shapes, stats.norm.cdf(U_GRID, 0.3, 0.05)])
    shapes = (shapes - shapes[:, :1]) / (shapes[:, -1:] - shapes[:, :1])
    below, above = np.array([0.0, 0.1, 0.3, 0.05]), np.array([0.2, 0.0, 0.1, 0.05])
    cdfs = below[:, None] + (1 - below - above)[:, None] * shapes
    np.testing.assert_allclose(quantile_pool(cdfs), direct_vincentization(cdfs), rtol=0, atol=LEVEL_ERROR + 1e-6)


def test_it_gives_a_large_crowd_the_same_pool_on_two_threads():
    # 6,000 rows split between two threads: 3,000 copies of each normal pool to the same closed form.
    pair = np.stack([from_spec({"type": "normal", "mean": m, "sd": s}, LINEAR).cdf for m, s in ((-1, 1), (1, 1.5))])
    crowd = np.tile(pair, (3000, 1))
    expected = stats.norm.cdf(LINEAR.x_grid(), loc=0.0, scale=1.25)
    tolerance = 1.2 * grid_error([1 / 20, 1.5 / 20], [0.5, 0.5]) + LEVEL_ERROR
    assert np.abs(quantile_pool(crowd) - expected).max() <= tolerance
    # Sums over 6,000 rows round differently from sums over 2 (5e-11 seen), and nothing else may differ.
    np.testing.assert_allclose(quantile_pool(crowd), quantile_pool(pair), rtol=0, atol=1e-9)
    crowd[4500, 100:] = 0.2  # a decrease in the second thread's rows is reported with its own row number
    with pytest.raises(ValueError, match=r"cdfs\[4500\]"):
        quantile_pool(crowd)


def test_it_returns_identical_predictions_within_the_level_error():
    cdf = from_spec({"type": "normal", "mean": 0.4, "sd": 0.05, "mass_below": 0.1, "mass_above": 0.2}, OPEN).cdf
    pooled = quantile_pool(np.stack([cdf, cdf, cdf]))
    assert np.abs(pooled - cdf).max() <= LEVEL_ERROR * 0.7  # 0.7: the in-range mass it is rescaled to


def test_it_drops_a_prediction_with_no_mass_inside_from_the_inside_average():
    shape = from_spec({"type": "normal", "mean": 0.6, "sd": 0.1, "mass_below": 0.1, "mass_above": 0.1}, OPEN).cdf
    nothing_inside = from_spec({"type": "cdf", "cdf": [0.25] * 201}, OPEN).cdf  # 0.25 below, 0.75 above
    pooled = quantile_pool(np.stack([shape, nothing_inside]))
    assert pooled[0] == pytest.approx((0.1 + 0.25) / 2, abs=1e-15)
    assert 1 - pooled[-1] == pytest.approx((0.1 + 0.75) / 2, abs=1e-15)
    inside = (shape - shape[0]) / (shape[-1] - shape[0])
    np.testing.assert_allclose((pooled - pooled[0]) / (pooled[-1] - pooled[0]), inside, atol=1e-13)
    both_empty = quantile_pool(np.stack([nothing_inside, from_spec({"type": "cdf", "cdf": [0.5] * 201}, OPEN).cdf]))
    np.testing.assert_allclose(both_empty, 0.375, atol=1e-15)  # flat inside: all mass in the tails


def test_it_weighs_the_inside_average_by_mass_inside():
    # Equal weights, but the first forecast has only 10% of its mass inside (at u ~ 0.2) and the second all of it
    # (at u ~ 0.8): the inside average weighs them 1:10, so its median is at 0.2 + (10/11)(0.6) ~ 0.745.
    low = from_spec({"type": "normal", "mean": 0.2, "sd": 0.02, "mass_above": 0.9}, OPEN).cdf
    high = from_spec({"type": "normal", "mean": 0.8, "sd": 0.02, "mass_below": 0.0, "mass_above": 0.0}, OPEN).cdf
    pooled = quantile_pool(np.stack([low, high]))
    inside = (pooled - pooled[0]) / (pooled[-1] - pooled[0])
    median_u = np.interp(0.5, inside, U_GRID)
    assert median_u == pytest.approx(0.2 / 11 + 0.8 * 10 / 11, abs=1e-3)


def test_it_keeps_where_the_supports_begin_and_end():
    # Uniform on [0.3, 0.5] and on [0.5, 0.7]: the pool is uniform on [0.4, 0.6], with nothing outside it (to
    # round-off, not to the level error: the support's ends are averaged exactly).
    a = from_spec({"type": "histogram", "bins": [{"lo": 0.3, "hi": 0.5, "p": 1.0}]}, OPEN).cdf
    b = from_spec({"type": "histogram", "bins": [{"lo": 0.5, "hi": 0.7, "p": 1.0}]}, OPEN).cdf
    pooled = quantile_pool(np.stack([a, b]))
    assert np.all(pooled[U_GRID <= 0.4] == 0.0) and np.all(pooled[U_GRID >= 0.6] >= 1 - 1e-15)
    np.testing.assert_allclose(pooled, np.clip((U_GRID - 0.4) / 0.2, 0, 1), atol=LEVEL_ERROR)


def test_it_refuses_a_decreasing_cdf():
    bad = np.stack([U_GRID, U_GRID.copy()])
    bad[1, 50] = 0.9
    with pytest.raises(ValueError, match=r"cdfs\[1\]"):
        quantile_pool(bad)
    with pytest.raises(ValueError):
        quantile_pool(np.stack([U_GRID, np.full(201, np.nan)]))


# --- every method --------------------------------------------------------------------------------------------------


def pool_by(method, cdfs, rng=None):
    n = cdfs.shape[0]
    if method == "skill":
        rng = rng or np.random.default_rng(0)
        weights = skill_pool_weights(rng.normal(size=n), rng.integers(0, 6, n), min_count=3)
        return pool("skill", cdfs, weights=weights), weights
    if method == "recency":
        return pool("recency", cdfs, created_order=np.arange(n)), metaculus_recency_weights(n)
    return pool(method, cdfs), np.full(n, 1 / n)


@pytest.mark.parametrize("method", POOL_METHODS)
@pytest.mark.parametrize(
    "spec",
    [
        {"type": "normal", "mean": 0.4, "sd": 0.1, "mass_below": 0.05, "mass_above": 0.2},
        {"type": "histogram", "bins": [{"lo": 0.2, "hi": 0.3, "p": 0.5}, {"lo": 0.6, "hi": 0.9, "p": 0.5}]},
        {"type": "cdf", "cdf": [0.4] * 201},
    ],
)
def test_it_returns_a_single_prediction_unchanged(method, spec):
    cdf = from_spec(spec, OPEN).cdf
    pooled, _ = pool_by(method, cdf[None, :])
    np.testing.assert_allclose(pooled, cdf, rtol=0, atol=1e-15)


@st.composite
def odd_specs(draw, domain):
    """Forecasts at the edges: all mass in one bin, or none inside the range (all in the open tails)."""
    if draw(st.booleans()) or not (domain.open_lower or domain.open_upper):
        j = draw(st.integers(0, 199))
        x = domain.x_grid()
        lo, hi = (domain.format_x(x[j]), domain.format_x(x[j + 1]))
        if domain.scale == "date" and lo >= hi:
            lo, hi = domain.format_x(domain.lower), domain.format_x(domain.upper)
        return {"type": "histogram", "bins": [{"lo": lo, "hi": hi, "p": 1.0}]}
    level = draw(st.floats(0.0, 1.0)) if domain.open_lower and domain.open_upper else float(domain.open_lower)
    return {"type": "cdf", "cdf": [level] * 201}


@st.composite
def crowds(draw):
    domain = draw(st.sampled_from(DOMAINS))
    specs = draw(st.lists(st.one_of(any_specs(domain), odd_specs(domain)), min_size=1, max_size=6))
    return domain, np.stack([from_spec(s, domain).cdf for s in specs])


@pytest.mark.parametrize("method", POOL_METHODS)
def test_every_pool_of_valid_cdfs_is_a_valid_cdf_with_the_mean_tails(method):
    @given(crowds(), st.integers(0, 2**32 - 1))
    def run(case, seed):
        domain, cdfs = case
        pooled, weights = pool_by(method, cdfs, np.random.default_rng(seed))
        assert pooled.shape == (201,) and np.all(np.isfinite(pooled))
        assert np.all(np.diff(pooled) >= 0) and pooled[0] >= 0 and pooled[-1] <= 1
        assert pooled[0] == pytest.approx(weights @ cdfs[:, 0], abs=1e-14)
        assert 1 - pooled[-1] == pytest.approx(weights @ (1 - cdfs[:, -1]), abs=1e-14)
        if not domain.open_lower:
            assert pooled[0] == 0
        if not domain.open_upper:
            assert pooled[-1] == 1

    run()


def test_it_names_the_allowed_methods_for_an_unknown_one():
    with pytest.raises(ValueError, match="allowed: equal, recency, quantile, skill"):
        pool("median", U_GRID[None, :])


def test_it_asks_skill_for_weights_and_refuses_them_elsewhere():
    with pytest.raises(ValueError, match="skill"):
        pool("skill", U_GRID[None, :])
    with pytest.raises(ValueError, match="takes no weights"):
        pool("equal", U_GRID[None, :], weights=np.ones(1))


# --- skill weights -------------------------------------------------------------------------------------------------


def test_skill_weights_are_equal_when_nobody_has_enough_questions():
    w = skill_pool_weights(np.array([2.0, -1.0, np.nan]), np.array([2, 1, 0]), min_count=3)
    np.testing.assert_allclose(w, [1 / 3, 1 / 3, 1 / 3], rtol=1e-15)


def test_skill_weights_favour_the_better_record_and_count_newcomers_as_average():
    w = skill_pool_weights(np.array([0.0, 1.0, np.nan, 5.0]), np.array([4, 3, 0, 2]), min_count=3)
    raw = np.array([1.0, math.e, (1.0 + math.e) / 2, (1.0 + math.e) / 2])  # e^skill; below 3 questions: the mean
    np.testing.assert_allclose(w, raw / raw.sum(), rtol=1e-14)
    assert w[1] > w[0]


def test_skill_weights_stay_positive_and_finite_for_extreme_records():
    w = skill_pool_weights(np.array([1e6, -1e6, 0.0]), np.array([5, 5, 5]), min_count=1)
    assert np.all(w > 0) and np.all(np.isfinite(w)) and w[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("skill", "counts", "min_count"),
    [([np.nan], [3], 3), ([1.0], [-1], 1), ([1.0, 2.0], [3], 1), ([1.0], [3.5], 1), ([1.0], [3], 0)],
)
def test_skill_weights_refuse_bad_records(skill, counts, min_count):
    with pytest.raises(ValueError):
        skill_pool_weights(np.array(skill), np.array(counts), min_count=min_count)


# --- PIT -----------------------------------------------------------------------------------------------------------


def test_pit_values_read_each_cdf_at_u_with_tail_midpoints():
    # cdf = 0.1 + 0.7 u: 0.1 below the range, 0.2 above; and the uniform on [0, 1].
    cdfs = np.stack([0.1 + 0.7 * U_GRID, U_GRID])
    np.testing.assert_allclose(pit_values(cdfs, 0.3025), [0.1 + 0.7 * 0.3025, 0.3025], rtol=1e-14)
    np.testing.assert_allclose(pit_values(cdfs, -np.inf), [0.05, 0.0])
    np.testing.assert_allclose(pit_values(cdfs, 1.5), [0.9, 1.0])
    np.testing.assert_allclose(pit_values(cdfs, np.array([0.0, 1.0])), [0.1, 1.0])
    np.testing.assert_allclose(pit_values(cdfs, np.array([1.0, -0.5])), [0.8, 0.0])


def test_pit_values_interpolate_between_grid_points():
    cdf = U_GRID**2  # grid values 0, h^2, 4h^2, ...: between 60 and 61 the chord, not the parabola
    expected = (60 * H) ** 2 + 0.25 * ((61 * H) ** 2 - (60 * H) ** 2)
    assert pit_values(cdf[None, :], 60.25 * H)[0] == pytest.approx(expected, rel=1e-12)


def test_pit_values_refuse_nan_and_bad_shapes():
    with pytest.raises(ValueError):
        pit_values(U_GRID[None, :], np.nan)
    with pytest.raises(ValueError):
        pit_values(U_GRID[None, :], np.array([0.1, 0.2]))
