"""The canonical grid: every distribution is a CDF at 201 evenly spaced points of the transformed axis u in [0, 1]."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

from .errors import SpecError

N_POINTS = 201
U_GRID: np.ndarray = np.linspace(0.0, 1.0, N_POINTS)
U_GRID.setflags(write=False)
MAX_POINTS = 1000  # largest list accepted anywhere in a spec (quantile points, bins, mixture components)

SCALES = ("linear", "log", "date")
_EPOCH = dt.date(1970, 1, 1)
_EPOCH_DT = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DAYS_PER_YEAR = 365.25  # a "year" on a date question, for lognormal/normal parameters


def is_number(value: object) -> bool:
    """True for real numbers; bool is deliberately not a number here (JSON true must not become 1)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def parse_date(value: object, path: str) -> float:
    """ISO 8601 date (or date-time, read as UTC when naive) -> days since 1970-01-01, as a float."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return (moment - _EPOCH_DT).total_seconds() / 86400.0
    if isinstance(value, dt.date):
        return float((value - _EPOCH).days)
    if not isinstance(value, str):
        raise SpecError(path, "must be an ISO 8601 date string such as '2030-01-01'")
    try:
        return float((dt.date.fromisoformat(value) - _EPOCH).days)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise SpecError(path, f"{value!r} is not an ISO 8601 date such as '2030-01-01'") from None
    return parse_date(moment, path)


def parse_number(value: object, path: str) -> float:
    """A finite real number (not a bool) as float, else SpecError."""
    if not is_number(value):
        raise SpecError(path, "must be a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:
        raise SpecError(path, "must be finite") from None
    if not math.isfinite(number):
        raise SpecError(path, "must be finite (no NaN or infinity)")
    return number


def format_date(days: float) -> str:
    """Days since 1970-01-01 -> 'YYYY-MM-DD' (nearest day, clamped to the years 1..9999 that ISO dates can hold)."""
    lo = (dt.date.min - _EPOCH).days
    hi = (dt.date.max - _EPOCH).days
    whole = round(min(max(float(days), lo), hi))
    return (_EPOCH + dt.timedelta(days=whole)).isoformat()


@dataclass(frozen=True)
class Domain:
    """A question's range. `lower`/`upper` are in internal units: x itself on linear/log scales, days since
    1970-01-01 (float) on the date scale. `horizon` is the question's resolution date in days since 1970-01-01
    (on every scale: a trend spec extrapolates to it when the spec names no `at_date`), or None."""

    lower: float
    upper: float
    scale: str  # "linear" | "log" | "date"
    open_lower: bool
    open_upper: bool
    horizon: float | None = None

    @classmethod
    def create(cls, *, lower, upper, scale, open_lower, open_upper, horizon=None) -> Domain:
        """Validate and build a domain; bounds are numbers, or ISO date strings / `datetime.date` on the date scale.
        `horizon` is None, a date (ISO string, `datetime.date`, or `datetime.datetime`, read as UTC when naive), or
        a number of days since 1970-01-01."""
        if scale not in SCALES:
            raise SpecError("scale", f"must be one of {', '.join(SCALES)}")
        for name, flag in (("open_lower", open_lower), ("open_upper", open_upper)):
            if not isinstance(flag, bool | np.bool_):
                raise SpecError(name, "must be true or false")
        if scale == "date":
            lo, hi = parse_date(lower, "lower"), parse_date(upper, "upper")
        else:
            lo, hi = parse_number(lower, "lower"), parse_number(upper, "upper")
            if scale == "log" and lo <= 0:
                raise SpecError("lower", "must be > 0 on a log scale")
        if not lo < hi:
            raise SpecError("upper", "must be greater than lower")
        # The axis maps to u through its width, upper - lower (log: ln(upper / lower)); two finite bounds can still
        # overflow it (-1e308 to 1e308), and an infinite width would make every u 0 or NaN. Python float arithmetic
        # overflows to inf here rather than raising. (For lower < upper the width is never 0: subtraction is exact
        # for close floats, and a ratio of adjacent floats stays above 1.)
        width = math.log(hi / lo) if scale == "log" else hi - lo
        if not math.isfinite(width):
            what = "upper / lower" if scale == "log" else "upper - lower"
            raise SpecError("upper", f"{what} overflows; the range is too wide")
        if horizon is not None:
            horizon = parse_number(horizon, "horizon") if is_number(horizon) else parse_date(horizon, "horizon")
        return cls(lower=lo, upper=hi, scale=scale, open_lower=bool(open_lower), open_upper=bool(open_upper),
                   horizon=horizon)

    def to_u(self, x: ArrayLike) -> np.ndarray:
        """Question axis (internal units) -> u; 0 at lower, 1 at upper, not clipped (values beyond extrapolate)."""
        x = np.asarray(x, dtype=np.float64)
        if self.scale == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log(x / self.lower) / math.log(self.upper / self.lower)
        return (x - self.lower) / (self.upper - self.lower)

    def from_u(self, u: ArrayLike) -> np.ndarray:
        """u -> question axis. Within [0, 1] the result stays within [lower, upper]: rounding in exp (or in the
        product) can step past a bound by an ulp, and past the largest float that is infinity."""
        u = np.asarray(u, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.scale == "log":
                w = math.log(self.upper / self.lower)
                x = self.lower * np.exp(u * w)  # exact at u = 0
                # exp(u w) alone can overflow where the product would not (lower 1e-300, upper 1e300)
                x = np.where(np.isfinite(x), x, np.exp(math.log(self.lower) + u * w))
            else:
                x = self.lower + u * (self.upper - self.lower)
        x = np.where(u == 1, self.upper, x)  # the bound itself, not a rounding of it
        inside = (u >= 0) & (u <= 1)
        return np.where(inside, np.clip(x, self.lower, self.upper), x)

    def parse_x(self, value: object, path: str) -> float:
        """A value on the question's axis from a spec: an ISO date on the date scale, else a finite number (> 0 on
        a log scale)."""
        if self.scale == "date":
            return parse_date(value, path)
        number = parse_number(value, path)
        if self.scale == "log" and number <= 0:
            raise SpecError(path, "must be > 0 on a log scale")
        return number

    def format_x(self, x: float | None) -> float | str | None:
        """Internal units -> question units: an ISO date 'YYYY-MM-DD' on the date scale, else a float."""
        if x is None:
            return None
        if self.scale == "date":
            return format_date(float(x))
        return float(x)

    def x_grid(self) -> np.ndarray:
        """The 201 grid points in internal units."""
        x = self.from_u(U_GRID)
        x[0], x[-1] = self.lower, self.upper  # exact ends despite exp/log round-off
        return x
