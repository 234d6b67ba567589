"""Prize splitting: known answers worked out by hand, properties every rule must keep, and refused input.

The draw (evidence pool) has its own file, test_allocation_draw.py.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from amplification.allocation import (
    AllocationError,
    allocate,
    evidence_proportional,
    key_order,
    proportional_skill,
    split_largest_remainder,
    top_k,
    winner_takes_all,
)

D = Decimal
CENT = D("0.01")


def amounts(payouts: dict[str, Decimal]) -> dict[str, str]:
    # Compare as strings so a payout of Decimal("25") (no cents) would fail against "25.00".
    return {key: str(value) for key, value in payouts.items()}


# --- known answers, worked out by hand ----------------------------------------------------------------------------


def test_it_gives_the_odd_cent_of_a_three_way_split_to_the_first_key():
    # 10000 cents / 3 = 3333 each, 1 left; equal remainders, so the smallest key gets it, whatever the input order.
    payouts = split_largest_remainder(D("100"), {"c": 1, "a": 1, "b": 1})
    assert amounts(payouts) == {"a": "33.34", "b": "33.33", "c": "33.33"}
    assert list(payouts) == ["a", "b", "c"]


def test_it_gives_the_odd_cent_to_key_9_before_key_10():
    # Prediction and user ids are decimal strings: "9" < "10" by number, though "10" < "9" as text.
    payouts = split_largest_remainder(D("0.03"), {"10": 1, "9": 1})
    assert amounts(payouts) == {"9": "0.02", "10": "0.01"}
    assert list(payouts) == ["9", "10"]
    assert amounts(winner_takes_all(D("50.01"), {"10": 0.5, "9": 0.5})) == {"9": "25.01", "10": "25.00"}
    assert amounts(proportional_skill(D("0.03"), {"10": 2.0, "9": 2.0})) == {"9": "0.02", "10": "0.01"}


def test_it_compares_runs_of_digits_by_value_and_everything_else_as_text():
    # The documented examples: digit runs by value wherever two keys have one at the same point, "07" before "7"
    # (equal values, then string order), and "/" < "7" < ":" as in plain string order.
    keys = ["comment-23", "10", "b", "a10", ":", "7", "comment-4", "a2", "/", "9", "07", ""]
    assert sorted(keys, key=key_order) == [
        "", "/", "07", "7", "9", "10", ":", "a2", "a10", "b", "comment-4", "comment-23"
    ]
    payouts = split_largest_remainder(D("0.02"), {"comment-23": 1, "comment-4": 1, "comment-17": 1})
    assert amounts(payouts) == {"comment-4": "0.01", "comment-17": "0.01", "comment-23": "0.00"}


def test_it_compares_digit_runs_longer_than_int_accepts():
    # int() refuses decimal strings of over 4300 digits; the order must not depend on it.
    assert sorted(["1" + "0" * 5000, "9" * 4999], key=key_order) == ["9" * 4999, "1" + "0" * 5000]


def test_it_gives_leftover_cents_to_the_largest_remainders():
    # 1000 cents over 1:2:4 (W = 7): quotas 142.857, 285.714, 571.428 -> floors 142, 285, 571 (998), remainders
    # .857 > .714 > .428, so the 2 left go to x then y.
    payouts = split_largest_remainder(D("10.00"), {"z": Fraction(4), "x": D("1"), "y": 2.0})
    assert amounts(payouts) == {"x": "1.43", "y": "2.86", "z": "5.71"}


def test_it_reads_floats_as_the_decimals_they_print_as():
    # 0.1 and 0.3 as binary doubles are not exactly 1:3; read as decimals they are, so 4 cents split 1 and 3 with
    # no leftover cent for a rounding error to decide.
    assert amounts(split_largest_remainder(D("0.04"), {"a": 0.1, "b": 0.3})) == {"a": "0.01", "b": "0.03"}


def test_it_pays_zero_weight_nothing():
    assert amounts(split_largest_remainder(D("5.00"), {"a": 0, "b": D("2.5")})) == {"a": "0.00", "b": "5.00"}


def test_it_splits_a_zero_pool_into_zeros():
    assert amounts(evidence_proportional(D("0"), {"a": 1, "b": 3})) == {"a": "0.00", "b": "0.00"}


def test_it_gives_the_whole_pool_to_the_single_best():
    payouts = winner_takes_all(D("50"), {"alice": 0.31, "bob": 1.7, "carol": -2.0})
    assert amounts(payouts) == {"alice": "0.00", "bob": "50.00", "carol": "0.00"}


def test_it_splits_ties_for_best_evenly():
    payouts = winner_takes_all(D("50.01"), {"bob": 1.7, "alice": 1.7, "carol": 0.2})
    assert amounts(payouts) == {"alice": "25.01", "bob": "25.00", "carol": "0.00"}


# The same lognormal entered as three quantiles and as a low/high interval, scored against the demo posterior: KL
# 0.16683660389533728 and 0.16683660389533816, float noise 9e-16 apart (tests/engine/test_ties.py scores them).
QUANTILES_KL, INTERVAL_KL = 0.16683660389533728, 0.16683660389533816


def test_it_splits_winner_takes_all_between_scores_a_float_hair_apart():
    assert QUANTILES_KL != INTERVAL_KL
    payouts = winner_takes_all(D("50"), {"quantiles": -QUANTILES_KL, "interval": -INTERVAL_KL, "other": -0.9})
    assert amounts(payouts) == {"interval": "25.00", "other": "0.00", "quantiles": "25.00"}


def test_it_ties_scores_up_to_the_tolerance_of_the_best_and_no_further():
    # Tolerance max(1e-12, 1e-9 * |best|): exactly 1e-9 below a best of 1 is tied, a little more is not.
    assert amounts(winner_takes_all(D("10"), {"a": D("1"), "b": D("0.999999999")})) == {"a": "5.00", "b": "5.00"}
    assert amounts(winner_takes_all(D("10"), {"a": D("1"), "b": D("0.9999999989")})) == {"a": "10.00", "b": "0.00"}
    # Near 0 the absolute part rules: 1e-12.
    assert amounts(winner_takes_all(D("10"), {"a": D("1e-12"), "b": D("0")})) == {"a": "5.00", "b": "5.00"}
    assert amounts(winner_takes_all(D("10"), {"a": D("2e-12"), "b": D("0")})) == {"a": "10.00", "b": "0.00"}
    # Negative scores: the tolerance is on |best|.
    assert amounts(winner_takes_all(D("10"), {"a": D("-2"), "b": D("-2.000000002")})) == {"a": "5.00", "b": "5.00"}


def test_it_measures_a_tie_from_the_first_of_its_group_so_ties_do_not_chain():
    # b is within tolerance of a, c of b but not of a: a and b are tied, and c opens the next group.
    scores = {"a": D("1"), "b": D("0.9999999994"), "c": D("0.9999999988")}
    assert amounts(winner_takes_all(D("10"), scores)) == {"a": "5.00", "b": "5.00", "c": "0.00"}
    # With ranks 1, 1, 3: a and b pool shares 1 and 2, c gets share 3 alone.
    assert amounts(top_k(D("100"), scores, [0.5, 0.3, 0.2])) == {"a": "40.00", "b": "40.00", "c": "20.00"}


def test_it_pools_top_k_shares_of_scores_a_float_hair_apart():
    payouts = top_k(D("100.01"), {"10": -INTERVAL_KL, "9": -QUANTILES_KL, "8": -0.9}, [0.6, 0.4])
    # "9" and "10" share ranks 1 and 2: 100.01 / 2 each, the odd cent to "9" by key, not to the better float.
    assert amounts(payouts) == {"8": "0.00", "9": "50.01", "10": "50.00"}


def test_it_gives_skills_a_float_hair_apart_equal_weight():
    # Without the tolerance "10", a hair better, would take the odd cent on its larger remainder.
    skills = {"10": 1.3218815800000002, "9": 1.32188158}
    assert amounts(proportional_skill(D("0.03"), skills)) == {"9": "0.02", "10": "0.01"}


def test_it_drops_skills_tied_within_tolerance_together():
    # Like test_it_drops_tied_entries_together, with b a float hair above a: a lone drop of a would lift b to
    # 100 / 2.5 = 40, above the minimum; tied, they drop together.
    skills = {"a": D("1"), "b": D("1.000000000000001"), "c": D("1.5")}
    assert amounts(proportional_skill(D("100"), skills, min_payout=D("29"))) == {
        "a": "0.00", "b": "0.00", "c": "100.00"
    }


def test_it_never_pays_a_skill_of_zero_or_below_however_close_to_a_positive_one():
    assert amounts(proportional_skill(D("10"), {"a": D("1e-13"), "b": D("0"), "c": D("-1e-13")})) == {
        "a": "10.00", "b": "0.00", "c": "0.00"
    }


def test_it_pays_top_k_by_rank():
    payouts = top_k(D("100"), {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.5}, [0.5, 0.3, 0.2])
    assert amounts(payouts) == {"a": "50.00", "b": "30.00", "c": "20.00", "d": "0.00"}


def test_it_pools_the_shares_of_entries_tied_at_rank_two():
    # b and c occupy ranks 2 and 3: (30 + 20) / 2 each.
    payouts = top_k(D("100"), {"a": 10, "b": 8, "c": 8, "d": 1}, [D("0.5"), D("0.3"), D("0.2")])
    assert amounts(payouts) == {"a": "50.00", "b": "25.00", "c": "25.00", "d": "0.00"}


def test_it_pools_a_share_past_k_for_a_tie_at_the_last_rank():
    # b and c tie for rank 2 of k = 2: they share rank 2's 40% and rank 3's nothing.
    payouts = top_k(D("10.01"), {"a": 5, "b": 1, "c": 1}, [0.6, 0.4])
    # a: 600.6 cents, b and c: 200.2 each -> floors 600 + 200 + 200, one left, a's remainder .6 is largest.
    assert amounts(payouts) == {"a": "6.01", "b": "2.00", "c": "2.00"}


def test_it_gives_the_odd_cent_to_the_better_rank_when_shares_are_equal():
    # Equal shares give equal remainders; the better score, not the earlier key, gets the cent.
    payouts = top_k(D("0.03"), {"a": 1, "b": 2}, [0.5, 0.5])
    assert amounts(payouts) == {"a": "0.01", "b": "0.02"}


def test_it_renormalises_top_k_over_fewer_entries_than_k():
    # Only ranks 1 and 2 exist: 0.5 and 0.3 of 0.8.
    payouts = top_k(D("100"), {"a": 2, "b": 1}, [0.5, 0.3, 0.2])
    assert amounts(payouts) == {"a": "62.50", "b": "37.50"}


def test_it_splits_in_proportion_to_positive_skill():
    payouts = proportional_skill(D("90"), {"a": 1.0, "b": 2.0, "c": -0.5, "d": 0.0})
    assert amounts(payouts) == {"a": "30.00", "b": "60.00", "c": "0.00", "d": "0.00"}


def test_it_raises_skill_to_the_given_power():
    # weights 1, 4
    assert amounts(proportional_skill(D("50"), {"a": 1, "b": 2}, power=2)) == {"a": "10.00", "b": "40.00"}


def test_it_drops_an_entry_below_min_payout_and_renormalises():
    # Without the minimum: 5, 25, 70. a is below 10, drops; 100 over 5:14 -> 26.315..., 73.684...
    payouts = proportional_skill(D("100"), {"a": 1, "b": 5, "c": 14}, min_payout=D("10"))
    assert amounts(payouts) == {"a": "0.00", "b": "26.32", "c": "73.68"}


def test_it_drops_only_the_lowest_level_at_a_time():
    # First shares 15.00, 17.50, 67.50, both a and b below 20. Dropping a alone lifts b to 3.5/17 = 20.588...,
    # which clears the minimum, so b stays.
    payouts = proportional_skill(D("100"), {"a": 3, "b": 3.5, "c": 13.5}, min_payout=D("20"))
    assert amounts(payouts) == {"a": "0.00", "b": "20.59", "c": "79.41"}


def test_it_drops_tied_entries_together():
    # Shares 28.571..., 28.571..., 42.857...: a minimum of 28 keeps everyone (cents 2857 + 2857 + 4285, the odd
    # cent to c's remainder .714); a minimum of 29 drops a and b together, and c takes all.
    payouts = proportional_skill(D("100"), {"a": 1, "b": 1, "c": 1.5}, min_payout=D("28"))
    assert amounts(payouts) == {"a": "28.57", "b": "28.57", "c": "42.86"}
    payouts = proportional_skill(D("100"), {"a": 1, "b": 1, "c": 1.5}, min_payout=D("29"))
    assert amounts(payouts) == {"a": "0.00", "b": "0.00", "c": "100.00"}


def test_it_keeps_an_entry_whose_exact_share_equals_min_payout():
    assert amounts(proportional_skill(D("100"), {"a": 1, "b": 3}, min_payout=D("25"))) == {
        "a": "25.00",
        "b": "75.00",
    }


def test_it_allocates_both_pools():
    result = allocate(
        accuracy_pool=D("50"),
        evidence_pool=D("100"),
        accuracy_rule="top_k",
        evidence_rule="proportional",
        skills={"p1": 0.4, "p2": 0.9, "p3": 0.1},
        weights={"e1": 1, "e2": 1, "e3": 1},
        shares=[0.7, 0.3],
    )
    assert amounts(result["accuracy"]) == {"p1": "15.00", "p2": "35.00", "p3": "0.00"}
    assert amounts(result["evidence"]) == {"e1": "33.34", "e2": "33.33", "e3": "33.33"}
    assert result["draw"] is None


def test_it_allocates_with_each_accuracy_rule():
    common = {
        "accuracy_pool": D("10"),
        "evidence_pool": D("0"),
        "evidence_rule": "proportional",
        "skills": {"a": 1, "b": 3},
        "weights": {"e": 1},
    }
    assert amounts(allocate(accuracy_rule="winner_takes_all", **common)["accuracy"]) == {
        "a": "0.00",
        "b": "10.00",
    }
    result = allocate(accuracy_rule="proportional_skill", power=0.5, min_payout=D("1"), **common)
    # sqrt(1) : sqrt(3) = 1 : 1.7320508075688772 -> 366.0254... and 633.9745... cents
    assert amounts(result["accuracy"]) == {"a": "3.66", "b": "6.34"}
    assert amounts(result["evidence"]) == {"e": "0.00"}


# --- properties of every rule -------------------------------------------------------------------------------------

pools = st.integers(min_value=0, max_value=10**9).map(lambda cents: Decimal(cents) / 100)
keys = st.text(max_size=6)
# A few exact values recur so that ties are common; the rest spans tiny to huge, as floats, Decimals and Fractions.
non_negative = st.one_of(
    st.sampled_from([0.0, 1.0, 2.5, D("2.5"), 0]),
    st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=10**6, places=4),
    st.fractions(min_value=0, max_value=1000, max_denominator=97),
)
real = st.one_of(
    st.sampled_from([-1.0, 0.0, 1.0, 2.5]),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-1000, max_value=1000, places=3),
)
share_lists = (
    st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=8)
    .filter(lambda parts: sum(parts) > 0)
    .map(lambda parts: [Fraction(p, sum(parts)) for p in sorted(parts, reverse=True)])
)


def exact(value) -> Fraction:
    """The value the docs promise is used: a float as the decimal it prints as, anything else exactly."""
    return Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)


def shuffled(data, mapping: dict) -> dict:
    return dict(data.draw(st.permutations(list(mapping.items())), label="input order"))


def documented_order(key: str):
    """docs/prizes.md's key order, written out independently: string order, digit runs by value, then the key."""
    tokens = [(ord("0"), int(token)) if token[0] in "0123456789" else (ord(token), -1)
              for token in re.findall(r"[0-9]+|.", key, re.DOTALL)]
    return tokens, key


