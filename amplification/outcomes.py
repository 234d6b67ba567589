"""Outcomes: the true value, once the world resolves a question, and every forecast scored against it as Metaculus
scores a continuous question.

All CDFs are canonical (201 points of u in [0, 1], `grid.U_GRID`); the 202 masses are [below lower, 200 bins,
above upper], bin k (1..200) covering u in ((k-1)/200, k/200].

- `standardize_cdf`: Metaculus's forecast-editor standardization, so that no bucket is empty and an exported CDF is one
  Metaculus accepts; `metaculus_violations` lists the rules a CDF breaks; `metaculus_cdf` is the standardized CDF
  placed on the 1e-10 lattice Metaculus rounds to, for export.
- `place_outcome` / `outcome_u` / `outcome_bucket`: where a resolution falls, exactly as Metaculus places it.
- `score_outcome`: log score, baseline score and CRPS of many forecasts in one pass; `peer_scores` from their masses
  at the outcome.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import outcome_kernel
from .errors import SpecError
from .grid import N_POINTS, U_GRID, Domain, is_number, parse_date, parse_number

N_BINS = N_POINTS - 1  # 200 inside buckets
BELOW, ABOVE = 0, N_BINS + 1  # the buckets of the masses beyond the bounds (0 and 201)

# Metaculus's forecast-editor standardization: F' = a F + UNIFORM_WEIGHT u + t, a = 0.99 - OPEN_SIDE_SHARE x (open
# sides), t = OPEN_SIDE_SHARE when the lower side is open. Every inside step gets at least UNIFORM_WEIGHT / 200
# = 5e-5, and an open tail at least OPEN_SIDE_SHARE.
UNIFORM_WEIGHT = 0.01
OPEN_SIDE_SHARE = 0.001
# The validation rules Metaculus applies to a submitted continuous CDF (DESIGN.md, "Outcomes").
MIN_STEP = UNIFORM_WEIGHT / N_BINS  # 5e-5
MAX_STEP = 0.2
OPEN_TAIL_MIN = 0.001  # cdf[0] >= this on an open lower side; 1 - cdf[200] >= this on an open upper side
# Metaculus rounds a submitted CDF, and then its steps, to 10 decimals before checking it: that rounding is the only
# tolerance it allows, so it is the one `metaculus_violations` allows too (an exact 5e-5 step computed in floats is
# often 5e-5 - 5e-18; rounded, it is exactly 5e-5, as it is to Metaculus).
METACULUS_DECIMALS = 10
# Steps are capped a hair below MAX_STEP: a capped step rebuilt by a cumulative sum is 0.2 +- 1e-16, and Metaculus's
# rounding (above) turns 0.2 + 1e-16 into 0.2000000001 for about one such step in a million. 1e-9 keeps every capped
# step below 0.2 after any rounding, and is far below anything a score can see.
CAP_MARGIN = 1e-9
STEP_CAP = MAX_STEP - CAP_MARGIN

BUCKET_EPSILON = 1e-10  # Metaculus's shift in max(floor(200 u + 1 - 1e-10), 1): u = k/200 falls in bucket k, not k+1
TAIL_BASELINE = 0.05  # the baseline's mass for an outcome beyond an open bound
OPEN_SIDE_BASELINE = 0.05  # each open side takes this much of the baseline's inside mass
BASELINE_SCALE = 50.0  # Metaculus's continuous baseline and peer scores: 100 x (log-ratio) / 2

_BLOCK_ROWS = 1024  # rows per block in standardize_cdf: 1.6 MB of output and as much of steps, in cache


def _affine(open_lower: bool, open_upper: bool) -> tuple[float, float]:
    """(a, t) of the standardization F' = a F + 0.01 u + t."""
    a = 0.99 - OPEN_SIDE_SHARE * (int(bool(open_lower)) + int(bool(open_upper)))
    return a, (OPEN_SIDE_SHARE if open_lower else 0.0)


def _offsets(open_lower: bool, open_upper: bool) -> np.ndarray:
    """The part of F' that does not depend on F: 0.01 u + t at each grid point."""
    _, t = _affine(open_lower, open_upper)
    return UNIFORM_WEIGHT * U_GRID + t


# ---------------------------------------------------------------------------------------------------------------
# Standardization and Metaculus's validation rules


