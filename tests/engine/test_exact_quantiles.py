"""The exact quantile shape: the stored 201-point CDF passes through every typed quantile and tail mass.

The checks read the stored CDF the way every consumer does (linear in u between grid points) with u computed here
from the question's definition, not through the engine's own axis code.
"""

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from amplification.distributions import from_spec, summarize
from amplification.errors import SpecError
from amplification.grid import U_GRID, Domain

EPOCH = dt.date(1970, 1, 1)


def u_of(domain_args, x):
    """u of a typed x, from the definition: linear in x (days on a date axis), or in ln x on a log axis."""
    lower, upper, scale = domain_args["lower"], domain_args["upper"], domain_args["scale"]
    if scale == "date":
        days = [(dt.date.fromisoformat(v) - EPOCH).days for v in (x, lower, upper)]
        return (days[0] - days[1]) / (days[2] - days[1])
    if scale == "log":
        return math.log(x / lower) / math.log(upper / lower)
    return (x - lower) / (upper - lower)


def stored_cdf_at(cdf, u):
    return float(np.interp(u, np.linspace(0.0, 1.0, 201), cdf))


@st.composite
def domains(draw):
    scale = draw(st.sampled_from(["linear", "log", "date"]))
    if scale == "linear":
        lower = draw(st.floats(-1e6, 1e6))
        upper = lower + draw(st.floats(1e-3, 1e6))
    elif scale == "log":
        lower = 10.0 ** draw(st.floats(-30, 30))
        upper = lower * 10.0 ** draw(st.floats(0.5, 40))
    else:
        start = dt.date(1900, 1, 1) + dt.timedelta(days=draw(st.integers(0, 200 * 365)))
        # at least 20 years: a grid step is then > 36 days, so rounding a typed date to the day moves it < 2% of a step
        end = start + dt.timedelta(days=draw(st.integers(20 * 365, 300 * 365)))
        lower, upper = start.isoformat(), end.isoformat()
    return {"lower": lower, "upper": upper, "scale": scale,
            "open_lower": draw(st.booleans()), "open_upper": draw(st.booleans())}


def x_at(domain_args, u):
    lower, upper, scale = domain_args["lower"], domain_args["upper"], domain_args["scale"]
    if scale == "date":
        a, b = ((dt.date.fromisoformat(v) - EPOCH).days for v in (lower, upper))
        return (EPOCH + dt.timedelta(days=round(a + u * (b - a)))).isoformat()
    if scale == "log":
        return lower * (upper / lower) ** u
    return lower + u * (upper - lower)


@st.composite
def exact_specs(draw):
    """A domain and an exact spec whose points lie in distinct grid steps with at least one step between them (no
    two share a grid point) and not in the first or last step: every such spec can be met exactly (points closer
    than that, or steeper than one step allows next to a bound, are refused; see the tests below)."""
    domain_args = draw(domains())
    k = draw(st.integers(2, 10))
    steps = sorted(draw(st.lists(st.integers(0, 65), min_size=k, max_size=k, unique=True)))
    steps = [1 + 3 * s for s in steps]  # 1 .. 196, three apart
    us = [(s + draw(st.floats(0.05, 0.95))) / 200 for s in steps]
    spec = {"type": "quantiles", "shape": "exact"}
    below = draw(st.floats(0.0, 0.3)) if domain_args["open_lower"] and draw(st.booleans()) else None
    above = draw(st.floats(0.0, 0.3)) if domain_args["open_upper"] and draw(st.booleans()) else None
    if below is not None:
        spec["mass_below"] = below
    if above is not None:
        spec["mass_above"] = above
    lo, hi = below or 0.0, 1.0 - (above or 0.0)
    raw = sorted(draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k)))
    ps = [lo + (hi - lo) * (0.01 + 0.98 * (r + i * 1e-3) / (1 + k * 1e-3)) for i, r in enumerate(raw)]
    spec["points"] = [{"p": p, "x": x_at(domain_args, u)} for p, u in zip(ps, us, strict=True)]
    return domain_args, spec


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exact_specs())
def test_it_passes_the_stored_cdf_through_every_typed_quantile_and_tail_mass(case):
    domain_args, spec = case
    domain = Domain.create(**domain_args)
    cdf = from_spec(spec, domain).cdf
    assert np.all(np.diff(cdf) >= 0)
    assert cdf[0] >= 0 and cdf[-1] <= 1
    for point in spec["points"]:
        assert abs(stored_cdf_at(cdf, u_of(domain_args, point["x"])) - point["p"]) <= 1e-6
    first, last = spec["points"][0]["p"], spec["points"][-1]["p"]
    if not domain_args["open_lower"]:
        assert cdf[0] == 0
    elif "mass_below" in spec:
        assert abs(cdf[0] - spec["mass_below"]) <= 1e-12
    else:
        assert 0 <= cdf[0] < first
    if not domain_args["open_upper"]:
        assert cdf[-1] == 1
    elif "mass_above" in spec:
        assert abs((1 - cdf[-1]) - spec["mass_above"]) <= 1e-12
    else:
        assert last < cdf[-1] <= 1


