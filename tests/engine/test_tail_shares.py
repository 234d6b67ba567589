"""Tail masses on every form and side (the module docstring of amplification/distributions.py states the rules).

On an open side a given mass is exact. An open side WITHOUT a given mass keeps the form's own share of what the given
side leaves: (1 - given) x P(beyond | not beyond the given side). Each expected value below is computed from scipy's
distributions or from the spec's own numbers, not from the engine.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from amplification.distributions import from_spec
from amplification.grid import Domain

LINEAR = Domain.create(lower=-10.0, upper=10.0, scale="linear", open_lower=True, open_upper=True)
LOG = Domain.create(lower=1.0, upper=1e6, scale="log", open_lower=True, open_upper=True)
NORMAL = stats.norm(loc=2.0, scale=6.0)  # about 9% below -10 and 2% above 10: both tails matter
LOGNORMAL = stats.lognorm(s=3.0, scale=1e3)  # about 1% below 1 and 2% above 1e6


def _own_share(p_beyond: float, p_other_side: float, given_other: float) -> float:
    """The mass an open side without a given value keeps: its share of what the other side's given mass leaves."""
    return (1.0 - given_other) * p_beyond / (1.0 - p_other_side)


PARAMETRIC = [
    ("normal", LINEAR, {"type": "normal", "mean": 2.0, "sd": 6.0}, NORMAL, -10.0, 10.0),
    ("lognormal", LOG, {"type": "lognormal", "median": 1e3, "sigma": 3.0}, LOGNORMAL, 1.0, 1e6),
]


@pytest.mark.parametrize(("name", "domain", "spec", "ref", "lo", "hi"), PARAMETRIC, ids=[p[0] for p in PARAMETRIC])
def test_it_keeps_the_upper_share_when_only_mass_below_is_given(name, domain, spec, ref, lo, hi):
    d = from_spec({**spec, "mass_below": 0.2}, domain)
    assert d.mass_below == pytest.approx(0.2, abs=1e-15)
    expected = _own_share(ref.sf(hi), ref.cdf(lo), 0.2)
    assert d.mass_above == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("name", "domain", "spec", "ref", "lo", "hi"), PARAMETRIC, ids=[p[0] for p in PARAMETRIC])
def test_it_keeps_the_lower_share_when_only_mass_above_is_given(name, domain, spec, ref, lo, hi):
    d = from_spec({**spec, "mass_above": 0.3}, domain)
    assert d.mass_above == pytest.approx(0.3, abs=1e-15)
    expected = _own_share(ref.cdf(lo), ref.sf(hi), 0.3)
    assert d.mass_below == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("name", "domain", "spec", "ref", "lo", "hi"), PARAMETRIC, ids=[p[0] for p in PARAMETRIC])
def test_it_keeps_both_own_tails_when_none_is_given(name, domain, spec, ref, lo, hi):
    d = from_spec(spec, domain)
    assert (d.mass_below, d.mass_above) == (pytest.approx(ref.cdf(lo), rel=1e-9), pytest.approx(ref.sf(hi), rel=1e-9))


def _cdf_spec(below: float, above: float) -> dict:
    inside = np.linspace(below, 1.0 - above, 201)
    return {"type": "cdf", "cdf": inside.tolist()}


@pytest.mark.parametrize(("given", "expected"), [
    # the cdf's own tails are 0.1 below and 0.3 above: the share of the other side is taken from those
    ({"mass_below": 0.2}, (0.2, 0.8 * 0.3 / 0.9)),
    ({"mass_above": 0.5}, (0.5 * 0.1 / 0.7, 0.5)),
    ({"mass_below": 0.05, "mass_above": 0.05}, (0.05, 0.05)),
    ({}, (0.1, 0.3)),
])
def test_a_cdf_shares_its_own_tails_the_same_way(given, expected):
    d = from_spec({**_cdf_spec(0.1, 0.3), **given}, LINEAR)
    assert d.mass_below == pytest.approx(expected[0], rel=1e-12)
    assert d.mass_above == pytest.approx(expected[1], rel=1e-12)


@pytest.mark.parametrize(("given", "expected"), [
    # the mixture's own tails: half of 0.1 + half of 0.3 below, half of 0.3 + half of 0.1 above
    ({"mass_below": 0.4}, (0.4, 0.6 * 0.2 / 0.8)),
    ({"mass_above": 0.1}, (0.9 * 0.2 / 0.8, 0.1)),
    ({}, (0.2, 0.2)),
])
def test_a_mixture_shares_its_pooled_tails_the_same_way(given, expected):
    spec = {"type": "mixture", "components": [{"weight": 0.5, "spec": _cdf_spec(0.1, 0.3)},
                                              {"weight": 0.5, "spec": _cdf_spec(0.3, 0.1)}], **given}
    d = from_spec(spec, LINEAR)
    assert d.mass_below == pytest.approx(expected[0], rel=1e-12)
    assert d.mass_above == pytest.approx(expected[1], rel=1e-12)


def test_a_histogram_has_no_tail_of_its_own():
    bins = {"type": "histogram", "bins": [{"lo": -5, "hi": 5, "p": 0.8}]}
    d = from_spec({**bins, "mass_below": 0.2}, LINEAR)
    assert (d.mass_below, d.mass_above) == (pytest.approx(0.2, abs=1e-15), pytest.approx(0.0, abs=1e-15))


@pytest.mark.parametrize("side", ["mass_below", "mass_above"])
@pytest.mark.parametrize("spec", [
    {"type": "normal", "mean": 0.0, "sd": 3.0},
    {"type": "quantiles", "points": [{"p": 0.25, "x": -2.0}, {"p": 0.75, "x": 2.0}]},
    _cdf_spec(0.0, 0.0),
])
def test_a_given_mass_on_a_closed_side_is_refused_by_name(spec, side):
    closed = Domain.create(lower=-10.0, upper=10.0, scale="linear", open_lower=False, open_upper=False)
    with pytest.raises(ValueError, match=side):
        from_spec({**spec, side: 0.1}, closed)