def tolerance(value: Fraction) -> Fraction:
    return max(Fraction(1, 10**12), Fraction(1, 10**9) * abs(value))


def check_payouts(pool: Decimal, payouts: dict, given: dict) -> None:
    assert list(payouts) == sorted(given, key=documented_order)
    for value in payouts.values():
        assert value >= 0
        assert value.as_tuple().exponent == -2
    assert sum(payouts.values(), D("0")) == pool


def check_ties(payouts: dict, values: dict) -> None:
    """Entries with equal values get amounts at most a cent apart, and the earlier keys the larger amounts."""
    groups = defaultdict(list)
    for key, value in values.items():
        groups[exact(value)].append(key)
    for group in groups.values():
        group_amounts = [payouts[key] for key in sorted(group, key=documented_order)]
        assert max(group_amounts) - min(group_amounts) <= CENT
        assert group_amounts == sorted(group_amounts, reverse=True)


def check_monotone(payouts: dict, values: dict, *, scores: bool) -> None:
    """A strictly larger weight never gets less, not even by the odd cent; nor does a score larger by enough that
    the two cannot be tied. Two scores in one tie group are at most one tolerance below the group's best, so they
    differ by less than twice the tolerance of the larger magnitude (docs/prizes.md, "Ties between scores")."""

    def clearly_above(high: Fraction, low: Fraction) -> bool:
        if scores:
            return high - low >= 2 * tolerance(max(abs(low), abs(high)))
        return high > low

    ordered = sorted(values, key=lambda key: exact(values[key]))
    ascending = [exact(values[key]) for key in ordered]
    # The entries clearly above one are a suffix of the ascending order, which only shrinks as it rises.
    suffix_min = list(itertools.accumulate(reversed([payouts[key] for key in ordered]), min))[::-1]
    first_above = 0
    for i, low in enumerate(ascending):
        first_above = max(first_above, i + 1)
        while first_above < len(ascending) and not clearly_above(ascending[first_above], low):
            first_above += 1
        if first_above < len(ascending):
            assert payouts[ordered[i]] <= suffix_min[first_above]