def test_it_reads_the_typed_percentiles_back_in_the_summary():
    domain = Domain.create(lower=1.0, upper=1e20, scale="log", open_lower=False, open_upper=True)
    spec = {"type": "quantiles", "shape": "exact",
            "points": [{"p": 0.05, "x": 3e11}, {"p": 0.5, "x": 2e12}, {"p": 0.95, "x": 3e13}]}
    summary = summarize(from_spec(spec, domain).cdf, domain)
    assert summary["p5"] == pytest.approx(3e11, rel=1e-6)
    assert summary["median"] == pytest.approx(2e12, rel=1e-6)
    assert summary["p95"] == pytest.approx(3e13, rel=1e-6)


def test_it_reads_percentiles_of_the_total_distribution_tails_included():
    # 40% "never": the median of the whole distribution is where the in-range CDF reaches 0.5, not the middle of
    # the in-range part.
    domain = Domain.create(lower="2020-01-01", upper="2100-12-31", scale="date", open_lower=True, open_upper=True)
    spec = {"type": "quantiles", "shape": "exact", "mass_below": 0.03, "mass_above": 0.40,
            "points": [{"p": 0.2, "x": "2030-01-01"}, {"p": 0.5, "x": "2042-01-01"}, {"p": 0.55, "x": "2070-01-01"}]}
    summary = summarize(from_spec(spec, domain).cdf, domain)
    assert summary["median"] == "2042-01-01"
    assert summary["p75"] is None and summary["p95"] is None  # beyond the upper bound, in the 40%
    assert summary["mass_above"] == pytest.approx(0.40, abs=1e-12)


def test_it_reproduces_a_lognormal_typed_as_its_quantiles():
    # A lognormal is a straight line in (u, Phi^-1(p)) on a log axis, so the exact shape through its quantiles is
    # that lognormal, tails included (open sides, no masses given: the tails continue the line).
    domain = Domain.create(lower=1e3, upper=1e15, scale="log", open_lower=True, open_upper=True)
    ref = stats.lognorm(s=2.5, scale=1e9)
    points = [{"p": p, "x": float(ref.ppf(p))} for p in (0.05, 0.3, 0.5, 0.9)]
    d = from_spec({"type": "quantiles", "shape": "exact", "points": points}, domain)
    assert d.mass_below == pytest.approx(ref.cdf(1e3), abs=1e-9)
    assert d.mass_above == pytest.approx(ref.sf(1e15), abs=1e-9)
    # at the grid points the curve is the lognormal; the nodes next to each typed point move by the curvature of
    # one grid step so that the straight line between them meets the point
    np.testing.assert_allclose(d.cdf, ref.cdf(domain.x_grid()), atol=2e-4)