def standardize_cdf(cdf: np.ndarray, *, open_lower: bool, open_upper: bool) -> np.ndarray:
    """Metaculus's forecast-editor standardization of CDFs (..., 201) -> a new array of the same shape.

    F' = a F + 0.01 u + t with a = 0.99 - 0.001 x (open sides) and t = 0.001 when the lower side is open: every inside
    step gets at least 5e-5, an open tail at least 0.001, and a closed side keeps exactly 0 (or 1). Then, in a row
    where an inside step exceeds 0.2, the inside steps are rescaled and capped (water-filling): each becomes
    min(cap, s x step) with the one s >= 1 that keeps their sum, so the tails are kept and every step stays <= 0.2
    after the rescaling too (the cap is 0.2 - CAP_MARGIN; see there). Rows are trusted to be CDFs (0 and 1 on closed
    sides, as `from_spec` makes them).
    """
    f = np.asarray(cdf, dtype=np.float64)
    if f.ndim == 0 or f.shape[-1] != N_POINTS:
        raise ValueError(f"cdf must have shape (..., {N_POINTS}), got {f.shape}")
    a, _ = _affine(open_lower, open_upper)
    offsets = _offsets(open_lower, open_upper)
    out = np.empty(f.shape)
    rows, src = out.reshape(-1, N_POINTS), f.reshape(-1, N_POINTS)  # `rows` is a view: writes go to `out`
    largest = np.empty(rows.shape[0])
    # Block by block, so that each block of the new array is written once and its steps are read while in cache:
    # the array in one piece would take a pass for each operation, and np.diff another array as large as the input.
    for start in range(0, rows.shape[0], _BLOCK_ROWS):
        block = rows[start : start + _BLOCK_ROWS]
        np.multiply(src[start : start + _BLOCK_ROWS], a, out=block)
        block += offsets
        # A closed side is exact by definition (a + 0.01 + t rounds to 1 already; this keeps it so for any input).
        if not open_lower:
            block[:, 0] = 0.0
        if not open_upper:
            block[:, -1] = 1.0
        np.max(block[:, 1:] - block[:, :-1], axis=1, out=largest[start : start + _BLOCK_ROWS])
    over = np.flatnonzero(largest > STEP_CAP)
    if over.size:
        rows[over] = _cap_steps(rows[over])
    return out


def _cap_steps(rows: np.ndarray) -> np.ndarray:
    """Water-fill the inside steps of standardized rows (k, 201) under STEP_CAP, keeping each row's tails.

    With the steps sorted in decreasing order d_1 >= d_2 >= ..., capping the j largest leaves the scale
    s_j = (T - j cap) / (d_{j+1} + ... + d_200) for the rest (T: the row's inside mass). The answer is the first j whose
    largest uncapped step stays under the cap, s_j d_{j+1} <= cap; that test is monotone in j (s_{j+1} <= s_j once it
    holds), so the first True of it is the solution. There s_j >= 1: the sum is kept, so the capped steps give up
    (s_j - 1) x (the rest), and each capped step had s_j d_i >= cap, which with s_j < 1 would mean d_i > cap, so that
    they gave up mass, not received it. Every d_i >= 5e-5 after standardization, so no sum of the rest is 0.
    """
    steps = np.diff(rows, axis=1)
    total = rows[:, -1] - rows[:, 0]
    ordered = -np.sort(-steps, axis=1)
    rest = np.cumsum(ordered[:, ::-1], axis=1)[:, ::-1]  # rest[:, j] = d_{j+1} + ... + d_200 (0-based: ordered[j:])
    capped_count = np.arange(N_BINS)
    scale = (total[:, None] - capped_count * STEP_CAP) / rest
    fits = scale * ordered <= STEP_CAP
    chosen = scale[np.arange(len(rows)), np.argmax(fits, axis=1)]
    new_steps = np.minimum(STEP_CAP, chosen[:, None] * steps)
    out = np.empty_like(rows)
    out[:, 0] = rows[:, 0]
    out[:, 1:] = rows[:, :1] + np.cumsum(new_steps, axis=1)
    out[:, -1] = rows[:, -1]  # the upper tail exactly as it was (the cumulative sum differs from it by round-off)
    return out


