import datetime as dt
import math

import numpy as np
import pytest
from scipy import stats

from amplification.distributions import BAD_FIT_TOLERANCE, from_spec, masses, summarize
from amplification.grid import U_GRID, Domain

DAYS = 365.25


def years_after(domain, iso):
    return (dt.date.fromisoformat(iso) - dt.date(1970, 1, 1)).days / DAYS - domain.lower / DAYS


def test_it_samples_a_lognormal_on_the_grid(compute_domain):
    d = from_spec({"type": "lognormal", "median": 1e13, "sigma": 2.3}, compute_domain)
    ref = stats.lognorm(s=2.3, scale=1e13)
    x = compute_domain.x_grid()
    # closed lower bound: truncated at 1 and renormalised; open upper: the lognormal's own tail stays above
    expected = (ref.cdf(x) - ref.cdf(1.0)) / ref.sf(1.0)
    np.testing.assert_allclose(d.cdf, expected, atol=1e-12)
    assert d.mass_below == 0
    assert d.mass_above == pytest.approx(ref.sf(1e20) / ref.sf(1.0), rel=1e-6)


def test_it_reads_a_90_percent_interval(compute_domain):
    d = from_spec({"type": "lognormal", "low": 1e9, "high": 1e17}, compute_domain)
    s = summarize(d.cdf, compute_domain)
    # read off the piecewise-linear grid CDF, so good to the interpolation error, not to round-off
    assert s["p5"] == pytest.approx(1e9, rel=1e-4)
    assert s["p95"] == pytest.approx(1e17, rel=1e-4)


def test_it_gives_exact_tail_masses_and_rescales_the_inside(agi_domain):
    spec = {"type": "lognormal", "median": "2040-01-01", "sigma": 0.8, "mass_below": 0.001, "mass_above": 0.35}
    d = from_spec(spec, agi_domain)
    assert d.mass_below == pytest.approx(0.001, abs=1e-15)
    assert d.mass_above == pytest.approx(0.35, abs=1e-15)
    ref = stats.lognorm(s=0.8, scale=years_after(agi_domain, "2040-01-01"))
    years = (agi_domain.x_grid() - agi_domain.lower) / DAYS
    inside = (ref.cdf(years) - ref.cdf(years[0])) / (ref.cdf(years[-1]) - ref.cdf(years[0]))
    np.testing.assert_allclose(d.cdf, 0.001 + 0.649 * inside, atol=1e-12)


def test_it_keeps_a_normals_own_tails_on_open_sides():
    domain = Domain.create(lower=0, upper=10, scale="linear", open_lower=True, open_upper=True)
    d = from_spec({"type": "normal", "mean": 3.0, "sd": 2.0}, domain)
    np.testing.assert_allclose(d.cdf, stats.norm(3, 2).cdf(domain.x_grid()), atol=1e-13)


def test_it_reads_a_normal_on_a_date_scale_in_years(agi_domain):
    d = from_spec({"type": "normal", "mean": 20.0, "sd": 5.0}, agi_domain)
    years = (agi_domain.x_grid() - agi_domain.lower) / DAYS
    np.testing.assert_allclose(d.cdf, stats.norm(20, 5).cdf(years), atol=1e-13)


def test_it_builds_a_flat_histogram(linear_domain):
    spec = {"type": "histogram", "bins": [{"lo": -10, "hi": 0, "p": 0.25}, {"lo": 5, "hi": 10, "p": 0.75}]}
    d = from_spec(spec, linear_domain)
    x = linear_domain.x_grid()
    expected = np.where(x <= 0, 0.25 * (x + 10) / 10, np.where(x <= 5, 0.25, 0.25 + 0.75 * (x - 5) / 5))
    np.testing.assert_allclose(d.cdf, expected, atol=1e-14)