def test_it_truncates_the_continued_tail_at_a_closed_bound():
    domain = Domain.create(lower=0.0, upper=10.0, scale="linear", open_lower=False, open_upper=False)
    ref = stats.norm(6.0, 2.0)
    points = [{"p": p, "x": float(ref.ppf(p))} for p in (0.2, 0.5, 0.8)]
    d = from_spec({"type": "quantiles", "shape": "exact", "points": points}, domain)
    x = domain.x_grid()
    # below the first point: the normal's tail, rescaled to run from 0 at the bound to 0.2 at the point
    low = x < points[0]["x"]
    expected = 0.2 * (ref.cdf(x[low]) - ref.cdf(0.0)) / (0.2 - ref.cdf(0.0))
    np.testing.assert_allclose(d.cdf[low][:-1], expected[:-1], atol=1e-12)  # the node next to the point may move
    assert d.cdf[0] == 0 and d.cdf[-1] == 1


def test_it_lets_points_beyond_an_open_bound_shape_its_tail():
    args = {"lower": 0.0, "upper": 100.0, "scale": "linear", "open_lower": True, "open_upper": True}
    domain = Domain.create(**args)
    spec = {"type": "quantiles", "shape": "exact", "mass_below": 0.05,
            "points": [{"p": 0.02, "x": -5.0}, {"p": 0.3, "x": 20.0}, {"p": 0.7, "x": 60.0}, {"p": 0.99, "x": 120.0}]}
    d = from_spec(spec, domain)
    assert d.mass_below == pytest.approx(0.05, abs=1e-15)
    # no mass_above given: the curve through (60, 0.7) and (120, 0.99) crosses the bound between the two
    assert 0.01 < d.mass_above < 0.3
    for point in spec["points"][1:3]:
        assert stored_cdf_at(d.cdf, u_of(args, point["x"])) == pytest.approx(point["p"], abs=1e-9)


def test_it_refuses_a_point_beyond_an_open_bound_above_the_mass_there():
    domain = Domain.create(lower=0.0, upper=100.0, scale="linear", open_lower=True, open_upper=True)
    for shape in ("exact", "fitted"):
        spec = {"type": "quantiles", "shape": shape, "mass_below": 0.05,
                "points": [{"p": 0.06, "x": -5.0}, {"p": 0.3, "x": 20.0}]}
        with pytest.raises(SpecError) as info:
            from_spec(spec, domain)
        assert info.value.path == "points[0].p"
        assert "at most mass_below" in info.value.message