powers = st.sampled_from([1.0, 2, 0.5, D("1.5")])
# Each rule with the strategy for its extra argument, so that the second, shuffled call gets the same one.
RULES = {
    "split_largest_remainder": (st.none(), lambda pool, values, _: split_largest_remainder(pool, values)),
    "evidence_proportional": (st.none(), lambda pool, values, _: evidence_proportional(pool, values)),
    "winner_takes_all": (st.none(), lambda pool, values, _: winner_takes_all(pool, values)),
    "top_k": (share_lists, lambda pool, values, shares: top_k(pool, values, shares)),
    "proportional_skill": (powers, lambda pool, values, power: proportional_skill(pool, values, power=power)),
}
NON_NEGATIVE_ONLY = {"split_largest_remainder", "evidence_proportional"}  # weights: split exactly, no tie tolerance
property_settings = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("rule", list(RULES))
@property_settings
@given(pool=pools, data=st.data())
def test_it_pays_exactly_the_pool_whatever_the_input_order(rule, pool, data):
    extra_strategy, apply = RULES[rule]
    values = data.draw(
        st.dictionaries(keys, non_negative if rule in NON_NEGATIVE_ONLY else real, min_size=1, max_size=200),
        label="values",
    )
    if rule in {"split_largest_remainder", "evidence_proportional", "proportional_skill"}:
        assume(any(exact(value) > 0 for value in values.values()))
    extra = data.draw(extra_strategy, label="extra")
    payouts = apply(pool, values, extra)
    check_payouts(pool, payouts, values)
    check_ties(payouts, values)
    check_monotone(payouts, values, scores=rule not in NON_NEGATIVE_ONLY)
    # The same answer, tie-breaking cents included, for any order of the input.
    assert apply(pool, shuffled(data, values), extra) == payouts