def test_it_takes_a_cdf_verbatim():
    domain = Domain.create(lower=0, upper=1, scale="linear", open_lower=True, open_upper=True)
    values = list(0.1 + 0.8 * U_GRID**2)
    d = from_spec({"type": "cdf", "cdf": values}, domain)
    assert d.cdf.tolist() == values


def test_it_pools_a_mixture_and_notes_normalised_weights(compute_domain):
    a = {"type": "lognormal", "median": 1e8, "sigma": 1.0}
    b = {"type": "lognormal", "median": 1e12, "sigma": 2.0}
    d = from_spec({"type": "mixture", "components": [{"weight": 0.3, "spec": a}, {"weight": 0.6, "spec": b}]},
                  compute_domain)
    x = compute_domain.x_grid()
    fa, fb = stats.lognorm(s=1, scale=1e8), stats.lognorm(s=2, scale=1e12)
    expected = (fa.cdf(x) - fa.cdf(1)) / fa.sf(1) / 3 + 2 * (fb.cdf(x) - fb.cdf(1)) / fb.sf(1) / 3
    np.testing.assert_allclose(d.cdf, expected, atol=1e-12)
    assert any("normalised" in n for n in d.notes)


def test_it_fits_quantiles_and_reports_residuals_against_the_final_cdf(agi_domain):
    spec = {"type": "quantiles", "mass_below": 0.01, "mass_above": 0.3,
            "points": [{"p": 0.2, "x": "2030-01-01"}, {"p": 0.5, "x": "2045-06-01"}]}
    d = from_spec(spec, agi_domain)
    assert d.fit.family == "lognormal" and d.fit.good
    # Two points: the fit is of the FINAL CDF (the lognormal in years after lower, truncated to the range and
    # rescaled into the 0.69 the tail masses leave), so that CDF, rebuilt here with scipy, passes through both.
    mu, sigma = d.fit.params["mu"], d.fit.params["sigma"]
    ref = stats.lognorm(s=sigma, scale=math.exp(mu))
    top = (agi_domain.upper - agi_domain.lower) / DAYS
    years = np.array([years_after(agi_domain, "2030-01-01"), years_after(agi_domain, "2045-06-01")])
    final = 0.01 + 0.69 * (ref.cdf(years) - ref.cdf(0)) / (ref.cdf(top) - ref.cdf(0))
    np.testing.assert_allclose(final, [0.2, 0.5], atol=1e-9)
    np.testing.assert_allclose([r["fitted_p"] for r in d.fit.residuals], final, atol=1e-12)
    assert d.fit.residuals[0]["x"] == "2030-01-01"
    assert d.fit.max_abs_p_residual == max(abs(r["fitted_p"] - r["p"]) for r in d.fit.residuals)


def test_it_fits_two_quantiles_exactly_when_nothing_is_truncated():
    domain = Domain.create(lower=1e-5, upper=1e30, scale="log", open_lower=True, open_upper=True)
    d = from_spec({"type": "quantiles", "points": [{"p": 0.1, "x": 100.0}, {"p": 0.6, "x": 1e6}]}, domain)
    for r in d.fit.residuals:
        assert r["fitted_p"] == pytest.approx(r["p"], abs=1e-12)
        assert r["fitted_x"] == pytest.approx(r["x"], rel=1e-9)
    assert summarize(d.cdf, domain)["p25"] == pytest.approx(
        stats.lognorm(s=d.fit.params["sigma"], scale=math.exp(d.fit.params["mu"])).ppf(0.25), rel=1e-3)


def test_it_flags_a_bad_fit_for_clearly_non_lognormal_quantiles(compute_domain):
    spec = {"type": "quantiles", "points": [{"p": 0.1, "x": 10.0}, {"p": 0.5, "x": 1e12}, {"p": 0.9, "x": 2e12}]}
    d = from_spec(spec, compute_domain)
    assert d.fit.max_abs_p_residual > BAD_FIT_TOLERANCE
    assert not d.fit.good
    assert any("poorly" in n for n in d.notes)


