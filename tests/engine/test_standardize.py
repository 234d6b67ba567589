"""Metaculus's forecast-editor standardization, its validation rules, and the export and import that use them."""

import numpy as np
import pytest
from hypothesis import event, given

from amplification.distributions import from_spec, parse_cdf_values
from amplification.errors import SpecError
from amplification.grid import U_GRID, Domain
from amplification.interop import from_metaculus, to_metaculus
from amplification.outcomes import STEP_CAP, metaculus_cdf, metaculus_violations, standardize_cdf

from .strategies import PROPERTY_SETTINGS, specs_on_domains

SIDES = [(False, False), (True, False), (False, True), (True, True)]


def sides(open_lower, open_upper):
    return {"open_lower": open_lower, "open_upper": open_upper}


# ---------------------------------------------------------------------------------------------------------------
# The formula, by hand


def test_it_standardizes_by_the_editors_formula():
    # F = 0.3 + 0.4 u, open on both sides: a = 0.988, t = 0.001. At u = 0: 0.988 * 0.3 + 0.001 = 0.2974;
    # at u = 0.5: 0.988 * 0.5 + 0.005 + 0.001 = 0.5; at u = 1: 0.988 * 0.7 + 0.01 + 0.001 = 0.7026.
    out = standardize_cdf(0.3 + 0.4 * U_GRID, open_lower=True, open_upper=True)
    assert out[[0, 100, 200]] == pytest.approx([0.2974, 0.5, 0.7026], rel=1e-14)
    # Closed below, open above: a = 0.989, t = 0. F = 0.9 u: at u = 1, 0.989 * 0.9 + 0.01 = 0.9001.
    out = standardize_cdf(0.9 * U_GRID, open_lower=False, open_upper=True)
    assert out[0] == 0.0 and out[200] == pytest.approx(0.9001, rel=1e-14)
    # Open below, closed above: a = 0.989, t = 0.001. F = 0.2 + 0.8 u: at u = 0, 0.989 * 0.2 + 0.001 = 0.1988.
    out = standardize_cdf(0.2 + 0.8 * U_GRID, open_lower=True, open_upper=False)
    assert out[0] == pytest.approx(0.1988, rel=1e-14) and out[200] == 1.0


def test_it_standardizes_many_rows_at_once_and_leaves_its_input_alone():
    cdfs = np.stack([U_GRID, U_GRID**2, U_GRID**0.5]).reshape(3, 1, 201)
    before = cdfs.copy()
    out = standardize_cdf(cdfs, open_lower=False, open_upper=False)
    assert out.shape == (3, 1, 201) and np.array_equal(cdfs, before)
    np.testing.assert_allclose(out, 0.99 * cdfs + 0.01 * U_GRID, rtol=0, atol=1e-15)


def test_it_caps_a_spike_and_shares_the_rest_over_the_other_steps():
    # All mass in bucket 101 of a closed question: standardized steps 0.99 + 5e-5 there, 5e-5 elsewhere. Capped, the
    # spike is 0.2 (less CAP_MARGIN) and the other 199 steps, all equal, share 1 - cap.
    out = standardize_cdf((U_GRID > 0.5).astype(float), open_lower=False, open_upper=False)
    steps = np.diff(out)
    assert steps[100] == pytest.approx(STEP_CAP, rel=1e-12)
    np.testing.assert_allclose(np.delete(steps, 100), (1 - STEP_CAP) / 199, rtol=1e-10)
    assert out[0] == 0.0 and out[-1] == 1.0


def test_it_caps_every_step_that_the_rescaling_pushes_over_the_cap():
    # Raw masses: 0.7 in bucket 51, 0.18 in bucket 121, the remaining 0.12 evenly over the other 198 buckets.
    # Standardized: 0.69305, 0.17825 and 0.99 * 0.12 / 198 + 5e-5 = 0.00065 each. Capping only the first and rescaling
    # the rest to keep the sum would lift the second to 0.17825 * (1 - cap) / 0.30695 = 0.46: over the cap too. So
    # both are capped, and the 198 equal steps share 1 - 2 cap: 0.6 / 198 each.
    masses = np.full(200, 0.12 / 198)
    masses[50], masses[120] = 0.7, 0.18
    out = standardize_cdf(np.concatenate([[0.0], np.cumsum(masses)]), open_lower=False, open_upper=False)
    steps = np.diff(out)
    assert steps[50] == pytest.approx(STEP_CAP, rel=1e-12) and steps[120] == pytest.approx(STEP_CAP, rel=1e-12)
    np.testing.assert_allclose(np.delete(steps, [50, 120]), (1 - 2 * STEP_CAP) / 198, rtol=1e-10)


