"""Prize allocation: how a pool of money is split among entries, exact to the cent.

Plain Python, no Django: the service layer turns rows into ``{key: number}`` mappings, calls these functions and
stores the result. The rules and every decision taken here are written up for organizers and auditors in
``docs/prizes.md``; keep the two in step.

Conventions shared by every function:

- Money is ``Decimal``. A pool is a ``Decimal`` (or an ``int``, or a decimal string such as ``"100.00"``) that is
  finite, >= 0 and a whole number of cents; floats are refused because ``0.1`` is not a tenth. Every payout is a
  ``Decimal`` with exactly two places, and the payouts of one pool sum exactly to it.
- Entries are named by string keys (prediction ids, user names). The result has one item per key given, in ascending
  key order, and never depends on the order the input mapping happens to have. **Key order** (``key_order``) is
  what breaks a tie for the odd cent: plain string order (Unicode code points), except that two runs of ASCII digits
  met at the same point compare by numeric value, so prediction "9" comes before "10" and "comment-4" before
  "comment-23"; keys still equal after that ("7" and "07") fall back to plain string order. The draw is the one
  exception: its published algorithm (``DRAW_ALGORITHM``) lists entries in plain string order, which changes
  nobody's chance of winning.
- Scores (``winner_takes_all``, ``top_k``, ``proportional_skill``) within a tolerance of each other are ties, so that
  float noise never decides who is paid: sorted best first, a score joins the group of the best score before it if
  it is at most ``max(1e-12, 1e-9 * |best|)`` below it, else opens a new group (amplification/ties.py says why these
  numbers; the check here is exact). Every score in a group is treated as the group's best. Weights are not scores:
  an expert's influence weights are split exactly as given.
- Numbers are turned into exact fractions before any arithmetic, so no float rounding decides a cent. A float is
  read as the decimal its ``repr`` shows (``0.1`` means exactly 1/10), which is what the person who typed it meant;
  ``Decimal``, ``int`` and ``Fraction`` are exact already.
- Bad input raises ``AllocationError(field, message)``. So does a pool that cannot be paid to anybody (no positive
  weight, nobody with positive skill, nobody clearing ``min_payout``), whatever the pool's size: the caller decides
  what to tell the organizer rather than silently paying nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import numbers
import re
import secrets
from collections.abc import Mapping, Sequence
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from typing import Any

from .ties import TIE_ABSOLUTE, TIE_RELATIVE

__all__ = [
    "ACCURACY_RULES",
    "DRAW_ALGORITHM",
    "EVIDENCE_RULES",
    "AllocationError",
    "allocate",
    "draw_transcript",
    "draw_winner",
    "evidence_proportional",
    "key_order",
    "proportional_skill",
    "seed_commitment",
    "seed_new",
    "split_largest_remainder",
    "top_k",
    "verify_commitment",
    "winner_takes_all",
]

ACCURACY_RULES = ("winner_takes_all", "top_k", "proportional_skill")
EVIDENCE_RULES = ("proportional", "draw")

# Name and version of the draw procedure, stored in every transcript: if the procedure ever changes, old
# transcripts still say which one produced them.
DRAW_ALGORITHM = "sha256-millionths-rejection-v1"

# The sum of shares given to top_k may be off from 1 by float noise ([0.5, 0.3, 0.2] as floats); more than this is
# a mistake, not noise.
SHARES_TOLERANCE = Fraction(1, 10**9)

# The largest pool: twelve digits of units and two of cents (what a 14,2 decimal column holds). More is a typo.
MAX_POOL = Decimal("999999999999.99")
# Numbers given as Decimals or strings must lie within 1e-1000..1e1000 (or be 0); floats always do.
MAX_DECIMAL_EXPONENT = 1000

# proportional_skill's power: beyond this the weights are all but winner-takes-all anyway, and exact powers of
# skills get needlessly huge.
MAX_POWER = 100
_POWER_CONTEXT = Context(
    prec=50, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, DivisionByZero, Overflow]
)

# Draw weights are counted in millionths: the integer weights are what the published transcript shows and what an
# auditor re-adds by hand.
DRAW_WEIGHT_SCALE = 10**6
# With the total below 2**128, a digest is rejected (and the counter bumped) with probability below 2**-128.
DRAW_MAX_TOTAL = 2**128
_DIGEST_SPACE = 2**256

# The same tolerance as the ranks (amplification/ties.py), as exact fractions: 1e-9 and 1e-12 exactly.
_TIE_RELATIVE = Fraction(Decimal(repr(TIE_RELATIVE)))
_TIE_ABSOLUTE = Fraction(Decimal(repr(TIE_ABSOLUTE)))

_DIGIT_RUN_RE = re.compile(r"([0-9]+)")
_ZERO = ord("0")
_SEED_RE = re.compile(r"[0-9a-f]{32,}")
_HEX64_RE = re.compile(r"[0-9a-fA-F]{64}")


class AllocationError(ValueError):
    """Input no allocation can be computed from. ``field`` names the argument (the API field), ``message`` the rule."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- validation and exact conversion -------------------------------------------------------------------------------