def test_it_flags_a_good_fit_for_lognormal_quantiles(compute_domain):
    ref = stats.lognorm(s=3.0, scale=1e10)
    points = [{"p": p, "x": float(ref.ppf(p))} for p in (0.1, 0.3, 0.5, 0.8)]
    d = from_spec({"type": "quantiles", "points": points}, compute_domain)
    assert d.fit.good
    assert d.fit.params["sigma"] == pytest.approx(3.0, rel=1e-6)


@pytest.mark.parametrize(("median", "sigma"), [(1e-300, 1e-9), (1e-300, 1e9), (1e300, 1e-9), (1e13, 1e-9),
                                                (1e13, 1e9), (1e300, 1e9), (5e-324, 1.0)])
@pytest.mark.parametrize("given", [{}, {"mass_above": 0.2}])
def test_it_survives_extreme_parameters(compute_domain, median, sigma, given):
    d = from_spec({"type": "lognormal", "median": median, "sigma": sigma, **given}, compute_domain)
    assert d.cdf.shape == (201,)
    assert np.all(np.isfinite(d.cdf))
    assert np.all(np.diff(d.cdf) >= 0) and d.cdf[0] >= 0 and d.cdf[-1] <= 1
    assert d.mass_below == 0
    if given:
        assert d.mass_above == pytest.approx(0.2, abs=1e-15)
    summary = summarize(d.cdf, compute_domain)
    assert summary["mass_below"] == 0


def test_it_piles_a_far_away_narrow_distribution_at_the_near_closed_bound(compute_domain):
    d = from_spec({"type": "lognormal", "median": 1e-300, "sigma": 1e-9}, compute_domain)
    assert d.cdf[1] == pytest.approx(1.0)


def test_it_summarizes_in_question_units():
    domain = Domain.create(lower=0, upper=10, scale="linear", open_lower=False, open_upper=False)
    cdf = U_GRID.copy()  # uniform on [0, 10]
    s = summarize(cdf, domain)
    assert s["mean"] == pytest.approx(5.0)
    assert s["median"] == pytest.approx(5.0)
    assert s["p5"] == pytest.approx(0.5)
    assert s["p95"] == pytest.approx(9.5)
    assert s["mass_below"] == 0 and s["mass_above"] == 0


def test_it_gives_none_for_a_quantile_inside_a_tail_mass(agi_domain):
    d = from_spec({"type": "normal", "mean": 30, "sd": 10, "mass_below": 0.1, "mass_above": 0.3}, agi_domain)
    s = summarize(d.cdf, agi_domain)
    assert s["p5"] is None and s["p75"] is None and s["p95"] is None
    assert isinstance(s["median"], str) and isinstance(s["mean"], str)


def test_it_takes_the_log_mean_of_in_range_mass_on_a_log_scale():
    domain = Domain.create(lower=1, upper=100, scale="log", open_lower=False, open_upper=False)
    s = summarize(U_GRID.copy(), domain)  # ln X uniform on [0, ln 100]
    assert s["mean"] == pytest.approx(99 / math.log(100), rel=1e-12)
    assert s["median"] == pytest.approx(10.0)


def test_it_reports_the_mode_on_the_questions_axis():
    domain = Domain.create(lower=1, upper=1e10, scale="log", open_lower=False, open_upper=False)
    d = from_spec({"type": "lognormal", "median": 1e5, "sigma": 2.0}, domain)
    mode = summarize(d.cdf, domain)["mode"]
    assert abs(math.log10(mode) - 5) <= 0.5 * 10 / 200 + 1e-9  # within half a bin of the log-space mode


def test_masses_sum_to_one_and_match_the_layout():
    cdf = np.linspace(0.1, 0.7, 201)
    m = masses(np.stack([cdf, cdf]))
    assert m.shape == (2, 202)
    assert m[0, 0] == pytest.approx(0.1) and m[0, -1] == pytest.approx(0.3)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)


