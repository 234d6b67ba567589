"""The trend spec: X = value * 2^(t/d), t months from `at` to `at_date`, d lognormal with a 90% interval."""

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from amplification.distributions import from_spec
from amplification.errors import SpecError
from amplification.grid import Domain

MONTH = 365.25 / 12
Z_95 = stats.norm.ppf(0.95)
# The seed expert's extrapolation: 1e4 PF/s-days in May 2020, doubling every 3 to 12 months, read in January 2030.
TREND = {"type": "trend", "value": 1e4, "at": "2020-05-01", "doubling_months": {"low": 3.0, "high": 12.0},
         "at_date": "2030-01-01"}
MONTHS = (dt.date(2030, 1, 1) - dt.date(2020, 5, 1)).days / MONTH


def monte_carlo(n=10**6, seed=16):
    """10^6 draws of X: ln d normal with the 90% interval [ln 3, ln 12]."""
    rng = np.random.default_rng(seed)
    mu, sigma = (math.log(3) + math.log(12)) / 2, (math.log(12) - math.log(3)) / (2 * Z_95)
    d = np.exp(rng.normal(mu, sigma, n))
    return np.sort(1e4 * 2.0 ** (MONTHS / d))


def empirical_cdf(draws, x):
    return np.searchsorted(draws, x, side="right") / draws.size


def test_it_agrees_with_a_monte_carlo_of_the_doubling_time():
    domain = Domain.create(lower=1e3, upper=1e20, scale="log", open_lower=True, open_upper=True)
    cdf = from_spec(TREND, domain).cdf
    draws = monte_carlo()
    assert np.max(np.abs(cdf - empirical_cdf(draws, domain.x_grid()))) < 0.003


def test_it_truncates_at_a_closed_bound_like_the_monte_carlo_conditioned_on_the_range():
    domain = Domain.create(lower=1e8, upper=1e12, scale="log", open_lower=False, open_upper=False)
    cdf = from_spec(TREND, domain).cdf
    draws = monte_carlo()
    draws = draws[(draws >= 1e8) & (draws <= 1e12)]
    assert draws.size > 10**5
    assert np.max(np.abs(cdf - empirical_cdf(draws, domain.x_grid()))) < 0.003


def test_it_is_the_closed_form_through_the_doubling_times_distribution():
    # X <= x exactly when d >= t ln 2 / ln(x / value): the survival function of the lognormal doubling time.
    domain = Domain.create(lower=1e3, upper=1e20, scale="log", open_lower=True, open_upper=True)
    cdf = from_spec(TREND, domain).cdf
    x = domain.x_grid()
    doubling = stats.lognorm(s=(math.log(12) - math.log(3)) / (2 * Z_95), scale=math.sqrt(3 * 12))
    with np.errstate(divide="ignore"):
        expected = np.where(x > 1e4, doubling.sf(MONTHS * math.log(2) / np.log(x / 1e4)), 0.0)
    np.testing.assert_allclose(cdf, expected, atol=1e-12)


def test_it_gives_an_open_side_the_mass_it_is_told():
    domain = Domain.create(lower=1e3, upper=1e12, scale="log", open_lower=True, open_upper=True)
    d = from_spec({**TREND, "mass_above": 0.2}, domain)
    assert d.mass_above == pytest.approx(0.2, abs=1e-15)
    draws = monte_carlo()
    inside = draws[draws <= 1e12]
    # below 1e3 the trend has nothing (it only grows from 1e4), so the range holds all of the other 0.8
    assert d.mass_below == 0
    assert np.max(np.abs(d.cdf - 0.8 * empirical_cdf(inside, domain.x_grid()))) < 0.003


@pytest.mark.parametrize("horizon", ["2030-01-01", dt.date(2030, 1, 1), dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
                                     float((dt.date(2030, 1, 1) - dt.date(1970, 1, 1)).days)])
def test_it_extrapolates_to_the_questions_horizon_when_no_date_is_given(horizon):
    args = {"lower": 1e3, "upper": 1e20, "scale": "log", "open_lower": True, "open_upper": True}
    with_date = from_spec(TREND, Domain.create(**args)).cdf
    spec = {k: v for k, v in TREND.items() if k != "at_date"}
    np.testing.assert_array_equal(from_spec(spec, Domain.create(**args, horizon=horizon)).cdf, with_date)


def test_a_given_date_wins_over_the_horizon():
    args = {"lower": 1e3, "upper": 1e20, "scale": "log", "open_lower": True, "open_upper": True}
    other = from_spec(TREND, Domain.create(**args, horizon="2040-01-01")).cdf
    np.testing.assert_array_equal(other, from_spec(TREND, Domain.create(**args)).cdf)


def test_it_pools_a_trend_in_a_mixture():
    domain = Domain.create(lower=1e3, upper=1e20, scale="log", open_lower=True, open_upper=True)
    other = {"type": "lognormal", "median": 1e10, "sigma": 2.0}
    mixed = from_spec({"type": "mixture", "components": [{"weight": 0.25, "spec": TREND},
                                                          {"weight": 0.75, "spec": other}]}, domain).cdf
    expected = 0.25 * from_spec(TREND, domain).cdf + 0.75 * stats.lognorm(s=2.0, scale=1e10).cdf(domain.x_grid())
    np.testing.assert_allclose(mixed, expected, atol=1e-12)