def ulps_away(value: float, steps: int) -> float:
    for _ in range(abs(steps)):
        value = math.nextafter(value, math.copysign(math.inf, steps))
    return value


# Scores on a few well-separated levels (the level's float, as the engine would print it) with float noise of up to
# 16 units in the last place added: what one distribution entered in several forms scores.
noisy_levels = st.dictionaries(
    keys,
    st.tuples(st.sampled_from([-3.5, -1.0, 0.0, 1e-3, 0.25, 1.0, 2.5, 1e6]), st.integers(-16, 16)),
    min_size=1,
    max_size=60,
)


@pytest.mark.parametrize("rule", ["winner_takes_all", "top_k"])
@property_settings
@given(pool=pools, levels=noisy_levels, data=st.data())
def test_float_noise_below_the_tolerance_changes_no_rank_payout(rule, pool, levels, data):
    extra_strategy, apply = RULES[rule]
    extra = data.draw(extra_strategy, label="extra")
    noisy = {key: ulps_away(level, steps) for key, (level, steps) in levels.items()}
    exact_levels = {key: level for key, (level, _) in levels.items()}
    assert apply(pool, noisy, extra) == apply(pool, exact_levels, extra)


@property_settings
@given(pool=pools, levels=noisy_levels, power=powers)
def test_float_noise_below_the_tolerance_gives_equal_skill_equal_pay(pool, levels, power):
    assume(any(level > 0 for level, _ in levels.values()))
    noisy = {key: ulps_away(level, steps) for key, (level, steps) in levels.items()}
    payouts = proportional_skill(pool, noisy, power=power)
    check_payouts(pool, payouts, noisy)
    by_level = defaultdict(list)
    for key, (level, _) in levels.items():
        by_level[level].append(key)
    for level, group in by_level.items():
        group_amounts = [payouts[key] for key in sorted(group, key=documented_order)]
        # Zero and below is never paid, however close to a positive skill the noise takes it.
        if level <= 0:
            assert all(payouts[key] == 0 or exact(noisy[key]) > 0 for key in group)
            continue
        assert max(group_amounts) - min(group_amounts) <= CENT
        assert group_amounts == sorted(group_amounts, reverse=True)


