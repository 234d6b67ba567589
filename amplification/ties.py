"""When two scores are a tie: the one rule behind ranks, winners and prize cut-offs.

The same distribution entered two ways (three quantiles, or a low/high interval) reaches the grid through different
float arithmetic and scores a few units in the last place apart (KL 0.16683660389533728 and 0.16683660389533816).
Comparing with ``==`` would rank them 1 and 2 and pay one of them the whole of a winner-takes-all pool, so scores
this close are ties.

**Tolerance.** Two scores are within tolerance of a reference value ``v`` when they differ from it by at most
``max(TIE_ABSOLUTE, TIE_RELATIVE * |v|)``:

- ``TIE_RELATIVE = 1e-9``. Float noise between input forms is ~1e-15 relative: sums over 202 cells and the
  fits' logs and exps lose a few ulps, at most ~1e-13. 1e-9 is four orders of magnitude above that. It is also far
  below any difference that says something about a forecast: a KL on the 201-point grid is itself an approximation
  good to a few significant digits, not to nine. It is also the tolerance allocation.py already allows on shares
  that sum to 1.
- ``TIE_ABSOLUTE = 1e-12`` nats, for scores near 0, where a relative tolerance shrinks to nothing (the KL of a
  prediction equal to the posterior, the skill of a prediction equal to the prior). It is the engine's noise floor:
  scoring.SKILL_ROUNDOFF already reports a skill within 1e-12 of 0 as exactly 0.

**Grouping (transitive, deterministic, bounded).** Sort best first. The best score opens a group. Each next score
joins the current group if it is within tolerance of the group's *first* (best) score, else it opens a new group.
Everyone in a group is tied. The groups depend only on the values, never on the input order. No group is wider
than one tolerance: it cannot chain along a run of scores each a hair from the next.

allocation.py applies the same rule with exact fractions to the scores it is given (docs/prizes.md, "Ties").
"""

from __future__ import annotations

import numpy as np

TIE_RELATIVE = 1e-9
TIE_ABSOLUTE = 1e-12  # nats; equal to scoring.SKILL_ROUNDOFF (tests/engine/test_ties.py keeps the two in step)


def _group_starts(ascending: np.ndarray) -> np.ndarray:
    """For values sorted ascending (lowest is best; NaN last, as np.sort puts it), True where a tie group starts."""
    n = len(ascending)
    starts = np.ones(n, dtype=bool)
    if n < 2:
        return starts
    with np.errstate(invalid="ignore"):
        tolerance = np.maximum(TIE_ABSOLUTE, TIE_RELATIVE * np.abs(ascending))
        # The largest value a group opened by each value takes in. An infinity reaches only itself (-inf + inf
        # would be NaN).
        reach = np.where(np.isfinite(ascending), ascending + tolerance, ascending)
        # reach never decreases with the value, so a value beyond its predecessor's reach is beyond the reach of
        # whatever group the predecessor is in: it certainly opens a group. NaN compares False and is settled below.
        starts[1:] = ascending[1:] > reach[:-1]
    if starts.all():
        return starts  # no two scores within tolerance: the usual case, and no loop at all
    # A value within its predecessor's reach opens a group or not depending on where the current group began: walk
    # from group start to group start, only over the stretches between two certain starts that contain such values.
    # Each step is one jump to the first value beyond the group's reach, so the walk costs one step per group there.
    following = np.searchsorted(ascending, reach, side="right")
    certain = np.flatnonzero(starts)
    stretch_ends = np.append(certain[1:], n)
    unsettled = stretch_ends - certain >= 2
    for first, end in zip(certain[unsettled].tolist(), stretch_ends[unsettled].tolist(), strict=True):
        # following[first] <= end: the value at `end` is beyond the reach of everything before it.
        start = int(following[first])
        while start < end:
            starts[start] = True
            start = int(following[start])
    return starts


def competition_ranks(values: np.ndarray, *, higher_is_better: bool = False) -> np.ndarray:
    """Competition ranking (1, 2, 2, 4), best first, with scores within tolerance of their group's best tied.

    ``values`` is an (n,) array: lowest is best by default (KL), highest with ``higher_is_better`` (skill). Returns
    int64 ranks in the input's order. O(n log n): a sort and a binary search. Values exactly equal always tie.
    """
    values = np.asarray(values, dtype=np.float64)
    # Negating is exact, and the tolerance depends only on |value|, so "highest first" groups exactly alike.
    keys = -values if higher_is_better else values
    order = np.argsort(keys, kind="stable")
    starts = _group_starts(keys[order])
    rank_sorted = np.maximum.accumulate(np.where(starts, np.arange(1, len(keys) + 1), 0))
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[order] = rank_sorted
    return ranks