def test_it_keeps_the_tails_when_it_caps():
    # Open on both sides: 0.2 below, 0.5 in bucket 101, 0.3 above. The tails are 0.988 * 0.2 + 0.001 = 0.1986 and
    # 1 - (0.988 * 0.7 + 0.011) = 0.2974, before and after the cap.
    cdf = 0.2 + 0.5 * (U_GRID > 0.5)
    out = standardize_cdf(cdf, open_lower=True, open_upper=True)
    assert out[0] == pytest.approx(0.1986, rel=1e-14) and 1 - out[-1] == pytest.approx(0.2974, rel=1e-13)
    assert np.diff(out).max() <= 0.2


# ---------------------------------------------------------------------------------------------------------------
# Metaculus's validation rules


def test_it_finds_the_violations_of_a_raw_lognormal_prior():
    # The case: a plain lognormal puts (next to) nothing in the far buckets and its own tail beyond an open
    # bound is far below 0.001.
    dom = Domain.create(lower=1.0, upper=1e20, scale="log", open_lower=False, open_upper=True)
    cdf = from_spec({"type": "lognormal", "median": 1e10, "sigma": 1.0}, dom).cdf
    problems = metaculus_violations(cdf, open_lower=False, open_upper=True)
    assert any("step must be >= 5e-05" in p for p in problems)
    assert any("cdf[200] must be <= 0.999" in p for p in problems)
    assert metaculus_violations(metaculus_cdf(cdf, open_lower=False, open_upper=True),
                                open_lower=False, open_upper=True) == []


@pytest.mark.parametrize(("cdf", "open_lower", "open_upper", "rule"), [
    (U_GRID[:200], False, False, "exactly 201 values"),
    (np.where(U_GRID > 0.5, 1.0, 0.0), False, False, "<= 0.2"),
    (U_GRID, True, False, "cdf[0] must be >= 0.001"),
    (0.0005 + 0.999 * U_GRID, False, False, "cdf[0] must be 0"),
    (U_GRID, False, True, "cdf[200] must be <= 0.999"),
    (0.9995 * U_GRID, False, False, "cdf[200] must be 1"),
    (np.full(201, np.nan), True, True, "finite"),
    ("not a cdf", True, True, "list of numbers"),
])
def test_it_names_each_rule_a_cdf_breaks(cdf, open_lower, open_upper, rule):
    problems = metaculus_violations(cdf, open_lower=open_lower, open_upper=open_upper)
    assert any(rule in p for p in problems), problems


def test_it_accepts_a_uniform_forecast_on_a_closed_question():
    assert metaculus_violations(U_GRID, open_lower=False, open_upper=False) == []


def test_it_allows_the_rounding_metaculus_allows_and_no_more():
    # Metaculus rounds values and steps to 10 decimals before comparing: a 5e-5 step short by 1e-18 (round-off) is
    # 5e-5; one short by 1e-9 is not.
    base = 0.01 * U_GRID + 0.99 * U_GRID**2
    for shortfall, ok in ((1e-18, True), (1e-9, False)):
        cdf = base.copy()
        cdf[1] = cdf[0] + 5e-5 - shortfall
        assert (metaculus_violations(cdf, open_lower=False, open_upper=False) == []) is ok


# ---------------------------------------------------------------------------------------------------------------
# The lattice, the export and the import


@pytest.mark.parametrize(("open_lower", "open_upper"), SIDES)
def test_it_puts_the_export_on_metaculus_s_ten_decimal_lattice(open_lower, open_upper):
    rng = np.random.default_rng(11)
    inside = np.sort(rng.uniform(0, 1, (50, 199)) ** 8, axis=1)  # many near-empty buckets: steps at the minimum
    below = 0.2 if open_lower else 0.0
    above = 0.1 if open_upper else 0.0
    cdfs = below + (1 - below - above) * np.hstack([np.zeros((50, 1)), inside, np.ones((50, 1))])
    lattice = metaculus_cdf(cdfs, open_lower=open_lower, open_upper=open_upper)
    assert np.array_equal(np.round(lattice, 10), lattice)  # Metaculus's rounding leaves every value as it is
    assert np.diff(np.rint(lattice * 1e10), axis=1).min() >= 500  # and every step is >= 5e-5 in whole units
    np.testing.assert_allclose(lattice, standardize_cdf(cdfs, **sides(open_lower, open_upper)), atol=2e-10)


