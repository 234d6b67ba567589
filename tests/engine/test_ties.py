"""Ties between scores: the same distribution entered two ways shares a rank, and the grouping is the documented one.

Allocation's exact version of the rule is tested with the prize rules in test_allocation.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplification.distributions import from_spec
from amplification.grid import Domain
from amplification.scoring import SKILL_ROUNDOFF, score_predictions
from amplification.ties import TIE_ABSOLUTE, TIE_RELATIVE, competition_ranks
from forecasts import demo

COMPUTE = demo.SCENARIOS[0].question


def reference_ranks(values: list[float], *, higher_is_better: bool = False) -> list[int]:
    """The rule as docs/prizes.md states it, one value at a time: best first, a new group when a value is more than
    max(1e-12, 1e-9 * |first|) worse than the first value of the current group; a group's rank is its first
    position."""
    sign = -1.0 if higher_is_better else 1.0
    order = sorted(range(len(values)), key=lambda i: sign * values[i])
    ranks = [0] * len(values)
    first = None
    rank = 0
    for position, i in enumerate(order, start=1):
        value = sign * values[i]
        # Written as the implementation rounds it (first + tolerance, then compare): value - first > tolerance can
        # round the other way when a value sits exactly on the boundary.
        if first is None or value > first + max(1e-12, 1e-9 * abs(first)):
            first, rank = value, position
        ranks[i] = rank
    return ranks


def test_its_absolute_tolerance_is_the_engines_skill_noise_floor():
    assert TIE_ABSOLUTE == SKILL_ROUNDOFF
    assert TIE_RELATIVE == 1e-9


def test_the_same_lognormal_as_quantiles_and_as_an_interval_shares_rank_one():
    domain = Domain.create(**{k: COMPUTE[k] for k in ("lower", "upper", "scale", "open_lower", "open_upper")})
    interval = from_spec({"type": "lognormal", "low": 1e7, "high": 1e11}, domain).cdf
    quantiles = from_spec(
        {"type": "quantiles", "points": [{"p": 0.05, "x": 1e7}, {"p": 0.5, "x": 1e9}, {"p": 0.95, "x": 1e11}]},
        domain,
    ).cdf
    wrong_way = from_spec(demo.COMPUTE_WRONG_WAY, domain).cdf
    posterior = from_spec(demo.COMPUTE_POSTERIOR, domain).cdf
    prior = from_spec(demo.COMPUTE_PRIOR, domain).cdf
    scores = score_predictions(np.array([interval, quantiles, wrong_way]), posterior, prior,
                               open_lower=True, open_upper=True)
    # The two forms agree to float noise, far inside the tolerance (they need not differ for the test to hold).
    assert scores.kl[0] == pytest.approx(scores.kl[1], rel=1e-13)
    assert competition_ranks(scores.kl).tolist() == [1, 1, 3]
    assert competition_ranks(scores.skill, higher_is_better=True).tolist() == [1, 1, 3]


def test_it_ties_the_reviewers_two_kls():
    assert competition_ranks(np.array([0.6117724401346818, 0.6117724401346809])).tolist() == [1, 1]


def test_it_ranks_like_a_competition_lowest_first():
    # 1, 2, 2, 4 with a float-noise tie, and an exact one.
    kl = np.array([0.9, 0.2, 0.5, 0.2 + 2.8e-17, 0.5])
    assert kl[1] != kl[3]  # one unit in the last place apart
    assert competition_ranks(kl).tolist() == [5, 1, 3, 1, 3]
    assert competition_ranks(-kl, higher_is_better=True).tolist() == [5, 1, 3, 1, 3]


def test_it_measures_a_tie_from_the_first_of_its_group_so_ties_do_not_chain():
    # Each value is 0.6e-9 above the one before: 2 is within tolerance of 1, 3 of 2 but not of 1.
    values = 1.0 + np.array([0.0, 0.6e-9, 1.2e-9, 1.8e-9, 2.4e-9])
    assert competition_ranks(values).tolist() == [1, 1, 3, 3, 5]


def test_it_uses_the_absolute_tolerance_near_zero():
    assert competition_ranks(np.array([0.0, 0.9e-12, 2e-12])).tolist() == [1, 1, 3]


def test_it_keeps_infinities_apart_from_finite_scores():
    # -inf + its tolerance would be NaN, which must not swallow every later value into its group.
    values = np.array([np.inf, 0.0, -np.inf, 1.0, -np.inf, np.inf])
    assert competition_ranks(values).tolist() == [5, 3, 1, 4, 1, 5]


def test_it_ranks_nothing_and_one():
    assert competition_ranks(np.array([])).tolist() == []
    assert competition_ranks(np.array([3.0])).tolist() == [1]


# Values on a few levels with noise around the tolerance (below, at, and above it), so that groups, chains and
# boundaries all occur.
noisy_values = st.lists(
    st.tuples(
        st.sampled_from([0.0, 1e-13, 0.16, 1.0, -1.0, 7.5, 1e6]),
        st.sampled_from([0.0, 1e-16, 4e-10, 9e-10, 1e-9, 1.1e-9, 2e-9, 1e-12, 3e-12]),
        st.integers(-3, 3),
    ).map(lambda t: t[0] + t[2] * t[1] * max(1.0, abs(t[0]))),
    min_size=0,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(values=noisy_values, higher_is_better=st.booleans(), data=st.data())
def test_it_follows_the_documented_rule_whatever_the_input_order(values, higher_is_better, data):
    ranks = competition_ranks(np.array(values, dtype=np.float64), higher_is_better=higher_is_better)
    assert ranks.tolist() == reference_ranks(values, higher_is_better=higher_is_better)
    permutation = data.draw(st.permutations(range(len(values))), label="input order")
    shuffled = competition_ranks(np.array([values[i] for i in permutation], dtype=np.float64),
                                 higher_is_better=higher_is_better)
    assert shuffled.tolist() == [int(ranks[i]) for i in permutation]
