"""The fitted quantile shape fits the FINAL CDF, truncated at closed bounds and rescaled to given tail masses.

`final_cdf` below is written from the module docstring's tail rules with scipy, independently of the engine's model.
"""

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.special import ndtri

from amplification.distributions import from_spec
from amplification.grid import Domain

EPOCH = dt.date(1970, 1, 1)
DAYS = 365.25


def days(iso):
    return float((dt.date.fromisoformat(iso) - EPOCH).days)


def t_of(args, x):
    """The fitted family's variable: x (linear), ln x (log), ln(years after lower) (date; x in days)."""
    if args["scale"] == "linear":
        return np.asarray(x, dtype=float)
    if args["scale"] == "log":
        return np.log(x)
    return np.log((np.asarray(x, dtype=float) - days(args["lower"])) / DAYS)


def bounds_of(args):
    if args["scale"] == "date":
        return days(args["lower"]), days(args["upper"])
    return float(args["lower"]), float(args["upper"])


def share_inside(z, a, b):
    """P(Z <= z | a <= Z <= b) for a standard normal Z: (Phi(z) - Phi(a)) / (Phi(b) - Phi(a)), written with log-CDFs
    (log-survival functions in the upper tail) so that a range far out in a tail keeps its digits; a range too narrow
    in z for a difference of logs, by quadrature."""
    z = np.asarray(z, dtype=float)
    if b - a < 1e-3:  # a difference of logs loses digits here; quadrature of the density does not

        def mass(lo, hi):
            return integrate.quad(stats.norm.pdf, lo, hi, epsabs=0, epsrel=1e-12)[0]

        return np.array([mass(a, v) for v in np.atleast_1d(z)]) / mass(a, b)
    if a > 0:
        lz, la, lb = stats.norm.logsf(z), stats.norm.logsf(a), stats.norm.logsf(b)
        return np.expm1(lz - la) / np.expm1(lb - la)
    lz, la, lb = stats.norm.logcdf(z), stats.norm.logcdf(a), stats.norm.logcdf(b)
    return np.exp(lz - lb) * np.expm1(la - lz) / np.expm1(la - lb)


def final_cdf(args, loc, scale, spec, x):
    """P(X <= x) for x in the range: the (log)normal truncated to the range, scaled into what the tails leave.
    Log-CDFs keep a range far out in a tail exact (the fit may put one there)."""
    lower, upper = bounds_of(args)
    a = -np.inf if args["scale"] == "date" else (t_of(args, lower) - loc) / scale  # a date's t is -inf at lower
    b = (t_of(args, upper) - loc) / scale
    given_below, given_above = spec.get("mass_below"), spec.get("mass_above")
    if not args["open_lower"]:
        below = 0.0
    elif given_below is not None:
        below = given_below
    elif given_above is not None:
        below = (1 - given_above) * math.exp(stats.norm.logcdf(a) - stats.norm.logcdf(b))
    else:
        below = stats.norm.cdf(a)
    if not args["open_upper"]:
        above = 0.0
    elif given_above is not None:
        above = given_above
    elif given_below is not None:
        above = (1 - given_below) * math.exp(stats.norm.logsf(b) - stats.norm.logsf(a))
    else:
        above = stats.norm.sf(b)
    return below + (1 - below - above) * share_inside((t_of(args, x) - loc) / scale, a, b)


def params_of(fit):
    if fit.family == "lognormal":
        return fit.params["mu"], fit.params["sigma"]
    return fit.params["mean"], fit.params["sd"]


def typed_x(args, spec):
    return np.array([days(pt["x"]) if args["scale"] == "date" else pt["x"] for pt in spec["points"]])


@pytest.mark.parametrize(
    ("args", "loc", "scale"),
    [
        ({"lower": 0.0, "upper": 10.0, "scale": "linear", "open_lower": False, "open_upper": False}, 3.0, 4.0),
        ({"lower": 0.0, "upper": 10.0, "scale": "linear", "open_lower": False, "open_upper": False}, -2.0, 3.0),
        ({"lower": 1.0, "upper": 1e6, "scale": "log", "open_lower": False, "open_upper": False}, 2.0, 5.0),
        ({"lower": 1.0, "upper": 1e20, "scale": "log", "open_lower": False, "open_upper": True}, 0.5, 4.0),
    ],
)
def test_it_passes_two_points_through_the_stored_cdf_on_closed_bounds(args, loc, scale):
    # The typed points are quantiles of a truncated (log)normal, so a fit through both exists.
    lower, upper = bounds_of(args)
    a, b = (t_of(args, lower) - loc) / scale, (t_of(args, upper) - loc) / scale
    truncated = stats.truncnorm(a, b, loc=loc, scale=scale)
    ts = truncated.ppf([0.2, 0.7])
    xs = ts if args["scale"] == "linear" else np.exp(ts)
    spec = {"type": "quantiles", "points": [{"p": 0.2, "x": float(xs[0])}, {"p": 0.7, "x": float(xs[1])}]}
    d = from_spec(spec, Domain.create(**args))
    np.testing.assert_allclose(final_cdf(args, *params_of(d.fit), spec, xs), [0.2, 0.7], atol=1e-9)
    np.testing.assert_allclose([r["fitted_p"] for r in d.fit.residuals], [0.2, 0.7], atol=1e-9)