@property_settings
@given(pool=pools, weights=st.dictionaries(keys, non_negative, min_size=1, max_size=200))
def test_it_pays_each_weight_its_exact_share_give_or_take_a_cent(pool, weights):
    total = sum(exact(w) for w in weights.values())
    assume(total > 0)
    payouts = split_largest_remainder(pool, weights)
    for key, weight in weights.items():
        quota = Fraction(pool) * 100 * exact(weight) / total
        assert Fraction(payouts[key]) * 100 in {math.floor(quota), math.ceil(quota)}


@property_settings
@given(pool=pools, data=st.data())
def test_it_keeps_only_entries_that_clear_min_payout(pool, data):
    skills = data.draw(st.dictionaries(keys, real, min_size=1, max_size=50), label="skills")
    positive = [exact(s) for s in skills.values() if exact(s) > 0]
    assume(positive)
    # The best entry's share is at least pool / (number of positive entries), so this minimum is always cleared
    # by somebody.
    ceiling = int(pool * 100) // len(positive)
    min_payout = Decimal(data.draw(st.integers(0, ceiling), label="min_payout cents")) / 100
    payouts = proportional_skill(pool, skills, min_payout=min_payout)
    check_payouts(pool, payouts, skills)
    check_ties(payouts, skills)
    for key, skill in skills.items():
        assert payouts[key] == 0 or (exact(skill) > 0 and payouts[key] >= min_payout)