# --- the two reference runs (docs/design.md) -----------------------------------------------------------------------


def test_the_compute_prior_has_median_about_1e13(compute_domain):
    prior = from_spec({"type": "lognormal", "median": 1e13, "sigma": 4.0}, compute_domain)
    s = summarize(prior.cdf, compute_domain)
    assert abs(math.log10(s["median"]) - 13) < 0.02
    assert s["mass_below"] == 0


def test_the_compute_posterior_has_median_about_1e9_and_mode_about_1e8(compute_domain):
    spec = {"type": "mixture", "components": [
        {"weight": 0.5, "spec": {"type": "lognormal", "median": 1e8, "sigma": 1.5}},
        {"weight": 0.5, "spec": {"type": "lognormal", "median": 1e11, "sigma": 3.0}},
    ]}
    s = summarize(from_spec(spec, compute_domain).cdf, compute_domain)
    assert abs(math.log10(s["median"]) - 9) < 0.05
    assert abs(math.log10(s["mode"]) - 8) < 0.25


def test_the_agi_prior_has_its_tail_masses_and_median_about_20_years_out(agi_domain):
    spec = {"type": "lognormal", "median": "2033-01-01", "sigma": 0.6, "mass_below": 0.001, "mass_above": 0.35}
    d = from_spec(spec, agi_domain)
    s = summarize(d.cdf, agi_domain)
    assert s["mass_below"] == pytest.approx(0.001, abs=1e-12)
    assert s["mass_above"] == pytest.approx(0.35, abs=1e-12)
    # median of the TOTAL distribution: 0.001 + 0.649 * truncated CDF = 0.5, solved with scipy
    ref = stats.lognorm(s=0.6, scale=years_after(agi_domain, "2033-01-01"))
    top = (agi_domain.upper - agi_domain.lower) / DAYS
    target = ref.cdf(0) + (0.5 - 0.001) / 0.649 * (ref.cdf(top) - ref.cdf(0))
    expected_years = ref.ppf(target)
    median_years = years_after(agi_domain, s["median"])
    assert median_years == pytest.approx(expected_years, abs=1.0)  # ISO dates round to the day; the grid is ~5 months
    assert 18 <= median_years <= 22


def test_the_agi_posterior_has_3_percent_already_and_40_percent_never(agi_domain):
    prior = from_spec({"type": "lognormal", "median": "2033-01-01", "sigma": 0.6, "mass_below": 0.001,
                       "mass_above": 0.35}, agi_domain)
    spec = {"type": "quantiles", "mass_below": 0.03, "mass_above": 0.40,
            "points": [{"p": 0.2, "x": "2030-01-01"}, {"p": 0.4, "x": "2045-01-01"}, {"p": 0.55, "x": "2070-01-01"}]}
    posterior = from_spec(spec, agi_domain)
    s = summarize(posterior.cdf, agi_domain)
    assert s["mass_below"] == pytest.approx(0.03, abs=1e-12)
    assert s["mass_above"] == pytest.approx(0.40, abs=1e-12)
    assert posterior.fit.params["sigma"] > 0.6  # more uncertain than the prior
    assert posterior.fit.good
    assert prior.mass_above < posterior.mass_above


def test_an_open_side_without_a_given_mass_keeps_its_share_of_what_the_given_side_leaves():
    domain = Domain.create(lower=0, upper=10, scale="linear", open_lower=True, open_upper=True)
    d = from_spec({"type": "normal", "mean": 2.0, "sd": 3.0, "mass_above": 0.2}, domain)
    ref = stats.norm(2, 3)
    assert d.mass_above == pytest.approx(0.2, abs=1e-15)
    assert d.mass_below == pytest.approx(0.8 * ref.cdf(0) / ref.cdf(10), rel=1e-12)
    np.testing.assert_allclose(d.cdf, 0.8 * ref.cdf(domain.x_grid()) / ref.cdf(10), atol=1e-13)