def _pool_cents(pool: Any, field: str) -> int:
    if isinstance(pool, bool | float | Fraction):
        raise AllocationError(field, f"must be a Decimal or a decimal string, not {type(pool).__name__}")
    if isinstance(pool, str):
        try:
            pool = Decimal(pool.strip())
        except InvalidOperation:
            raise AllocationError(field, f"{pool!r} is not a decimal number") from None
    elif isinstance(pool, numbers.Integral):
        pool = Decimal(int(pool))
    if not isinstance(pool, Decimal):
        raise AllocationError(field, f"must be a Decimal or a decimal string, not {type(pool).__name__}")
    if not pool.is_finite():
        raise AllocationError(field, f"must be finite, got {pool}")
    if pool < 0:
        raise AllocationError(field, f"must be >= 0, got {pool}")
    if pool > MAX_POOL:
        raise AllocationError(field, f"must be at most {MAX_POOL}, got {pool}")
    cents = Fraction(pool) * 100
    if cents.denominator != 1:
        raise AllocationError(
            field, f"must be a whole number of cents (at most 2 decimal places), got {pool}"
        )
    return int(cents)


def _money(cents: int) -> Decimal:
    # Built from a string, which Decimal reads exactly, whatever the context precision.
    return Decimal(f"{cents // 100}.{cents % 100:02d}")