# --- refused input ------------------------------------------------------------------------------------------------

REFUSED = [
    ("negative pool", lambda: split_largest_remainder(D("-0.01"), {"a": 1}), "pool"),
    ("fraction of a cent", lambda: split_largest_remainder(D("1.005"), {"a": 1}), "pool"),
    ("NaN pool", lambda: winner_takes_all(D("NaN"), {"a": 1}), "pool"),
    ("infinite pool", lambda: winner_takes_all(D("Infinity"), {"a": 1}), "pool"),
    ("float pool", lambda: winner_takes_all(100.0, {"a": 1}), "pool"),
    ("unparsable pool", lambda: winner_takes_all("ten", {"a": 1}), "pool"),
    ("negative weight", lambda: split_largest_remainder(D("1"), {"a": 1, "b": -1}), "weights"),
    ("NaN weight", lambda: evidence_proportional(D("1"), {"a": float("nan")}), "weights"),
    ("infinite weight", lambda: evidence_proportional(D("1"), {"a": float("inf")}), "weights"),
    ("Decimal NaN weight", lambda: evidence_proportional(D("1"), {"a": D("NaN")}), "weights"),
    ("bool weight", lambda: evidence_proportional(D("1"), {"a": True}), "weights"),
    ("text weight", lambda: evidence_proportional(D("1"), {"a": "lots"}), "weights"),
    ("key not a string", lambda: evidence_proportional(D("1"), {1: 1}), "weights"),
    ("no entries", lambda: evidence_proportional(D("1"), {}), "weights"),
    ("all weights zero", lambda: split_largest_remainder(D("1"), {"a": 0, "b": 0.0}), "weights"),
    ("all weights zero, zero pool", lambda: split_largest_remainder(D("0"), {"a": 0}), "weights"),
    ("not a mapping", lambda: split_largest_remainder(D("1"), [("a", 1)]), "weights"),
    ("NaN score", lambda: winner_takes_all(D("1"), {"a": float("nan")}), "scores"),
    ("infinite score", lambda: top_k(D("1"), {"a": float("-inf")}, [1]), "scores"),
    ("no scores", lambda: winner_takes_all(D("1"), {}), "scores"),
    ("k < 1", lambda: top_k(D("1"), {"a": 1}, []), "shares"),
    ("shares not a list", lambda: top_k(D("1"), {"a": 1}, "0.5,0.5"), "shares"),
    ("shares over 1", lambda: top_k(D("1"), {"a": 1}, [0.6, 0.5]), "shares"),
    ("shares under 1", lambda: top_k(D("1"), {"a": 1}, [0.5, 0.4999]), "shares"),
    ("negative share", lambda: top_k(D("1"), {"a": 1}, [1.2, -0.2]), "shares"),
    ("increasing shares", lambda: top_k(D("1"), {"a": 1}, [0.3, 0.7]), "shares"),
    ("NaN share", lambda: top_k(D("1"), {"a": 1}, [float("nan")]), "shares"),
    ("NaN skill", lambda: proportional_skill(D("1"), {"a": float("nan")}), "skills"),
    ("nobody skilled", lambda: proportional_skill(D("1"), {"a": 0, "b": -1}), "skills"),
    ("zero power", lambda: proportional_skill(D("1"), {"a": 1}, power=0), "power"),
    ("NaN power", lambda: proportional_skill(D("1"), {"a": 1}, power=float("nan")), "power"),
    ("huge power", lambda: proportional_skill(D("1"), {"a": 1}, power=101), "power"),
    ("huge pool", lambda: winner_takes_all(D("1e15"), {"a": 1}), "pool"),
    ("huge Decimal weight", lambda: evidence_proportional(D("1"), {"a": D("1e999999999")}), "weights"),
    ("tiny Decimal skill", lambda: proportional_skill(D("1"), {"a": D("1e-1001")}), "skills"),
    ("negative min_payout", lambda: proportional_skill(D("1"), {"a": 1}, min_payout=D("-1")), "min_payout"),
    (
        "min_payout above pool",
        lambda: proportional_skill(D("1"), {"a": 1}, min_payout=D("1.01")),
        "min_payout",
    ),
]