def test_it_refuses_a_point_above_an_open_upper_bound_below_what_the_mass_leaves():
    domain = Domain.create(lower=0.0, upper=100.0, scale="linear", open_lower=True, open_upper=True)
    spec = {"type": "quantiles", "shape": "exact", "mass_above": 0.1,
            "points": [{"p": 0.3, "x": 20.0}, {"p": 0.85, "x": 120.0}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == "points[1].p"


@pytest.mark.parametrize(("open_lower", "extra"), [(False, {}), (True, {"mass_below": 0.05})])
def test_it_refuses_an_exact_point_on_a_bound_whose_mass_is_fixed(open_lower, extra):
    domain = Domain.create(lower=0.0, upper=100.0, scale="linear", open_lower=open_lower, open_upper=False)
    spec = {"type": "quantiles", "shape": "exact", **extra, "points": [{"p": 0.1, "x": 0.0}, {"p": 0.5, "x": 50.0}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == "points[0].x"
    assert "bound itself" in info.value.message


def test_it_takes_an_open_bounds_mass_from_a_point_typed_on_it():
    domain = Domain.create(lower=0.0, upper=100.0, scale="linear", open_lower=True, open_upper=False)
    spec = {"type": "quantiles", "shape": "exact", "points": [{"p": 0.1, "x": 0.0}, {"p": 0.5, "x": 50.0}]}
    assert from_spec(spec, domain).mass_below == pytest.approx(0.1, abs=1e-15)


def test_it_refuses_points_too_close_for_the_grid_to_pass_through():
    # 5%, 50% and 95% within one percent of a 0..100 range: the stored CDF is linear over each half-unit step, and
    # would have to fall to pass through all three.
    domain = Domain.create(lower=0.0, upper=100.0, scale="linear", open_lower=False, open_upper=False)
    spec = {"type": "quantiles", "shape": "exact",
            "points": [{"p": 0.05, "x": 50.1}, {"p": 0.5, "x": 50.5}, {"p": 0.95, "x": 51.0}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == "points[1].x"
    assert "fitted shape" in info.value.message
    # the fitted shape takes the same points
    assert from_spec({**spec, "shape": "fitted"}, domain).fit is not None


def test_it_refuses_three_points_in_one_grid_step_off_a_line():
    domain = Domain.create(lower=0.0, upper=100.0, scale="linear", open_lower=False, open_upper=False)
    spec = {"type": "quantiles", "shape": "exact",
            "points": [{"p": 0.3, "x": 50.1}, {"p": 0.5, "x": 50.3}, {"p": 0.55, "x": 50.4}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == "points[1].x"


def test_it_accepts_points_in_one_grid_step_on_a_line():
    args = {"lower": 0.0, "upper": 100.0, "scale": "linear", "open_lower": False, "open_upper": False}
    spec = {"type": "quantiles", "shape": "exact",
            "points": [{"p": 0.30, "x": 50.1}, {"p": 0.32, "x": 50.3}, {"p": 0.33, "x": 50.4}]}
    cdf = from_spec(spec, Domain.create(**args)).cdf
    for point in spec["points"]:
        assert stored_cdf_at(cdf, u_of(args, point["x"])) == pytest.approx(point["p"], abs=1e-9)


def test_it_refuses_a_point_next_to_a_closed_bound_that_the_first_grid_step_cannot_reach():
    # 30% within the first 1/1000 of a closed range: the first grid step would have to climb past 1.
    domain = Domain.create(lower=0.0, upper=100.0, scale="linear", open_lower=False, open_upper=False)
    spec = {"type": "quantiles", "shape": "exact", "points": [{"p": 0.3, "x": 0.1}, {"p": 0.5, "x": 50.0}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == "points[0].x"


@pytest.mark.parametrize("shape", ["round", 1, None])
def test_it_refuses_an_unknown_shape(shape):
    domain = Domain.create(lower=0.0, upper=100.0, scale="linear", open_lower=False, open_upper=False)
    spec = {"type": "quantiles", "shape": shape, "points": [{"p": 0.3, "x": 20.0}, {"p": 0.5, "x": 50.0}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == "shape"


def test_it_names_an_exact_point_inside_a_mixture():
    domain = Domain.create(lower=0.0, upper=100.0, scale="linear", open_lower=False, open_upper=False)
    exact = {"type": "quantiles", "shape": "exact",
             "points": [{"p": 0.05, "x": 50.1}, {"p": 0.5, "x": 50.5}, {"p": 0.95, "x": 51.0}]}
    spec = {"type": "mixture", "components": [{"weight": 1, "spec": {"type": "normal", "mean": 50, "sd": 10}},
                                              {"weight": 1, "spec": exact}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == "components[1].spec.points[1].x"


def test_it_pools_an_exact_shape_in_a_mixture():
    args = {"lower": 0.0, "upper": 100.0, "scale": "linear", "open_lower": False, "open_upper": False}
    domain = Domain.create(**args)
    exact = {"type": "quantiles", "shape": "exact", "points": [{"p": 0.1, "x": 10.0}, {"p": 0.9, "x": 90.0}]}
    alone = from_spec(exact, domain).cdf
    pooled = from_spec({"type": "mixture", "components": [{"weight": 1, "spec": exact},
                                                           {"weight": 1, "spec": exact}]}, domain).cdf
    np.testing.assert_allclose(pooled, alone, atol=1e-15)
    assert stored_cdf_at(pooled, u_of(args, 10.0)) == pytest.approx(0.1, abs=1e-12)


def test_the_grid_is_the_one_every_consumer_reads():
    # the module under test and this file agree on the grid itself, so the interpolation above means what it says
    np.testing.assert_array_equal(U_GRID, np.linspace(0.0, 1.0, 201))


def test_it_refuses_a_point_too_far_outside_the_range_to_place():
    domain = Domain.create(lower=0.0, upper=1e-300, scale="linear", open_lower=True, open_upper=True)
    spec = {"type": "quantiles", "shape": "exact", "points": [{"p": 0.3, "x": 5e-301}, {"p": 0.9, "x": 1e300}]}
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == "points[1].x"