def test_the_untruncated_fit_missed_those_points():
    # What the two-point test above guards against: the closed-form fit ignores the truncation at 0 and 10.
    args = {"lower": 0.0, "upper": 10.0, "scale": "linear", "open_lower": False, "open_upper": False}
    truncated = stats.truncnorm(-0.75, 1.75, loc=3.0, scale=4.0)
    xs = truncated.ppf([0.2, 0.7])
    z = stats.norm.ppf([0.2, 0.7])
    sd = (xs[1] - xs[0]) / (z[1] - z[0])
    old = final_cdf(args, xs[0] - sd * z[0], sd, {}, xs)
    assert np.max(np.abs(old - [0.2, 0.7])) > 0.01


@st.composite
def two_point_cases(draw):
    """A domain (any scale, open or closed sides, tail masses given or not), a true model whose final CDF has
    at least 5% inside the range, and two quantiles of that final CDF inside the range."""
    scale = draw(st.sampled_from(["linear", "log", "date"]))
    args = {"open_lower": draw(st.booleans()), "open_upper": draw(st.booleans()), "scale": scale}
    if scale == "linear":
        args.update(lower=0.0, upper=100.0)
    elif scale == "log":
        args.update(lower=1e2, upper=1e12)
    else:
        args.update(lower="2020-01-01", upper="2100-12-31")
    spec = {"type": "quantiles"}
    if args["open_lower"] and draw(st.booleans()):
        spec["mass_below"] = draw(st.floats(0.0, 0.3))
    if args["open_upper"] and draw(st.booleans()):
        spec["mass_above"] = draw(st.floats(0.0, 0.3))
    lower, upper = bounds_of(args)
    t_lo = t_of(args, lower) if scale != "date" else math.log(1.0)  # dates: from 1 year after lower
    t_hi = t_of(args, upper)
    width = t_hi - t_lo
    loc = t_lo + width * draw(st.floats(-0.3, 1.3))
    sd = width * draw(st.floats(0.08, 2.0))
    return args, spec, loc, sd, draw(st.floats(0.05, 0.45)), draw(st.floats(0.55, 0.95))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(two_point_cases())
def test_it_passes_two_points_through_the_stored_cdf_whenever_a_model_can(case):
    args, spec, loc, sd, q1, q2 = case
    lower, upper = bounds_of(args)
    # The typed p's are the true final CDF at x's chosen as in-range quantiles q1 < q2 of the truncated part.
    norm = stats.norm(loc, sd)
    fa = 0.0 if args["scale"] == "date" else norm.cdf(t_of(args, lower))
    fb = norm.cdf(t_of(args, upper))
    assume(fb - fa > 0.05)
    ts = norm.ppf(fa + (fb - fa) * np.array([q1, q2]))
    if args["scale"] == "linear":
        xs = ts
    elif args["scale"] == "log":
        xs = np.exp(ts)
    else:
        xs = np.round(days(args["lower"]) + DAYS * np.exp(ts))
        xs = np.clip(xs, days(args["lower"]) + 1, days(args["upper"]) - 1)
    assume(lower < xs[0] < xs[1] < upper)
    ps = final_cdf(args, loc, sd, spec, xs)
    assume(0.001 < ps[0] < ps[1] - 1e-3 and ps[1] < 0.999)
    x_typed = [(EPOCH + dt.timedelta(days=int(x))).isoformat() if args["scale"] == "date" else float(x) for x in xs]
    spec["points"] = [{"p": float(p), "x": x} for p, x in zip(ps, x_typed, strict=True)]
    d = from_spec(spec, Domain.create(**args))
    np.testing.assert_allclose(final_cdf(args, *params_of(d.fit), spec, xs), ps, atol=1e-9)


def untruncated_fit(args, spec):
    """The closed-form fit the engine used before: regress t on z of the in-range conditional p."""
    p = np.array([pt["p"] for pt in spec["points"]])
    below, above = spec.get("mass_below", 0.0), spec.get("mass_above", 0.0)
    scale, loc = np.polyfit(ndtri((p - below) / (1 - below - above)), t_of(args, typed_x(args, spec)), 1)
    return loc, scale


@st.composite
def three_point_cases(draw):
    args, spec, *_ = draw(two_point_cases())
    below, above = spec.get("mass_below", 0.0), spec.get("mass_above", 0.0)
    lower, upper = bounds_of(args)
    us = sorted(draw(st.lists(st.floats(0.02, 0.98), min_size=3, max_size=3, unique=True)))
    raw = sorted(draw(st.lists(st.floats(0.02, 0.98), min_size=3, max_size=3, unique=True)))
    ps = [below + (1 - below - above) * r for r in raw]
    assume(ps[0] < ps[1] < ps[2])  # distinct raw values can round to one p
    if args["scale"] == "log":
        xs = [lower * (upper / lower) ** u for u in us]
    else:
        xs = [lower + u * (upper - lower) for u in us]
    if args["scale"] == "date":
        xs = [(EPOCH + dt.timedelta(days=round(x))).isoformat() for x in xs]
    assume(len(set(xs)) == 3)
    spec["points"] = [{"p": p, "x": x} for p, x in zip(ps, xs, strict=True)]
    return args, spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(three_point_cases())