@pytest.mark.parametrize(("case", "call", "field"), REFUSED, ids=[case for case, _, _ in REFUSED])
def test_it_refuses_bad_input_naming_the_field(case, call, field):
    with pytest.raises(AllocationError) as raised:
        call()
    assert raised.value.field == field
    assert str(raised.value) == f"{field}: {raised.value.message}"
    assert isinstance(raised.value, ValueError)


def test_it_accepts_shares_that_sum_to_one_within_float_noise():
    assert sum([0.1] * 10) != 1
    assert amounts(top_k(D("1"), {"a": 1}, [0.1] * 10)) == {"a": "1.00"}


def test_it_accepts_a_pool_with_trailing_zeros_or_as_text():
    assert amounts(winner_takes_all(D("1.500"), {"a": 1})) == {"a": "1.50"}
    assert amounts(winner_takes_all("12.30", {"a": 1})) == {"a": "12.30"}
    assert amounts(winner_takes_all(7, {"a": 1})) == {"a": "7.00"}


ALLOCATE = {
    "accuracy_pool": D("10"),
    "evidence_pool": D("10"),
    "accuracy_rule": "winner_takes_all",
    "evidence_rule": "proportional",
    "skills": {"a": 1},
    "weights": {"e": 1},
}
ALLOCATE_REFUSED = [
    ({"accuracy_rule": "best_guess"}, "accuracy_rule"),
    ({"evidence_rule": "lottery"}, "evidence_rule"),
    ({"accuracy_pool": D("-5")}, "accuracy_pool"),
    ({"evidence_pool": D("0.001")}, "evidence_pool"),
    ({"accuracy_rule": "top_k"}, "shares"),
    ({"shares": [1]}, "shares"),
    ({"accuracy_rule": "top_k", "shares": [0.2, 0.2]}, "shares"),
    ({"evidence_rule": "draw"}, "seed"),
    ({"seed": "ab" * 32}, "seed"),
    ({"evidence_rule": "draw", "seed": "not hex"}, "seed"),
    ({"skills": {"a": float("nan")}}, "skills"),
    ({"accuracy_rule": "proportional_skill", "skills": {"a": -1}}, "skills"),
    ({"accuracy_rule": "proportional_skill", "power": -1}, "power"),
    ({"accuracy_rule": "proportional_skill", "min_payout": D("11")}, "min_payout"),
    ({"weights": {"e": -1}}, "weights"),
    ({"weights": {"e": 0}}, "weights"),
    ({"evidence_rule": "draw", "seed": "ab" * 32, "weights": {"e": 0}}, "weights"),
]


@pytest.mark.parametrize(("changes", "field"), ALLOCATE_REFUSED)
def test_it_refuses_bad_allocate_arguments_naming_the_field(changes, field):
    with pytest.raises(AllocationError) as raised:
        allocate(**{**ALLOCATE, **changes})
    assert raised.value.field == field