@pytest.mark.parametrize(("open_lower", "open_upper"), SIDES)
def test_it_reads_a_standardized_cdf_through_the_cdf_spec_unchanged(open_lower, open_upper):
    dom = Domain.create(lower=1.0, upper=1e20, scale="log", open_lower=open_lower, open_upper=open_upper)
    tails = {**({"mass_below": 0.05} if open_lower else {}), **({"mass_above": 0.2} if open_upper else {})}
    raw = from_spec({"type": "lognormal", "median": 1e8, "sigma": 0.3, **tails}, dom).cdf
    for standardized in (metaculus_cdf(raw, **sides(open_lower, open_upper)),
                         standardize_cdf(raw, **sides(open_lower, open_upper))):
        values = standardized.tolist()
        assert parse_cdf_values(values, dom, "cdf").tolist() == values
        assert from_spec({"type": "cdf", "cdf": values}, dom).cdf.tolist() == values


@pytest.mark.parametrize(("open_lower", "open_upper"), SIDES)
def test_it_exports_a_cdf_metaculus_accepts_and_the_raw_cdf_beside_it(open_lower, open_upper):
    dom = Domain.create(lower="2020-01-01", upper="2100-12-31", scale="date", open_lower=open_lower,
                        open_upper=open_upper)
    raw = from_spec({"type": "lognormal", "median": "2031-06-01", "sigma": 0.05}, dom).cdf  # steps over 0.2
    payload = to_metaculus(raw, dom)
    assert metaculus_violations(payload["continuous_cdf"], **sides(open_lower, open_upper)) == []
    assert payload["raw_cdf"] == raw.tolist()
    assert from_metaculus(payload, dom).cdf.tolist() == raw.tolist()  # our own export round-trips exactly
    # What Metaculus exports has no raw_cdf: its standardized CDF is taken as it is.
    from_them = {key: value for key, value in payload.items() if key != "raw_cdf"}
    assert from_metaculus(from_them, dom).cdf.tolist() == payload["continuous_cdf"]


def test_it_refuses_a_raw_cdf_that_does_not_belong_to_the_exported_one():
    dom = Domain.create(lower=0.0, upper=1.0, scale="linear", open_lower=False, open_upper=False)
    payload = to_metaculus(U_GRID**2, dom)
    payload["raw_cdf"] = (U_GRID**3).tolist()
    with pytest.raises(SpecError) as info:
        from_metaculus(payload, dom)
    assert info.value.path == "raw_cdf"


# ---------------------------------------------------------------------------------------------------------------
# Properties over random specs on random domains

@PROPERTY_SETTINGS
@given(specs_on_domains())
def test_it_standardizes_every_random_spec_into_a_cdf_metaculus_accepts(case):
    dom, cdf = case
    flags = sides(dom.open_lower, dom.open_upper)
    standardized = standardize_cdf(cdf, **flags)
    assert metaculus_violations(standardized, **flags) == []
    assert metaculus_violations(metaculus_cdf(cdf, **flags), **flags) == []
    assert metaculus_violations(to_metaculus(cdf, dom)["continuous_cdf"], **flags) == []
    # Where the cap applied, the capped steps are <= 0.2 and the tails are the formula's, untouched.
    a = 0.99 - 0.001 * (dom.open_lower + dom.open_upper)
    formula = a * cdf + 0.01 * U_GRID + (0.001 if dom.open_lower else 0.0)
    event(f"scale {dom.scale}, open sides {dom.open_lower + dom.open_upper}")
    if np.diff(formula).max() > 0.2:
        event("the cap applied")
        assert np.diff(standardized).max() <= 0.2
        assert standardized[0] == pytest.approx(formula[0], abs=1e-15)
        assert standardized[-1] == pytest.approx(formula[-1], abs=1e-15)
    else:
        np.testing.assert_allclose(standardized, formula, rtol=0, atol=1e-15)


@PROPERTY_SETTINGS
@given(specs_on_domains())
def test_it_keeps_the_order_of_the_steps_of_a_cdf_metaculus_already_accepts(case):
    # A CDF Metaculus already accepts has every step <= 0.2, so a second standardization caps nothing: each step
    # becomes a x step + 5e-5, an increasing map, and the steps keep their order.
    dom, cdf = case
    flags = sides(dom.open_lower, dom.open_upper)
    valid = metaculus_cdf(cdf, **flags)
    again = standardize_cdf(valid, **flags)
    steps, new_steps = np.diff(valid), np.diff(again)
    order = np.argsort(steps, kind="stable")
    assert np.all(np.diff(new_steps[order]) >= -1e-15)
    a = 0.99 - 0.001 * (dom.open_lower + dom.open_upper)
    np.testing.assert_allclose(new_steps, a * steps + 5e-5, rtol=0, atol=1e-15)