def metaculus_violations(cdf: object, *, open_lower: bool, open_upper: bool) -> list[str]:
    """The rules of Metaculus's validation of a submitted continuous CDF that `cdf` breaks (empty: it is accepted).

    Length 201; every step >= 5e-5 and <= 0.2; cdf[0] >= 0.001 on an open lower side, == 0 on a closed one; cdf[200]
    <= 0.999 on an open upper side, == 1 on a closed one. As Metaculus does, the values and then the steps are
    rounded to 10 decimals before they are compared (see METACULUS_DECIMALS).
    """
    try:
        values = np.asarray(cdf, dtype=np.float64)
    except (TypeError, ValueError):
        return ["must be a list of numbers"]
    if values.shape != (N_POINTS,):
        return [f"must have exactly {N_POINTS} values, got shape {values.shape}"]
    if not np.all(np.isfinite(values)):
        return ["every value must be a finite number"]
    values = np.round(values, METACULUS_DECIMALS)
    steps = np.round(np.diff(values), METACULUS_DECIMALS)
    problems = []
    min_step = round(MIN_STEP, METACULUS_DECIMALS)
    if np.any(steps < min_step):
        problems.append(f"every step must be >= {min_step:g}; step {int(np.argmin(steps)) + 1} is {steps.min():.10g}")
    if np.any(steps > MAX_STEP):
        problems.append(f"every step must be <= {MAX_STEP:g}; step {int(np.argmax(steps)) + 1} is {steps.max():.10g}")
    if open_lower and not values[0] >= OPEN_TAIL_MIN:
        problems.append(f"cdf[0] must be >= {OPEN_TAIL_MIN:g} on an open lower side, got {values[0]:.10g}")
    if not open_lower and values[0] != 0.0:
        problems.append(f"cdf[0] must be 0 on a closed lower side, got {values[0]:.10g}")
    if open_upper and not values[-1] <= 1.0 - OPEN_TAIL_MIN:
        problems.append(
            f"cdf[{N_BINS}] must be <= {1.0 - OPEN_TAIL_MIN:g} on an open upper side, got {values[-1]:.10g}"
        )
    if not open_upper and values[-1] != 1.0:
        problems.append(f"cdf[{N_BINS}] must be 1 on a closed upper side, got {values[-1]:.10g}")
    return problems


def metaculus_cdf(cdf: np.ndarray, *, open_lower: bool, open_upper: bool) -> np.ndarray:
    """The standardized CDF (..., 201) placed on the 1e-10 lattice Metaculus rounds a submission to, so that it
    passes Metaculus's validation by construction rather than by the luck of round-off.

    Metaculus keeps only 10 decimals, so nothing it would store is lost. The values are whole numbers of 1e-10 units:
    the ends are the standardized ends rounded, each step is 5e-5 (500 units) plus a rounded share of the excess over
    it, and the shares are rounded cumulatively, so every step is >= 500 units exactly and the ends are met exactly.
    A capped step (0.2 - 1e-9) stays below 0.2 after rounding.
    """
    std = standardize_cdf(cdf, open_lower=open_lower, open_upper=open_upper)
    units = 10.0**METACULUS_DECIMALS
    min_units = round(MIN_STEP * units)
    lo = np.rint(std[..., :1] * units)
    hi = np.rint(std[..., -1:] * units)
    excess = np.cumsum(np.maximum(np.diff(std, axis=-1) - MIN_STEP, 0.0), axis=-1)
    # Units of excess to share out. Below 0 only by a rounding of the ends, when the inside holds nothing but the
    # minimum (open on both sides, where the upper end may then move by one unit and stays <= 0.999).
    free = np.maximum(hi - lo - min_units * N_BINS, 0.0)
    total = excess[..., -1:]
    share = np.divide(free, total, out=np.zeros_like(total), where=total > 0)
    steps_before = np.arange(1, N_POINTS) * min_units
    lattice = np.concatenate([lo, lo + steps_before + np.rint(excess * share)], axis=-1)
    return lattice / units


# ---------------------------------------------------------------------------------------------------------------
# Where an outcome falls


def outcome_bucket(u: float) -> int:
    """The index (0..201) of the mass an outcome at u falls in, as Metaculus places a resolution: u < 0 -> 0,
    u > 1 -> 201, u == 1 -> 200, else max(floor(200 u + 1 - 1e-10), 1). A u exactly on a grid point k/200 falls in
    bucket k, the bin that ends there; u == 0 falls in bucket 1."""
    u = float(u)
    if math.isnan(u):
        raise ValueError("u must not be NaN")
    if u < 0:
        return BELOW
    if u > 1:
        return ABOVE
    if u == 1:
        return N_BINS
    return max(math.floor(N_BINS * u + 1 - BUCKET_EPSILON), 1)