def _exact(value: Any, field: str, what: str) -> Fraction:
    """An exact, finite Fraction for a number; ``what`` names it in the error (e.g. "entry 'a'")."""
    if isinstance(value, bool):
        raise AllocationError(field, f"{what} must be a number, got {value!r}")
    if isinstance(value, Fraction | int):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise AllocationError(field, f"{what} must be finite, got {value}")
        _check_magnitude(value, field, what)
        return Fraction(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise AllocationError(field, f"{what} is not a number: {value!r}") from None
        return _exact(parsed, field, what)
    if isinstance(value, numbers.Integral):
        return Fraction(int(value))
    if isinstance(value, numbers.Real):  # float, numpy floats
        as_float = float(value)
        if not math.isfinite(as_float):
            raise AllocationError(field, f"{what} must be finite, got {as_float}")
        # repr: 0.1 is read as 1/10, not as the binary double nearest to it.
        return Fraction(Decimal(repr(as_float)))
    raise AllocationError(field, f"{what} must be a number, got {type(value).__name__}")


def _check_magnitude(value: Decimal, field: str, what: str) -> None:
    # Decimal("1e999999999") is a valid, finite Decimal whose exact Fraction would not fit in memory.
    if value and not -MAX_DECIMAL_EXPONENT <= value.adjusted() <= MAX_DECIMAL_EXPONENT:
        raise AllocationError(
            field, f"{what} is out of range (1e-{MAX_DECIMAL_EXPONENT} to 1e{MAX_DECIMAL_EXPONENT})"
        )


def _entries(values: Any, field: str, *, non_negative: bool) -> dict[str, Fraction]:
    """Validate a ``{key: number}`` mapping into exact values, keyed and ordered by ascending key."""
    if not isinstance(values, Mapping):
        raise AllocationError(field, f"must be a mapping of key to number, not {type(values).__name__}")
    if not values:
        raise AllocationError(field, "no entries")
    out: dict[str, Fraction] = {}
    for key in sorted(_checked_keys(values, field), key=key_order):
        value = _exact(values[key], field, f"entry {key!r}")
        if non_negative and value < 0:
            raise AllocationError(field, f"entry {key!r} must be >= 0, got {values[key]}")
        out[key] = value
    return out


def _checked_keys(values: Mapping[Any, Any], field: str) -> list[str]:
    for key in values:
        if not isinstance(key, str):
            raise AllocationError(field, f"keys must be strings, got {key!r}")
    return list(values)


def key_order(key: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Sort key for entry keys: plain string order, except that runs of ASCII digits compare by numeric value.

    ``sorted(["10", "9", "a10", "a2", "b"], key=key_order)`` is ``["9", "10", "a2", "a10", "b"]``. Read left to right,
    each character is a token compared by code point, and a whole run of digits is one token that sits where "0"
    does among the characters (so "/" < "7" < ":" as in string order) and compares with another run by its value:
    (number of significant digits, the digits), without int(), which refuses strings of over 4300 digits. Keys that
    are still equal ("7" and "07") fall back to plain string order, so distinct keys never compare equal.
    """
    tokens: list[tuple[int, int, str]] = []
    # split() with a group alternates text, digits, text, ... (text first, maybe empty).
    for i, part in enumerate(_DIGIT_RUN_RE.split(key)):
        if i % 2:
            digits = part.lstrip("0")
            tokens.append((_ZERO, len(digits), digits))
        else:
            tokens.extend((ord(char), 0, "") for char in part)
    return tuple(tokens), key


def _tie_groups(scores: Mapping[str, Fraction]) -> dict[str, Fraction]:
    """Each key's score replaced by the best score of its tie group (module docstring; docs/prizes.md, "Ties").

    Higher is better. Sorted best first, a score more than ``max(1e-12, 1e-9 * |best|)`` below the best score of the
    current group opens a new group. Exact: no float decides the boundary. Keys come back in the order given.
    """
    best_of: dict[str, Fraction] = {}
    best: Fraction | None = None
    floor = Fraction(0)
    for key in sorted(scores, key=scores.__getitem__, reverse=True):
        score = scores[key]
        if best is None or score < floor:
            best = score
            floor = score - max(_TIE_ABSOLUTE, _TIE_RELATIVE * abs(score))
        best_of[key] = best
    return {key: best_of[key] for key in scores}


# --- the core: largest-remainder rounding ---------------------------------------------------------------------------


def _largest_remainder(
    cents: int, weights: Mapping[str, Fraction], field: str, scores: Mapping[str, Fraction] | None = None
) -> dict[str, Decimal]:
    """Hamilton's method on exact fractions. ``weights`` is validated, non-negative, in ascending key order.

    Each entry gets floor(cents * w / W) cents; the cents left over (fewer than the number of entries) go one each
    to the largest fractional remainders. Equal remainders go to the higher score first, if ``scores`` is given
    (two ranks of top_k with equal shares), then in ascending key order (``key_order``). The rules pass scores
    already grouped by ``_tie_groups``, so two scores a float hair apart count as equal here too.
    """
    total = sum(weights.values(), Fraction(0))
    if total <= 0:
        raise AllocationError(field, "no entry has a positive weight, so the pool cannot be split")
    floors: dict[str, int] = {}
    remainders: list[tuple[Fraction, str]] = []
    for key, weight in weights.items():
        quota = cents * weight / total
        whole = math.floor(quota)
        floors[key] = whole
        remainders.append((quota - whole, key))
    leftover = cents - sum(floors.values())
    # Largest remainder (then score) first; the sort is stable, also with reverse=True, and `weights` is in ascending
    # key order, so what is still equal keeps ascending key order. A zero remainder never gets a cent: leftover <=
    # number of positive remainders.
    if scores is None:
        remainders.sort(key=lambda item: item[0], reverse=True)
    else:
        remainders.sort(key=lambda item: (item[0], scores[item[1]]), reverse=True)
    for _, key in remainders[:leftover]:
        floors[key] += 1
    return {key: _money(amount) for key, amount in floors.items()}


def split_largest_remainder(
    pool: Decimal, weights: Mapping[str, float | Decimal | Fraction | int]
) -> dict[str, Decimal]:
    """Split ``pool`` in proportion to ``weights``, exact to the cent, payouts summing exactly to ``pool``.

    Largest-remainder (Hamilton) rounding in exact rational arithmetic; the odd cents go to the largest remainders,
    ties in remainder to the smallest key by ``key_order`` ("9" before "10"). Equal weights get amounts at most one
    cent apart, the earlier keys the larger. Zero weight gets 0.00. Raises ``AllocationError("weights", ...)`` when
    no weight is positive.
    """
    cents = _pool_cents(pool, "pool")
    return _largest_remainder(cents, _entries(weights, "weights", non_negative=True), "weights")


# --- accuracy rules ---------------------------------------------------------------------------------------------------


def _winner_takes_all(cents: int, scores: dict[str, Fraction], field: str) -> dict[str, Decimal]:
    grouped = _tie_groups(scores)
    best = max(grouped.values())
    weights = {key: Fraction(int(score == best)) for key, score in grouped.items()}
    return _largest_remainder(cents, weights, field)


def winner_takes_all(pool: Decimal, scores: Mapping[str, float | Decimal]) -> dict[str, Decimal]:
    """All of ``pool`` to the highest score (any finite "higher is better" score, negative allowed).

    Entries tied for the best (within the tie tolerance of the best score) split it evenly; the odd cent goes to the
    smallest key by ``key_order``.
    """
    cents = _pool_cents(pool, "pool")
    return _winner_takes_all(cents, _entries(scores, "scores", non_negative=False), "scores")


def _shares(shares: Any, field: str) -> list[Fraction]:
    if isinstance(shares, str | bytes) or not isinstance(shares, Sequence):
        raise AllocationError(field, "must be a list of fractions, e.g. [0.5, 0.3, 0.2]")
    if len(shares) < 1:
        raise AllocationError(field, "needs at least one share (k >= 1)")
    exact = [_exact(share, field, f"share {i + 1}") for i, share in enumerate(shares)]
    for i, share in enumerate(exact):
        if share < 0:
            raise AllocationError(field, f"share {i + 1} must be >= 0, got {shares[i]}")
        if i and share > exact[i - 1]:
            raise AllocationError(field, f"must not increase: share {i + 1} is larger than share {i}")
    total = sum(exact, Fraction(0))
    if abs(total - 1) > SHARES_TOLERANCE:
        raise AllocationError(field, f"must sum to 1, got {float(total)}")
    return exact


def _top_k(cents: int, scores: dict[str, Fraction], shares: list[Fraction], field: str) -> dict[str, Decimal]:
    # Fewer entries than shares: the first len(scores) shares are used, renormalised (the relative weighting of the
    # ranks that exist is kept). Normalising by the exact sum also absorbs float noise in the shares.
    shares = shares[: len(scores)]
    # Scores within the tie tolerance count as their group's best from here on, for the ranks and for the odd cent.
    scores = _tie_groups(scores)
    # Rank best first; the key order within equal scores does not matter, they are pooled below.
    ranked = sorted(scores, key=lambda key: scores[key], reverse=True)
    weights: dict[str, Fraction] = {}
    rank = 0
    while rank < len(ranked):
        end = rank
        while end < len(ranked) and scores[ranked[end]] == scores[ranked[rank]]:
            end += 1
        # Tied entries occupying ranks rank..end-1 pool those ranks' shares (zero past k) and split them evenly.
        pooled = sum(shares[rank:end], Fraction(0)) / (end - rank)
        for key in ranked[rank:end]:
            weights[key] = pooled
        rank = end
    # _largest_remainder divides by the total of the weights, which is the renormalisation.
    return _largest_remainder(cents, {key: weights[key] for key in scores}, field, scores)


def top_k(
    pool: Decimal, scores: Mapping[str, float | Decimal], shares: Sequence[Decimal | float | Fraction]
) -> dict[str, Decimal]:
    """Pay ranks 1..k the fractions ``shares`` (k = len(shares)) of ``pool``, ranking by score, highest first.

    ``shares`` must be non-negative, non-increasing and sum to 1 (within 1e-9). Entries tied on score (within the
    tie tolerance of their group's best) pool the shares of all the ranks they occupy and split them evenly (two
    tied for 2nd with shares [0.5, 0.3, 0.2] get 0.25 each). With fewer entries than k, the unused shares are
    dropped and the rest renormalised to the pool. An odd cent between equal shares goes to the higher score, then
    to the smaller key by ``key_order``.
    """
    cents = _pool_cents(pool, "pool")
    exact_shares = _shares(shares, "shares")
    return _top_k(cents, _entries(scores, "scores", non_negative=False), exact_shares, "scores")


def _skill_weights(skills: dict[str, Fraction], power: Fraction, field: str) -> dict[str, Fraction]:
    weights: dict[str, Fraction] = {}
    for key, skill in skills.items():
        positive = max(skill, Fraction(0))
        if positive == 0 or power.denominator == 1:
            # An integer power (1 is the common case) is exact.
            weights[key] = positive**power.numerator
        else:
            # A fractional power is irrational in general: 50 significant digits, with an exponent range so wide
            # that nothing underflows to 0 or overflows (a float would: 1e-200 ** 2 is 0.0).
            with localcontext(_POWER_CONTEXT) as context:
                base = context.divide(Decimal(positive.numerator), Decimal(positive.denominator))
                exponent = context.divide(Decimal(power.numerator), Decimal(power.denominator))
                weights[key] = Fraction(context.power(base, exponent))
    if not any(weights.values()):
        raise AllocationError(field, "nobody has a positive skill, so the pool cannot be split by skill")
    return weights


def _proportional_skill(
    cents: int, skills: dict[str, Fraction], power: Fraction, min_cents: int, field: str
) -> dict[str, Decimal]:
    # Positive skills within the tie tolerance count as their group's best: equal weights, dropped below min_payout
    # together, and the odd cent by key, not by a float hair. Zero stays a hard line (skill <= 0 is never paid);
    # the engine already reports a skill within 1e-12 of 0 as exactly 0.
    positive = _tie_groups({key: skill for key, skill in skills.items() if skill > 0})
    skills = {key: positive.get(key, skill) for key, skill in skills.items()}
    weights = _skill_weights(skills, power, field)
    active = {key: weight for key, weight in weights.items() if weight > 0}
    # Drop the lowest-weight entries (a whole tie group at once, so tied entries are treated alike) while their exact
    # share is below min_payout, renormalising after each drop. One level at a time, so nobody is dropped who clears
    # min_payout once those below them are gone. Exact shares, not rounded cents, decide, so rounding never drops
    # anyone; a kept entry's exact share is >= min_payout, hence so is its floor in cents.
    levels: dict[Fraction, Fraction] = {}  # weight -> total weight of the entries at that weight
    for weight in active.values():
        levels[weight] = levels.get(weight, Fraction(0)) + weight
    total = sum(levels.values(), Fraction(0))
    floor = None  # the lowest weight kept
    for lowest in sorted(levels):
        if cents * lowest / total >= min_cents:
            floor = lowest
            break
        total -= levels[lowest]
    active = {key: weight for key, weight in active.items() if floor is not None and weight >= floor}
    if not active:
        raise AllocationError(
            "min_payout",
            f"nobody would receive min_payout ({_money(min_cents)}) from a pool of {_money(cents)}",
        )
    return _largest_remainder(cents, {key: active.get(key, Fraction(0)) for key in skills}, field, skills)


def check_power(power: Any) -> Fraction:
    """proportional_skill's power as an exact fraction: a number in (0, MAX_POWER]. AllocationError otherwise."""
    value = _exact(power, "power", "power")
    if not 0 < value <= MAX_POWER:
        raise AllocationError("power", f"must be > 0 and <= {MAX_POWER}, got {power}")
    return value


def proportional_skill(
    pool: Decimal,
    skills: Mapping[str, float | Decimal],
    power: float = 1.0,
    min_payout: Decimal = Decimal("0"),
) -> dict[str, Decimal]:
    """Split ``pool`` in proportion to ``max(skill, 0) ** power``.

    Entries with skill <= 0 get 0.00. Positive skills within the tie tolerance of their group's best count as that
    best (equal weights). Entries whose exact share would be below ``min_payout`` drop out (get 0.00)
    and the pool is renormalised over the rest, lowest weights first, until every remaining share clears it.
    Raises ``AllocationError("skills")`` if nobody has positive skill and ``AllocationError("min_payout")`` if
    nobody would clear ``min_payout``.
    """
    cents = _pool_cents(pool, "pool")
    exact_power = check_power(power)
    min_cents = _pool_cents(min_payout, "min_payout")
    return _proportional_skill(
        cents, _entries(skills, "skills", non_negative=False), exact_power, min_cents, "skills"
    )


# --- evidence rules ---------------------------------------------------------------------------------------------------


def evidence_proportional(pool: Decimal, weights: Mapping[str, float | Decimal]) -> dict[str, Decimal]:
    """Split ``pool`` in proportion to the expert's influence weights (finite, >= 0).

    See ``split_largest_remainder``."""
    return split_largest_remainder(pool, weights)


def seed_new() -> str:
    """A fresh draw seed: 64 lowercase hex characters (256 bits) from the OS's secure random source."""
    return secrets.token_hex(32)


def _seed(seed: Any) -> str:
    if not isinstance(seed, str) or not _SEED_RE.fullmatch(seed):
        raise AllocationError(
            "seed", "must be at least 32 lowercase hexadecimal characters (seed_new gives 64)"
        )
    return seed


def seed_commitment(seed: str) -> str:
    """The commitment published before the draw: SHA-256 of the seed's ASCII bytes, as 64 lowercase hex digits."""
    return hashlib.sha256(_seed(seed).encode("ascii")).hexdigest()


def verify_commitment(seed: str, commitment: str) -> bool:
    """Whether ``seed`` is the one committed to. False (not an error) for a malformed seed or commitment."""
    if not isinstance(commitment, str) or not _HEX64_RE.fullmatch(commitment):
        return False
    try:
        expected = seed_commitment(seed)
    except AllocationError:
        return False
    # Constant time, so how long a wrong guess takes says nothing about how much of it was right.
    return hmac.compare_digest(expected.encode("ascii"), commitment.lower().encode("ascii"))


def _draw_weights(weights: Any, field: str) -> list[tuple[str, str, int]]:
    """(key, weight as read, integer millionths) for every entry, in ascending key order."""
    if not isinstance(weights, Mapping):
        raise AllocationError(field, f"must be a mapping of key to number, not {type(weights).__name__}")
    if not weights:
        raise AllocationError(field, "no entries")
    out = []
    # Plain string order, not key_order: it is part of the published algorithm (sha256-millionths-rejection-v1, which
    # an auditor re-runs with sorted()), and the order of the entries changes nobody's chance of being drawn.
    for key in sorted(_checked_keys(weights, field)):
        if "\n" in key:
            # Lines of the hashed message are "key:weight"; a newline in a key would make two listings hash alike.
            raise AllocationError(field, f"key {key!r} contains a newline")
        try:
            key.encode()
        except UnicodeEncodeError:
            raise AllocationError(field, f"key {key!r} is not valid Unicode text") from None
        raw = weights[key]
        if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str | numbers.Real):
            raise AllocationError(field, f"entry {key!r} must be a number, got {raw!r}")
        try:
            read = Decimal(str(raw).strip())
        except InvalidOperation:
            raise AllocationError(field, f"entry {key!r} is not a number: {raw!r}") from None
        if not read.is_finite():
            raise AllocationError(field, f"entry {key!r} must be finite, got {raw}")
        if read < 0:
            raise AllocationError(field, f"entry {key!r} must be >= 0, got {raw}")
        _check_magnitude(read, field, f"entry {key!r}")
        # round() of a Fraction is round-half-even, and exact at any size (Decimal arithmetic would round to 28
        # digits first).
        out.append((key, str(read), round(Fraction(read) * DRAW_WEIGHT_SCALE)))
    return out


def _draw(seed: Any, weights: Any, field: str) -> dict[str, Any]:
    seed = _seed(seed)
    read = _draw_weights(weights, field)
    entries = [(key, units) for key, _, units in read if units > 0]
    total = sum(units for _, units in entries)
    if total == 0:
        raise AllocationError(
            field, "no entry has a weight above 0.0000005 (half a millionth), so nobody can be drawn"
        )
    if total >= DRAW_MAX_TOTAL:
        raise AllocationError(field, "total weight is too large for the draw; scale the weights down")
    message = seed + "\n" + "\n".join(f"{key}:{units}" for key, units in entries)
    # Rejection sampling: only digests below the largest multiple of the total that fits in 256 bits are used, so
    # every r in [0, total) is equally likely (a plain digest % total would favour small r).
    limit = _DIGEST_SPACE - _DIGEST_SPACE % total
    rejected = []
    counter = 0
    while True:
        digest = hashlib.sha256(f"{message}\n{counter}".encode()).digest()
        value = int.from_bytes(digest, "big")
        if value < limit:
            break
        rejected.append(digest.hex())
        counter += 1
    r = value % total
    cumulative = 0
    for key, units in entries:
        cumulative += units
        if cumulative > r:
            winner = key
            break
    return {
        "algorithm": DRAW_ALGORITHM,
        "seed": seed,
        "commitment": seed_commitment(seed),
        "entries": [{"key": key, "weight": weight, "units": units} for key, weight, units in read],
        "excluded": [key for key, _, units in read if units == 0],
        "total": total,
        "message": message,
        "limit": limit,
        "rejected_digests": rejected,
        "counter": counter,
        "digest": digest.hex(),
        "value": value,
        "r": r,
        "winner": winner,
    }


def draw_winner(seed: str, weights: Mapping[str, Decimal | str | float]) -> str:
    """The key drawn with chance proportional to weight, reproducibly from ``seed``; see ``draw_transcript``."""
    return _draw(seed, weights, "weights")["winner"]


def draw_transcript(seed: str, weights: Mapping[str, Decimal | str | float]) -> dict[str, Any]:
    """Run the draw and return every intermediate value, for the audit page. The algorithm (docs/prizes.md):

    1. Sort the entries by key (plain Python string order, not ``key_order``). Read each weight w as
       ``Decimal(str(w))`` and turn it into integer millionths, ``units = round-half-even(w * 10**6)`` computed
       exactly. Drop entries with 0 units.
    2. ``total`` = sum of units. ``message = seed + "\\n" + "\\n".join(f"{key}:{units}")`` over the kept entries.
    3. ``limit = 2**256 - 2**256 % total``. For counter = 0, 1, 2, ...: ``value`` = SHA-256 of
       ``message + "\\n" + str(counter)`` (UTF-8) read as a big-endian integer; stop at the first ``value < limit``.
    4. ``r = value % total``; the winner is the first kept entry whose running total of units exceeds ``r``.

    Keys ``entries`` (every entry with its weight as read and its units), ``excluded`` (0 units), ``total``,
    ``message``, ``limit``, ``rejected_digests``, ``counter``, ``digest`` (hex), ``value``, ``r``, ``winner``, plus
    ``algorithm``, ``seed`` and ``commitment``. Raises ``AllocationError`` if no entry has a positive weight.
    """
    return _draw(seed, weights, "weights")


# --- both pools at once -------------------------------------------------------------------------------------------


def allocate(
    *,
    accuracy_pool: Decimal,
    evidence_pool: Decimal,
    accuracy_rule: str,
    evidence_rule: str,
    skills: Mapping[str, float | Decimal],
    weights: Mapping[str, float | Decimal],
    shares: Sequence[Decimal | float] | None = None,
    power: float = 1.0,
    min_payout: Decimal = Decimal("0"),
    seed: str | None = None,
) -> dict[str, Any]:
    """Both prizes of a question: ``{"accuracy": payouts, "evidence": payouts, "draw": transcript or None}``.

    ``accuracy_rule``: ``winner_takes_all`` or ``top_k`` (ranking by ``skills``; ``shares`` required for, and only
    accepted with, ``top_k``) or ``proportional_skill`` (``power``, ``min_payout``). ``evidence_rule``:
    ``proportional`` to ``weights``, or ``draw``: the whole evidence pool to one entry drawn with chance
    proportional to ``weights`` from ``seed`` (required for, and only accepted with, ``draw``). Checking ``seed``
    against its published commitment is the caller's job (``verify_commitment``). Errors name the argument.
    """
    if accuracy_rule not in ACCURACY_RULES:
        raise AllocationError(
            "accuracy_rule", f"must be one of {', '.join(ACCURACY_RULES)}; got {accuracy_rule!r}"
        )
    if evidence_rule not in EVIDENCE_RULES:
        raise AllocationError(
            "evidence_rule", f"must be one of {', '.join(EVIDENCE_RULES)}; got {evidence_rule!r}"
        )
    accuracy_cents = _pool_cents(accuracy_pool, "accuracy_pool")
    evidence_cents = _pool_cents(evidence_pool, "evidence_pool")
    if (shares is not None) != (accuracy_rule == "top_k"):
        raise AllocationError("shares", "is required with, and only used by, accuracy_rule top_k")
    if (seed is not None) != (evidence_rule == "draw"):
        raise AllocationError("seed", "is required with, and only used by, evidence_rule draw")

    accuracy = _accuracy(accuracy_rule, accuracy_cents, skills, shares, power, min_payout)
    evidence, transcript = _evidence(evidence_rule, evidence_cents, weights, seed)
    return {"accuracy": accuracy, "evidence": evidence, "draw": transcript}


def _accuracy(rule: str, cents: int, skills: Any, shares: Any, power: Any, min_payout: Any) -> dict[str, Decimal]:
    if rule == "winner_takes_all":
        return _winner_takes_all(cents, _entries(skills, "skills", non_negative=False), "skills")
    if rule == "top_k":
        return _top_k(cents, _entries(skills, "skills", non_negative=False), _shares(shares, "shares"), "skills")
    return _proportional_skill(cents, _entries(skills, "skills", non_negative=False), check_power(power),
                               _pool_cents(min_payout, "min_payout"), "skills")


def _evidence(rule: str, cents: int, weights: Any, seed: Any) -> tuple[dict[str, Decimal], dict[str, Any] | None]:
    if rule == "proportional":
        return _largest_remainder(cents, _entries(weights, "weights", non_negative=True), "weights"), None
    transcript = _draw(seed, weights, "weights")
    return {key: _money(cents if key == transcript["winner"] else 0) for key in sorted(weights, key=key_order)}, \
        transcript


def allocate_accuracy(
    rule: str,
    pool: Decimal,
    skills: Mapping[str, float | Decimal],
    *,
    shares: Sequence[Decimal | float | str] | None = None,
    power: Any = 1.0,
    min_payout: Decimal = Decimal("0"),
) -> dict[str, Decimal]:
    """The accuracy pool alone, by ``rule`` (one of ACCURACY_RULES): what ``allocate`` does for that pool."""
    if rule not in ACCURACY_RULES:
        raise AllocationError("accuracy_rule", f"must be one of {', '.join(ACCURACY_RULES)}; got {rule!r}")
    return _accuracy(rule, _pool_cents(pool, "pool"), skills, shares, power, min_payout)


def allocate_evidence(
    rule: str, pool: Decimal, weights: Mapping[str, float | Decimal], *, seed: str | None = None
) -> tuple[dict[str, Decimal], dict[str, Any] | None]:
    """The evidence pool alone, by ``rule`` (one of EVIDENCE_RULES): (payouts, the draw's transcript or None)."""
    if rule not in EVIDENCE_RULES:
        raise AllocationError("evidence_rule", f"must be one of {', '.join(EVIDENCE_RULES)}; got {rule!r}")
    return _evidence(rule, _pool_cents(pool, "pool"), weights, seed)