def test_it_fits_three_points_no_worse_than_the_untruncated_fit(case):
    args, spec = case
    xs, ps = typed_x(args, spec), np.array([pt["p"] for pt in spec["points"]])
    d = from_spec(spec, Domain.create(**args))
    new = final_cdf(args, *params_of(d.fit), spec, xs)
    old = final_cdf(args, *untruncated_fit(args, spec), spec, xs)
    assert np.sum((new - ps) ** 2) <= np.sum((old - ps) ** 2) * (1 + 1e-9) + 1e-15  # equal up to round-off at worst
    # and what the fit reports is that stored CDF
    np.testing.assert_allclose([r["fitted_p"] for r in d.fit.residuals], new, atol=1e-9)


def test_it_brings_the_agi_posteriors_typed_20_percent_back_toward_0_2():
    # The posterior typed with 3% "already" and 40% "never": fitted as if untruncated, the stored CDF gave 0.1943
    # at the typed 0.2 in 2030.
    args = {"lower": "2020-01-01", "upper": "2100-12-31", "scale": "date", "open_lower": True, "open_upper": True}
    spec = {"type": "quantiles", "mass_below": 0.03, "mass_above": 0.40,
            "points": [{"p": 0.2, "x": "2030-01-01"}, {"p": 0.4, "x": "2045-01-01"}, {"p": 0.55, "x": "2070-01-01"}]}
    xs, ps = typed_x(args, spec), np.array([0.2, 0.4, 0.55])
    old = final_cdf(args, *untruncated_fit(args, spec), spec, xs)
    assert old[0] == pytest.approx(0.1943, abs=1e-4)
    d = from_spec(spec, Domain.create(**args))
    new = np.array([r["fitted_p"] for r in d.fit.residuals])
    assert np.sum((new - ps) ** 2) < 0.5 * np.sum((old - ps) ** 2)
    assert abs(new[0] - 0.2) < abs(old[0] - 0.2)


def test_it_stores_the_model_it_reports():
    args = {"lower": 1e2, "upper": 1e12, "scale": "log", "open_lower": True, "open_upper": True}
    domain = Domain.create(**args)
    spec = {"type": "quantiles", "mass_above": 0.1,
            "points": [{"p": 0.1, "x": 1e4}, {"p": 0.5, "x": 1e7}, {"p": 0.8, "x": 3e9}]}
    d = from_spec(spec, domain)
    np.testing.assert_allclose(d.cdf, final_cdf(args, *params_of(d.fit), spec, domain.x_grid()), atol=1e-12)


def test_it_fits_a_point_beyond_an_open_bound_through_the_tail_it_keeps():
    # Below an open lower bound with a given mass, the final CDF keeps the normal's shape scaled to that mass:
    # mass_below * Phi(z) / Phi(z_lower). Two points, one in that tail, from such a model: the fit meets both.
    args = {"lower": 0.0, "upper": 10.0, "scale": "linear", "open_lower": True, "open_upper": False}
    spec = {"type": "quantiles", "mass_below": 0.1}
    norm = stats.norm(2.0, 3.0)
    a, b = norm.cdf(0.0), norm.cdf(10.0)
    p_tail = 0.1 * norm.cdf(-1.0) / a
    p_in = 0.1 + 0.9 * (norm.cdf(5.0) - a) / (b - a)
    spec["points"] = [{"p": float(p_tail), "x": -1.0}, {"p": float(p_in), "x": 5.0}]
    d = from_spec(spec, Domain.create(**args))
    mean, sd = params_of(d.fit)
    fitted = stats.norm(mean, sd)
    tail = 0.1 * fitted.cdf(-1.0) / fitted.cdf(0.0)
    assert tail == pytest.approx(p_tail, abs=1e-9)
    assert final_cdf(args, mean, sd, spec, 5.0) == pytest.approx(p_in, abs=1e-9)
    assert d.mass_below == pytest.approx(0.1, abs=1e-15)


def test_it_fits_quantiles_whose_p_are_an_ulp_apart():
    # Their z's are equal in floating point, so the closed-form regression has no slope; the fit in p still runs.
    domain = Domain.create(lower=1.0, upper=1e20, scale="log", open_lower=False, open_upper=True)
    spec = {"type": "quantiles", "points": [{"p": 0.01, "x": 1e10}, {"p": 0.010000000000000002, "x": 1e15}]}
    d = from_spec(spec, domain)
    assert d.fit.max_abs_p_residual < 0.01
    assert np.all(np.isfinite(d.cdf)) and np.all(np.diff(d.cdf) >= 0)