def outcome_u(x: float, domain: Domain) -> float:
    """u of a value on the question's axis (internal units: days since 1970 on a date scale), with exactly 0.0 at
    the lower bound and 1.0 at the upper one.

    The bounds are compared before anything is divided: ln(x / lower) / ln(upper / lower) is 1 at x = upper only if
    the two logarithms round alike, and an outcome on the bound must land in bucket 200, never 201. For the same
    reason a value strictly beyond a bound always gets a u strictly beyond 0 or 1, whatever the round-off; a value
    <= 0 on a log scale lies below any range (u = -inf).
    """
    x = float(x)
    if math.isnan(x):
        raise ValueError("x must not be NaN")
    if x == domain.lower:
        return 0.0
    if x == domain.upper:
        return 1.0
    if domain.scale == "log" and x <= 0:
        return -math.inf
    with np.errstate(over="ignore"):
        u = float(domain.to_u(x))
    if x < domain.lower:
        return min(u, -math.ulp(0.0))
    if x > domain.upper:
        return max(u, 1.0 + math.ulp(1.0))
    return min(max(u, 0.0), 1.0)


@dataclass(frozen=True)
class Outcome:
    """Where an outcome falls: u on the question's axis (-inf / +inf for "below" / "above"; beyond [0, 1] for a
    value beyond an open bound) and its bucket (0..201), as `score_outcome` takes them."""

    u: float
    bucket: int


def place_outcome(value: object, domain: Domain) -> Outcome:
    """A recorded outcome -> its position. `value` is a number (linear and log scales), an ISO 8601 date (date scale),
    or "below" / "above" (open sides only).

    SpecError("value", ...) for the wrong kind of value (a date on a log question, a number on a date question), for
    "below"/"above" or a value beyond the range on a closed side, and for "annulled", which has no position: a caller
    records an annulled question without scoring it.
    """
    if value == "annulled":
        raise SpecError("value", "'annulled' has no position on the axis; an annulled question is not scored")
    if value in ("below", "above"):
        is_open = domain.open_lower if value == "below" else domain.open_upper
        if not is_open:
            side = "lower" if value == "below" else "upper"
            raise SpecError("value", f"{value!r} is allowed on an open side only; the {side} bound is closed")
        return Outcome(u=-math.inf, bucket=BELOW) if value == "below" else Outcome(u=math.inf, bucket=ABOVE)
    if domain.scale == "date":
        if is_number(value):
            raise SpecError("value", "must be an ISO 8601 date such as '2030-01-01' on a date question")
        x = parse_date(value, "value")
    else:
        x = parse_number(value, "value")
    u = outcome_u(x, domain)
    bucket = outcome_bucket(u)
    if (bucket == BELOW and not domain.open_lower) or (bucket == ABOVE and not domain.open_upper):
        side, bound = ("lower", domain.lower) if bucket == BELOW else ("upper", domain.upper)
        raise SpecError("value", f"{value!r} lies beyond the closed {side} bound {domain.format_x(bound)!r}")
    return Outcome(u=u, bucket=bucket)


# ---------------------------------------------------------------------------------------------------------------
# Scores


@dataclass(frozen=True)
class OutcomeScores:
    """Per-forecast scores against the outcome, each an (n,) float64 array; all higher is better except crps.

    p_outcome: the (standardized) mass of the outcome's bucket, the input of `peer_scores`;
    log_score: ln p_outcome (nats); baseline: 50 ln(p_outcome / b), Metaculus's continuous baseline score (0 for the
    uniform forecast, b = 0.05 for a tail bucket, else (1 - 0.05 x open sides) / 200);
    crps: integral over u in [0, 1] of (F(u) - 1[u >= u_outcome])^2 (lower is better; the step sits at u = 0 for an
    outcome below the range and at u = 1 for one above it).
    """

    p_outcome: np.ndarray
    log_score: np.ndarray
    baseline: np.ndarray
    crps: np.ndarray


def baseline_mass(bucket: int, *, open_lower: bool, open_upper: bool) -> float:
    """b of Metaculus's continuous baseline score: the mass its reference forecast gives the bucket."""
    if bucket in (BELOW, ABOVE):
        return TAIL_BASELINE
    return (1.0 - OPEN_SIDE_BASELINE * (int(bool(open_lower)) + int(bool(open_upper)))) / N_BINS


def _check_outcome(bucket: int, u: float, open_lower: bool, open_upper: bool) -> None:
    if not isinstance(bucket, int | np.integer) or isinstance(bucket, bool) or not BELOW <= bucket <= ABOVE:
        raise ValueError(f"bucket must be an integer in 0..{ABOVE}, got {bucket!r}")
    if (bucket == BELOW and not open_lower) or (bucket == ABOVE and not open_upper):
        raise ValueError("an outcome beyond a closed bound has no bucket")
    if outcome_bucket(u) != bucket:
        raise ValueError(f"u = {u!r} falls in bucket {outcome_bucket(u)}, not {bucket}")


