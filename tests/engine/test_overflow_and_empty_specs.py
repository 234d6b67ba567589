"""Specs and domains at the edges of float arithmetic are refused naming the field, or computed finitely; never NaN."""

import math

import numpy as np
import pytest
from scipy import stats

from amplification.distributions import from_spec, summarize
from amplification.errors import SpecError
from amplification.grid import U_GRID, Domain

WIDE_LOG = Domain.create(lower=100, upper=1e18, scale="log", open_lower=True, open_upper=True)
LN = {"type": "lognormal", "median": 1e9, "sigma": 1.0}
EMPTY_BINS = {"type": "histogram", "mass_below": 0.5, "mass_above": 0.4999995, "bins": [{"lo": 1e3, "hi": 1e5, "p": 0}]}


def test_it_refuses_histogram_bins_that_hold_nothing_when_the_tails_leave_mass():
    # mass_below + mass_above is within HISTOGRAM_TOLERANCE of 1, so the sum check passes; the bins still have to
    # say where the remaining 5e-7 lies.
    with pytest.raises(SpecError) as info:
        from_spec(EMPTY_BINS, WIDE_LOG)
    assert info.value.path == "bins"
    assert "total p must be above 0" in info.value.message


def test_it_names_the_empty_histogram_inside_a_mixture():
    spec = {"type": "mixture", "components": [{"weight": 1, "spec": LN}, {"weight": 1, "spec": EMPTY_BINS}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, WIDE_LOG)
    assert info.value.path == "components[1].spec.bins"


def test_it_still_accepts_a_histogram_with_some_zero_bins():
    spec = {"type": "histogram", "mass_below": 0.5, "mass_above": 0.25,
            "bins": [{"lo": 1e3, "hi": 1e5, "p": 0}, {"lo": 1e5, "hi": 1e7, "p": 0.25}]}
    # On 100..1e18 (16 decades) 1e5 is u = 3/16 and 1e7 is u = 5/16: flat at mass_below through the empty bin, then
    # the second bin's 0.25 spread evenly in u, then flat up to 1 - mass_above.
    expected = 0.5 + 0.25 * np.clip((U_GRID - 3 / 16) / (2 / 16), 0.0, 1.0)
    np.testing.assert_allclose(from_spec(spec, WIDE_LOG).cdf, expected, atol=1e-12)


def test_it_refuses_mixture_weights_whose_sum_overflows():
    spec = {"type": "mixture", "components": [{"weight": 1e308, "spec": LN}, {"weight": 1e308, "spec": LN}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, WIDE_LOG)
    assert info.value.path == "components"
    assert "overflows" in info.value.message


def test_it_normalises_huge_but_finite_mixture_weights():
    spec = {"type": "mixture", "components": [{"weight": 1e307, "spec": LN}, {"weight": 1e307, "spec": LN}]}
    np.testing.assert_allclose(from_spec(spec, WIDE_LOG).cdf, from_spec(LN, WIDE_LOG).cdf, atol=1e-15)


def test_it_names_the_points_of_an_unfittable_quantiles_spec_inside_a_mixture():
    domain = Domain.create(lower=-1e307, upper=1e307, scale="linear", open_lower=True, open_upper=True)
    quantiles = {"type": "quantiles", "points": [{"p": 0.4, "x": -1e307}, {"p": 0.6, "x": 1e308}]}
    spec = {"type": "mixture", "components": [{"weight": 1, "spec": quantiles}]}
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == "components[0].spec.points"


@pytest.mark.parametrize(
    ("lower", "upper", "scale"),
    [
        (-1e308, 1e308, "linear"),  # upper - lower overflows although both bounds are finite
        (-1e308, 8e307, "linear"),
        (1e-300, 1e300, "log"),  # upper / lower overflows
        (5e-324, 1.0, "log"),
    ],
)
def test_it_refuses_a_domain_whose_width_overflows(lower, upper, scale):
    with pytest.raises(SpecError) as info:
        Domain.create(lower=lower, upper=upper, scale=scale, open_lower=False, open_upper=False)
    assert info.value.path == "upper"
    assert "too wide" in info.value.message


@pytest.mark.parametrize(
    ("lower", "upper", "scale"),
    [(-8e307, 8e307, "linear"), (1e-150, 1e150, "log"), ("0001-01-01", "9999-12-31", "date")],
)
def test_it_accepts_the_widest_ranges_whose_width_is_finite(lower, upper, scale):
    domain = Domain.create(lower=lower, upper=upper, scale=scale, open_lower=False, open_upper=False)
    assert math.isfinite(domain.upper - domain.lower)
    assert np.all(np.isfinite(domain.to_u(domain.x_grid())))


def test_it_summarizes_a_range_next_to_the_largest_float():
    # lower + upper overflows here, though the range and its width are finite.
    domain = Domain.create(lower=8e307, upper=1.7e308, scale="linear", open_lower=False, open_upper=False)
    spec = {"type": "histogram", "bins": [{"lo": 8e307, "hi": 1.7e308, "p": 1.0}]}
    summary = summarize(from_spec(spec, domain).cdf, domain)
    assert summary["mean"] == pytest.approx(8e307 / 2 + 1.7e308 / 2, rel=1e-12)  # uniform: the midpoint
    assert summary["median"] == pytest.approx(8e307 / 2 + 1.7e308 / 2, rel=1e-12)


UNIT = Domain.create(lower=0, upper=1, scale="linear", open_lower=True, open_upper=True)


def test_it_refuses_a_cdf_value_too_large_for_a_float():
    cdf = [0.1] * 100 + [10**400] + [0.9] * 100
    with pytest.raises(SpecError) as info:
        from_spec({"type": "cdf", "cdf": cdf}, UNIT)
    assert info.value.path == "cdf[100]"


def test_it_refuses_histogram_weights_whose_sum_overflows():
    spec = {"type": "histogram", "bins": [{"lo": 0, "hi": 0.5, "p": 1e308}, {"lo": 0.5, "hi": 1, "p": 1e308}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, UNIT)
    assert info.value.path == "bins"


def test_an_unknown_key_is_named_in_plain_ascii():
    with pytest.raises(SpecError) as info:
        from_spec({"type": "normal", "mean": 0.5, "sd": 1, "\ud800": 1}, UNIT)
    assert info.value.path == "\\ud800"
    str(info.value).encode("utf-8")  # encodable: it goes into a JSON response


def test_a_log_range_up_to_the_largest_float_keeps_every_value_finite_and_in_range():
    domain = Domain.create(lower=1e200, upper=1.7976931348623157e308, scale="log", open_lower=True, open_upper=True)
    assert domain.from_u(1.0) == domain.upper and domain.from_u(0.0) == domain.lower
    dist = from_spec({"type": "lognormal", "median": 1e300, "sigma": 1}, domain)
    summary = summarize(dist.cdf, domain)
    for name in ("mean", "median", "mode", "p25", "p75"):
        assert math.isfinite(summary[name]) and domain.lower <= summary[name] <= domain.upper, (name, summary)


def test_quantiles_never_step_past_the_upper_bound():
    domain = Domain.create(lower=1e-300, upper=1e8, scale="log", open_lower=True, open_upper=True)
    dist = from_spec({"type": "lognormal", "low": 1e-300, "high": 1.00000000000000136e8}, domain)
    assert summarize(dist.cdf, domain)["median"] <= 1e8


@pytest.mark.parametrize(("lower", "upper"), [(1000, 1000.0000000000002), (1e6, 1e6 * (1 + 1e-13)), (1, 1 + 1e-7)])
def test_the_mean_of_a_uniform_in_ln_x_on_a_narrow_log_range_is_inside_it(lower, upper):
    domain = Domain.create(lower=lower, upper=upper, scale="log", open_lower=False, open_upper=False)
    dist = from_spec({"type": "histogram", "bins": [{"lo": lower, "hi": upper, "p": 1}]}, domain)
    mean = summarize(dist.cdf, domain)["mean"]
    # closed form: (upper - lower) / ln(upper / lower), computed without cancellation
    d = math.log(upper / lower)
    assert mean == pytest.approx(lower * math.expm1(d) / d, rel=1e-12)
    assert lower <= mean <= upper


def test_quantiles_near_the_largest_float_fit_like_a_normal():
    domain = Domain.create(lower=1e308, upper=1.7e308, scale="linear", open_lower=False, open_upper=False)
    spec = {"type": "quantiles", "points": [{"p": 0.1, "x": 1.5e308}, {"p": 0.9, "x": 1.6e308}]}
    dist = from_spec(spec, domain)
    assert dist.fit is not None
    # The fitted normal is truncated to the closed range; rebuilt by scipy in units of 1e308 (where nothing
    # overflows), its CDF passes through both points.
    mean, sd = dist.fit.params["mean"] / 1e308, dist.fit.params["sd"] / 1e308
    ref = stats.truncnorm((1.0 - mean) / sd, (1.7 - mean) / sd, loc=mean, scale=sd)
    np.testing.assert_allclose(ref.cdf([1.5, 1.6]), [0.1, 0.9], atol=1e-9)
    assert np.all(np.isfinite(dist.cdf))
