"""Outcomes: where a resolution falls, and forecasts scored against it, checked against hand-worked values from
Metaculus's formulas and against scipy quadrature."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.integrate import quad

from amplification.errors import SpecError
from amplification.grid import U_GRID, Domain
from amplification.outcomes import (
    STEP_CAP,
    Outcome,
    outcome_bucket,
    outcome_u,
    peer_scores,
    place_outcome,
    score_outcome,
    standardize_cdf,
)

from .strategies import PROPERTY_SETTINGS, specs_on_domains

CLOSED = {"open_lower": False, "open_upper": False}
OPEN = {"open_lower": True, "open_upper": True}


def domain(lower, upper, scale="linear", open_lower=True, open_upper=True):
    return Domain.create(lower=lower, upper=upper, scale=scale, open_lower=open_lower, open_upper=open_upper)


def score_one(cdf, value, dom, **kwargs):
    outcome = place_outcome(value, dom)
    return score_outcome(np.asarray(cdf)[None, :], bucket=outcome.bucket, u=outcome.u,
                         open_lower=dom.open_lower, open_upper=dom.open_upper, **kwargs)


# ---------------------------------------------------------------------------------------------------------------
# Buckets


@pytest.mark.parametrize(("u", "bucket"), [
    (-math.inf, 0), (-1e-300, 0), (0.0, 1), (1e-12, 1), (0.005, 1), (0.005 + 1e-9, 2), (0.5, 100),
    (0.5 + 1e-9, 101), (0.995, 199), (1 - 1e-12, 200), (1.0, 200), (1 + 1e-12, 201), (math.inf, 201),
])
def test_it_places_a_u_in_the_bucket_metaculus_places_it(u, bucket):
    assert outcome_bucket(u) == bucket


def test_it_puts_every_grid_point_in_the_bin_that_ends_there():
    # u = k/200 is the upper edge of bucket k (bins are ((k-1)/200, k/200]); the 1e-10 keeps round-off in 200 u
    # (200 * (k/200) is k +- 1 ulp) from pushing it into bucket k + 1.
    assert [outcome_bucket(k / 200) for k in range(1, 201)] == list(range(1, 201))
    assert [outcome_bucket(float(u)) for u in U_GRID[1:]] == list(range(1, 201))
    assert [outcome_bucket(k / 200 + 1e-9) for k in range(1, 200)] == list(range(2, 201))


@pytest.mark.parametrize("dom", [
    domain(1.0, 20.0, "log"),
    domain(1.0, 1e20, "log"),
    domain(3e-7, 7.1e11, "log"),
    domain(-10.0, 10.0),
    domain(0.1, 0.7),
    domain("2020-01-01", "2100-12-31", "date"),
], ids=["log 1..20", "log 1..1e20", "log 3e-7..7.1e11", "linear -10..10", "linear 0.1..0.7", "date"])
def test_it_puts_an_outcome_on_a_bound_exactly_at_u_0_or_1(dom):
    upper, lower = dom.format_x(dom.upper), dom.format_x(dom.lower)
    assert place_outcome(upper, dom).u == 1.0 and place_outcome(upper, dom).bucket == 200
    assert place_outcome(lower, dom).u == 0.0 and place_outcome(lower, dom).bucket == 1


def test_it_places_a_value_one_float_beyond_a_bound_beyond_it():
    dom = domain(1.0, 20.0, "log")
    assert place_outcome(math.nextafter(20.0, math.inf), dom).bucket == 201
    assert place_outcome(math.nextafter(20.0, 0.0), dom).bucket == 200
    assert place_outcome(math.nextafter(1.0, 0.0), dom).bucket == 0
    assert outcome_u(math.nextafter(1.0, 0.0), dom) < 0
    assert place_outcome(0.0, dom).bucket == 0  # nothing on a log axis is <= 0: below any range


def test_it_places_dates_and_named_tails():
    dom = domain("2020-01-01", "2100-12-31", "date")
    assert place_outcome("2101-01-01", dom).bucket == 201
    assert place_outcome("2019-12-31", dom).bucket == 0
    assert place_outcome("below", dom).bucket == 0 and place_outcome("above", dom).bucket == 201
    # 2060-07-01 is day 14792 of the range's 29584: u = 0.5 exactly, the end of bucket 100; a day later is in 101
    assert place_outcome("2060-07-01", dom) == Outcome(u=0.5, bucket=100)
    assert place_outcome("2060-07-02", dom).bucket == 101


@pytest.mark.parametrize(("dom", "value"), [
    (domain(1.0, 20.0, "log"), "2030-01-01"),  # a date on a log question
    (domain("2020-01-01", "2100-12-31", "date"), 2050),  # a number on a date question
    (domain(1.0, 20.0, "log", open_upper=False), "above"),
    (domain(1.0, 20.0, "log", open_lower=False), "below"),
    (domain(1.0, 20.0, "log", open_upper=False), 20.5),
    (domain(-10.0, 10.0, open_lower=False), -10.000001),
    (domain("2020-01-01", "2100-12-31", "date", open_upper=False), "2101-01-01"),
    (domain(1.0, 20.0, "log"), "annulled"),
    (domain(1.0, 20.0, "log"), math.nan),
    (domain(1.0, 20.0, "log"), True),
])
def test_it_rejects_a_value_of_the_wrong_kind_or_beyond_a_closed_bound(dom, value):
    with pytest.raises(SpecError) as info:
        place_outcome(value, dom)
    assert info.value.path == "value"


# ---------------------------------------------------------------------------------------------------------------
# Scores worked by hand


def test_it_gives_a_uniform_forecast_a_baseline_of_zero_on_a_closed_question():
    # F = u standardizes to 0.99 u + 0.01 u = u: every bucket holds 1/200, which is the baseline's own b.
    dom = domain(0.0, 100.0, open_lower=False, open_upper=False)
    for value in (0.0, 0.37, 50.0, 99.99, 100.0):
        scores = score_one(U_GRID, value, dom)
        assert scores.baseline[0] == pytest.approx(0.0, abs=1e-9)
        assert scores.log_score[0] == pytest.approx(math.log(0.005), rel=1e-12)


def test_it_scores_outcomes_in_each_tail_and_inside_by_hand():
    # Open on both sides: mass 0.1 below, 0.8 spread evenly inside, 0.1 above. Standardized (a = 0.988, t = 0.001):
    #   below: 0.988 * 0.1 + 0.001 = 0.0998;  above: 1 - (0.988 * 0.9 + 0.01 + 0.001) = 0.0998;
    #   each bucket inside: 0.988 * 0.8 / 200 + 0.01 / 200 = 0.004002.
    # Baseline b: 0.05 in a tail; (1 - 0.05 * 2) / 200 = 0.0045 inside.
    dom = domain(0.0, 1.0)
    cdf = 0.1 + 0.8 * U_GRID
    for value, p, b in (("below", 0.0998, 0.05), ("above", 0.0998, 0.05), (0.5, 0.004002, 0.0045),
                        (-3.0, 0.0998, 0.05), (7.0, 0.0998, 0.05)):
        scores = score_one(cdf, value, dom)
        assert scores.p_outcome[0] == pytest.approx(p, rel=1e-12)
        assert scores.log_score[0] == pytest.approx(math.log(p), rel=1e-12)
        assert scores.baseline[0] == pytest.approx(50 * math.log(p / b), rel=1e-10)


def test_it_scores_with_one_open_side_by_hand():
    # Closed below, open above (a = 0.989, t = 0): 0.2 above the range, 0.8 evenly inside.
    #   above: 1 - (0.989 * 0.8 + 0.01) = 1 - 0.8012 = 0.1988; inside: 0.989 * 0.004 + 0.00005 = 0.004006;
    #   b inside = (1 - 0.05) / 200 = 0.00475.
    dom = domain(1.0, 1e20, "log", open_lower=False)
    cdf = 0.8 * U_GRID
    above = score_one(cdf, "above", dom)
    assert above.p_outcome[0] == pytest.approx(0.1988, rel=1e-12)
    assert above.baseline[0] == pytest.approx(50 * math.log(0.1988 / 0.05), rel=1e-10)
    inside = score_one(cdf, 1e13, dom)
    assert inside.p_outcome[0] == pytest.approx(0.004006, rel=1e-12)
    assert inside.baseline[0] == pytest.approx(50 * math.log(0.004006 / 0.00475), rel=1e-10)


def test_it_scores_a_forecast_whose_steps_needed_the_cap_by_hand():
    # All mass in bucket 51 of a closed question: standardized, that step is 0.99 + 5e-5 and the 199 others 5e-5.
    # Water-filled, it is capped (at 0.2 - 1e-9) and the others share the rest equally: (1 - cap) / 199 each.
    dom = domain(0.0, 200.0, open_lower=False, open_upper=False)
    cdf = (U_GRID > 0.25).astype(float)  # jumps between u = 0.25 and 0.255: bucket 51 (u in (0.25, 0.255])
    assert score_one(cdf, 50.5, dom).p_outcome[0] == pytest.approx(STEP_CAP, rel=1e-12)
    assert score_one(cdf, 10.0, dom).p_outcome[0] == pytest.approx((1 - STEP_CAP) / 199, rel=1e-12)
    raw = score_one(cdf, 10.0, dom, standardize=False)
    assert raw.p_outcome[0] == 0.0 and raw.log_score[0] == -math.inf


def test_it_scores_many_forecasts_in_one_call_and_none_at_all():
    cdfs = np.stack([U_GRID, U_GRID**2, np.sqrt(U_GRID)])
    scores = score_outcome(cdfs, bucket=100, u=0.5, **CLOSED)
    # bucket 100 is u in (0.495, 0.5]: raw masses 0.005, 0.5^2 - 0.495^2 = 0.004975, sqrt(.5) - sqrt(.495)
    raw = np.array([0.005, 0.004975, math.sqrt(0.5) - math.sqrt(0.495)])
    np.testing.assert_allclose(scores.p_outcome, 0.99 * raw + 0.00005, rtol=1e-10)
    empty = score_outcome(np.empty((0, 201)), bucket=100, u=0.5, **CLOSED)
    assert empty.crps.shape == empty.baseline.shape == (0,)


@pytest.mark.parametrize(("bucket", "u", "sides"), [
    (0, -math.inf, CLOSED),  # below a closed bound
    (201, math.inf, {"open_lower": True, "open_upper": False}),
    (57, 0.5, OPEN),  # u falls in bucket 100
    (202, math.inf, OPEN),
    (True, 0.0, OPEN),
])
def test_it_refuses_an_outcome_that_does_not_fit_the_question(bucket, u, sides):
    with pytest.raises(ValueError):
        score_outcome(U_GRID[None, :], bucket=bucket, u=u, **sides)


# ---------------------------------------------------------------------------------------------------------------
# CRPS against scipy quadrature


def crps_by_quadrature(cdf, u_outcome):
    """The integral over [0, 1] of (F(u) - 1[u >= u_o])^2, F the piecewise-linear CDF, by quad on each grid segment
    (split at the step), so each piece is a smooth quadratic."""
    u_o = min(max(u_outcome, 0.0), 1.0)
    total = 0.0
    for lo, hi in itertools.pairwise(U_GRID):
        for a, b, after in ((lo, min(hi, u_o), 0.0), (max(lo, u_o), hi, 1.0)):
            if b > a:
                total += quad(lambda u, after=after: (np.interp(u, U_GRID, cdf) - after) ** 2, a, b,
                              epsabs=1e-15, epsrel=1e-12)[0]
    return total


@pytest.mark.parametrize("u", [-math.inf, 0.0, 0.0031, 0.25, 0.2537, 0.5, 0.7777, 0.995, 1.0, math.inf])
def test_it_computes_crps_against_the_step_as_quadrature_does(u):
    rng = np.random.default_rng(7)
    inside = np.sort(rng.uniform(0, 1, (3, 199)), axis=1)
    raw = 0.1 + 0.75 * np.hstack([np.zeros((3, 1)), inside, np.ones((3, 1))])  # tails 0.1 below, 0.15 above
    bucket = outcome_bucket(u)
    scores = score_outcome(raw, bucket=bucket, u=u, **OPEN)
    as_given = score_outcome(raw, bucket=bucket, u=u, **OPEN, standardize=False)
    for i in range(3):
        standardized = 0.988 * raw[i] + 0.01 * U_GRID + 0.001  # the editor's formula, written out
        assert scores.crps[i] == pytest.approx(crps_by_quadrature(standardized, u), rel=1e-9, abs=1e-14)
        assert as_given.crps[i] == pytest.approx(crps_by_quadrature(raw[i], u), rel=1e-9, abs=1e-14)


def test_it_computes_crps_of_a_capped_forecast_on_its_capped_cdf():
    # Closed question, all mass in bucket 51 (see above): the standardized CDF is, by hand, the capped step of
    # 0.2 - 1e-9 between u = 0.25 and 0.255 and (1 - cap) / 199 in every other bucket.
    cdf = (U_GRID > 0.25).astype(float)
    steps = np.full(200, (1 - STEP_CAP) / 199)
    steps[50] = STEP_CAP
    capped = np.concatenate([[0.0], np.cumsum(steps)])
    for u in (0.1, 0.2525, 0.9):
        got = score_outcome(cdf[None, :], bucket=outcome_bucket(u), u=u, **CLOSED).crps[0]
        assert got == pytest.approx(crps_by_quadrature(capped, u), rel=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# Peer scores


def test_it_gives_peer_scores_that_sum_to_zero():
    rng = np.random.default_rng(3)
    p = rng.uniform(5e-5, 0.2, 1000)
    peer = peer_scores(p)
    assert abs(peer.sum()) < 1e-8 * np.abs(peer).sum()
    # Metaculus's definition written out: the mean over the others of 100 (ln p_i - ln p_j) / 2
    i = 17
    others = np.delete(p, i)
    assert peer[i] == pytest.approx(np.mean(100 * (math.log(p[i]) - np.log(others)) / 2), rel=1e-10)


def test_it_gives_two_forecasters_opposite_peer_scores_by_hand():
    # GM of 0.1 and 0.4 is 0.2: 50 * 2/1 * ln(0.1/0.2) = -100 ln 2, and +100 ln 2.
    np.testing.assert_allclose(peer_scores(np.array([0.1, 0.4])), [-100 * math.log(2), 100 * math.log(2)])


def test_it_gives_a_lone_forecaster_a_peer_score_of_zero():
    assert peer_scores(np.array([0.003])).tolist() == [0.0]
    assert peer_scores(np.array([])).shape == (0,)


def test_it_refuses_a_zero_mass_for_a_peer_score():
    with pytest.raises(ValueError):
        peer_scores(np.array([0.1, 0.0]))


# ---------------------------------------------------------------------------------------------------------------
# Properties over random specs on random domains


@PROPERTY_SETTINGS
@given(specs_on_domains(), st.floats(-0.2, 1.2))
def test_it_scores_every_random_forecast_finite_above_the_standardized_floor(case, u):
    dom, cdf = case
    assume((u >= 0 or dom.open_lower) and (u <= 1 or dom.open_upper))
    bucket = outcome_bucket(u)
    scores = score_outcome(np.stack([cdf, U_GRID]), bucket=bucket, u=u,
                           open_lower=dom.open_lower, open_upper=dom.open_upper)
    floor = 0.001 if bucket in (0, 201) else 5e-5  # what standardization guarantees every bucket
    assert np.all(scores.p_outcome >= floor * (1 - 1e-9))
    assert np.all(np.isfinite(scores.log_score)) and np.all(np.isfinite(scores.baseline))
    assert np.all((scores.crps >= 0) & (scores.crps <= 1))
    # The compiled read agrees with the mass of the fully standardized CDF (numpy, water-filling included).
    standardized = standardize_cdf(cdf, open_lower=dom.open_lower, open_upper=dom.open_upper)
    masses = np.concatenate([[standardized[0]], np.diff(standardized), [1 - standardized[-1]]])
    assert scores.p_outcome[0] == pytest.approx(masses[bucket], rel=1e-9)