def score_outcome(
    cdfs: np.ndarray,
    *,
    bucket: int,
    u: float,
    open_lower: bool,
    open_upper: bool,
    standardize: bool = True,
) -> OutcomeScores:
    """Score forecasts (n, 201 CDFs) against an outcome at `u` in `bucket` (as `place_outcome` gives them).

    Every score is computed on the standardized CDF (`standardize_cdf`), as Metaculus scores what its editor submits,
    so no bucket is empty and every log is finite. With standardize=False the CDFs are scored as given (a zero mass
    at the outcome gives log_score = baseline = -inf). Rows are trusted to be valid CDFs, as `from_spec` makes them.

    One compiled read of each row gives its mass at the outcome and its CRPS, with the standardization done on the fly
    and each CDF piecewise linear in u; the rare rows whose standardized steps need the 0.2 cap are then standardized
    in full (`standardize_cdf`) and read again.
    """
    q = np.asarray(cdfs, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != N_POINTS:
        raise ValueError(f"cdfs must have shape (n, {N_POINTS}), got {q.shape}")
    _check_outcome(bucket, u, open_lower, open_upper)
    q = np.ascontiguousarray(q)
    n = q.shape[0]
    u_step = min(max(float(u), 0.0), 1.0)  # an outcome beyond a bound puts the step at that bound
    segment = min(int(u_step * N_BINS), N_BINS - 1)  # the segment [u_m, u_m+1] that holds the step
    # Segments wholly left of the step integrate F^2, wholly right of it (1 - F)^2; the step's own segment is split.
    index = np.arange(N_BINS)
    left = (index < segment).astype(np.float64)
    right = (index > segment).astype(np.float64)

    p_outcome, crps, capped = np.empty(n), np.empty(n), np.zeros(n)
    if standardize:
        a, _ = _affine(open_lower, open_upper)
        scale, offsets, cap = a, _offsets(open_lower, open_upper), STEP_CAP
    else:
        scale, offsets, cap = 1.0, np.zeros(N_POINTS), math.inf
    # No end needs forcing: on a closed side a F + 0.01 u + t is exactly 0 at u = 0 and 1 at u = 1 for every a and t
    # used here (a x 1 is exact, and a + 0.01 + t rounds to 1), as standardize_cdf's own arithmetic gives.
    outcome_kernel.outcome_rows(q, scale, offsets, cap, int(bucket), u_step, segment, left, right,
                                p_outcome, crps, capped)
    rows = np.flatnonzero(capped)
    if rows.size:
        full = standardize_cdf(q[rows], open_lower=open_lower, open_upper=open_upper)
        p_rows, crps_rows = np.empty(rows.size), np.empty(rows.size)
        outcome_kernel.outcome_rows(full, 1.0, np.zeros(N_POINTS), math.inf, int(bucket), u_step, segment,
                                    left, right, p_rows, crps_rows, np.zeros(rows.size))
        p_outcome[rows], crps[rows] = p_rows, crps_rows

    with np.errstate(divide="ignore"):
        log_score = np.log(p_outcome)
    b = baseline_mass(int(bucket), open_lower=open_lower, open_upper=open_upper)
    baseline = BASELINE_SCALE * (log_score - math.log(b))
    return OutcomeScores(p_outcome=p_outcome, log_score=log_score, baseline=baseline, crps=crps)


def peer_scores(p_outcome: np.ndarray) -> np.ndarray:
    """Metaculus's peer score of each of N forecasts from its mass at the outcome: 50 N/(N-1) ln(p_i / GM), GM the
    geometric mean of the N masses; they sum to 0 over the N, and a lone forecaster scores 0.

    Give it the masses of the forecasts that compete (on this platform, the commenters' current predictions), not
    the prior, posterior or pool. Masses must be > 0, as standardized ones are.
    """
    p = np.asarray(p_outcome, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_outcome must be one-dimensional, got shape {p.shape}")
    n = p.size
    if n and not np.all(p > 0):
        raise ValueError("every mass at the outcome must be > 0 (standardize the forecasts first)")
    if n <= 1:
        return np.zeros(n)
    logs = np.log(p)
    return BASELINE_SCALE * n / (n - 1) * (logs - logs.mean())