LOG = Domain.create(lower=1e3, upper=1e20, scale="log", open_lower=False, open_upper=True)
NO_HORIZON = {k: v for k, v in TREND.items() if k != "at_date"}


@pytest.mark.parametrize(
    ("domain", "spec", "path"),
    [
        (Domain.create(lower=0, upper=10, scale="linear", open_lower=True, open_upper=True), TREND, "type"),
        (Domain.create(lower="2020-01-01", upper="2100-01-01", scale="date", open_lower=True, open_upper=True),
         TREND, "type"),
        (LOG, NO_HORIZON, "at_date"),
        (Domain.create(lower=1e3, upper=1e20, scale="log", open_lower=False, open_upper=True, horizon="2019-01-01"),
         NO_HORIZON, "at"),
        (LOG, {**TREND, "at_date": "2020-05-01"}, "at_date"),
        (LOG, {**TREND, "at_date": "next year"}, "at_date"),
        (LOG, {**TREND, "at": 2020}, "at"),
        (LOG, {**TREND, "value": 0}, "value"),
        (LOG, {**TREND, "value": "1e4"}, "value"),
        (LOG, {**TREND, "value": 1e20}, "value"),
        (LOG, {k: v for k, v in TREND.items() if k != "value"}, "value"),
        (LOG, {**TREND, "doubling_months": 6}, "doubling_months"),
        (LOG, {**TREND, "doubling_months": {"low": 3}}, "doubling_months.high"),
        (LOG, {**TREND, "doubling_months": {"low": 3, "high": 12, "median": 6}}, "doubling_months.median"),
        (LOG, {**TREND, "doubling_months": {"low": 0, "high": 12}}, "doubling_months.low"),
        (LOG, {**TREND, "doubling_months": {"low": 12, "high": 12}}, "doubling_months.high"),
        (LOG, {**TREND, "doubling_months": {"low": 3, "high": math.inf}}, "doubling_months.high"),
        (LOG, {**TREND, "mass_below": 0.1}, "mass_below"),
        (LOG, {**TREND, "sigma": 1}, "sigma"),
        (LOG, {"type": "mixture", "components": [{"weight": 1, "spec": NO_HORIZON}]}, "components[0].spec.at_date"),
    ],
    ids=["linear", "date", "no_date_no_horizon", "horizon_before_at", "at_date_not_after_at", "at_date_not_a_date",
         "at_not_a_date", "value_zero", "value_string", "value_at_upper", "value_missing", "doubling_not_an_object",
         "doubling_no_high", "doubling_extra_key", "doubling_low_zero", "doubling_no_spread", "doubling_infinite",
         "mass_on_closed_side", "extra_key", "inside_a_mixture"],
)
def test_it_rejects_a_bad_trend_naming_the_field(domain, spec, path):
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == path
    assert info.value.message


def test_it_rejects_a_horizon_that_is_not_a_date():
    with pytest.raises(SpecError) as info:
        Domain.create(lower=1, upper=10, scale="log", open_lower=True, open_upper=True, horizon="soon")
    assert info.value.path == "horizon"


@st.composite
def trend_cases(draw):
    lower = 10.0 ** draw(st.floats(-100, 100))
    domain = Domain.create(lower=lower, upper=lower * 10.0 ** draw(st.floats(0.1, 100)), scale="log",
                           open_lower=draw(st.booleans()), open_upper=draw(st.booleans()))
    spec = {"type": "trend", "value": min(lower * 10.0 ** draw(st.floats(-50, 50)), domain.upper / 2),
            "at": "2020-05-01"}
    spec["at_date"] = (dt.date(2020, 5, 2) + dt.timedelta(days=draw(st.integers(0, 36500)))).isoformat()
    low = 10.0 ** draw(st.floats(-3, 3))
    spec["doubling_months"] = {"low": low, "high": low * 10.0 ** draw(st.floats(0.01, 3))}
    if domain.open_lower and draw(st.booleans()):
        spec["mass_below"] = draw(st.floats(0, 0.45))
    if domain.open_upper and draw(st.booleans()):
        spec["mass_above"] = draw(st.floats(0, 0.45))
    return domain, spec


@settings(max_examples=200, deadline=None)
@given(trend_cases())
def test_every_valid_trend_gives_a_valid_cdf(case):
    domain, spec = case
    cdf = from_spec(spec, domain).cdf
    assert np.all(np.isfinite(cdf)) and np.all(np.diff(cdf) >= 0) and cdf[0] >= 0 and cdf[-1] <= 1
    if "mass_below" in spec:
        assert abs(cdf[0] - spec["mass_below"]) <= 1e-12
    if "mass_above" in spec:
        assert abs(1 - cdf[-1] - spec["mass_above"]) <= 1e-12
    if not domain.open_lower:
        assert cdf[0] == 0
    if not domain.open_upper:
        assert cdf[-1] == 1
