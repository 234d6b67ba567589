"""Distribution specs (the JSON a person types) -> the canonical 201-point CDF on the question's grid.

Every spec is validated completely before anything is computed: a bad one raises `SpecError` naming the field
(relative to the spec) and the rule. Tail-mass rules, shared by all forms:

- on a CLOSED side the mass beyond the bound is 0: a parametric shape is truncated there and renormalised, and giving
  ``mass_below``/``mass_above`` on that side is an error;
- on an OPEN side a given ``mass_below``/``mass_above`` is the EXACT final mass beyond the bound, and the in-range
  shape is rescaled to fill the rest; when it is not given, the form's own tail becomes the mass there (a
  parametric's tail beyond the bound, the first/last value of a ``cdf``, the pooled tails of a ``mixture``; a
  histogram has no tail of its own, so 0).

A quantile's p is the TOTAL probability P(X <= x), tail masses included, everywhere (specs, fits, summaries).
A ``quantiles`` spec has two shapes: ``"fitted"`` (the default), the (log)normal whose final CDF (truncated, tails
as above) is closest in p to the typed points; and ``"exact"``, a monotone interpolation of Phi^-1(CDF) along the
question's axis u whose stored 201-point CDF passes through every typed point and tail mass (`_Quantiles`).
A ``trend`` spec (log scale) extrapolates a value by doublings with a lognormal doubling time; its CDF is closed form.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator
from scipy.special import log_ndtr, ndtr, ndtri, ndtri_exp

from .errors import SpecError
from .fitting import fit_normal_quantiles, lognormal_from_interval, refine_in_p
from .grid import DAYS_PER_YEAR, MAX_POINTS, N_POINTS, U_GRID, Domain, format_date, parse_date, parse_number

BAD_FIT_TOLERANCE = 0.05  # a quantile fit is flagged "not good" when some |model CDF(x) - p| exceeds this
CDF_TOLERANCE = 1e-10  # slack for imported CDFs: a decrease this small, or cdf[0] this far from 0, is round-off
HISTOGRAM_TOLERANCE = 1e-6  # histogram p's plus tail masses must sum to 1 within this
WEIGHT_TOLERANCE = 1e-12  # mixture weights further than this from summing to 1 are normalised, with a note
MAX_MIXTURE_DEPTH = 3  # a mixture inside a mixture inside a mixture, no deeper
MAX_LEAVES = MAX_POINTS  # non-mixture specs in one spec tree, so nesting cannot multiply the work
_Z_CLIP = 1e150  # standardised values are clipped here: z**2 stays finite and ln(0) = -inf becomes a usable number
_NARROW_Z = 1e-5  # a range narrower than this in z is computed from its midpoint density, not a difference of logs
# An exact shape's point this close to a grid point (in grid steps) is taken to lie on it: the stored CDF then
# misses it by at most this times the rise of one step (<= 1e-8), and the two-node equation of its step, which
# divides by this distance, stays well conditioned.
_NODE_SNAP = 1e-8
_EXACT_SLACK = 1e-12  # round-off allowed when checking an exact shape's node values against their bounds
DAYS_PER_MONTH = DAYS_PER_YEAR / 12  # a trend's months

SPEC_TYPES = ("quantiles", "lognormal", "normal", "histogram", "cdf", "mixture", "trend")
QUANTILE_SHAPES = ("fitted", "exact")


@dataclass(frozen=True)
class Fit:
    """How well a parametric family captures the quantiles a person gave."""

    family: str  # "lognormal" | "normal"
    # lognormal: {"mu", "sigma"} of ln X (of ln(years after lower) on a date scale); normal: {"mean", "sd"}
    params: dict
    residuals: list[dict]  # per input quantile: {"p", "x", "fitted_p": model CDF at x, "fitted_x": model quantile at p}
    max_abs_p_residual: float
    good: bool  # max_abs_p_residual <= BAD_FIT_TOLERANCE


@dataclass(frozen=True)
class Distribution:
    cdf: np.ndarray  # (201,) float64, non-decreasing, within [0, 1]
    fit: Fit | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def mass_below(self) -> float:
        return float(self.cdf[0])

    @property
    def mass_above(self) -> float:
        return float(1.0 - self.cdf[-1])


def masses(cdf: np.ndarray) -> np.ndarray:
    """CDF(s) (..., 201) -> the 202 masses (..., 202): [below lower, 200 bins, above upper]."""
    cdf = np.asarray(cdf, dtype=np.float64)
    return np.concatenate([cdf[..., :1], np.diff(cdf, axis=-1), 1.0 - cdf[..., -1:]], axis=-1)


# ---------------------------------------------------------------------------------------------------------------
# Validation helpers


def _where(prefix: str) -> str:
    return prefix[:-1] if prefix else "spec"


def _check_keys(spec: dict, prefix: str, required: set[str], optional: set[str]) -> None:
    for key in spec:
        if not isinstance(key, str):
            raise SpecError(_where(prefix), f"keys must be strings, got {key!r}")
        if key not in required and key not in optional:
            # ascii(): the key is the client's text, and may hold what no encoder takes (a lone surrogate)
            raise SpecError(prefix + ascii(key)[1:-1], "is not a field of this spec")
    for key in sorted(required):
        if key not in spec:
            raise SpecError(prefix + key, "is required")


def _positive(value: object, path: str) -> float:
    number = parse_number(value, path)
    if number <= 0:
        raise SpecError(path, "must be > 0")
    return number


def _list(value: object, path: str, minimum: int) -> list:
    if not isinstance(value, list | tuple):
        raise SpecError(path, "must be a list")
    if len(value) > MAX_POINTS:
        raise SpecError(path, f"has {len(value)} entries; at most {MAX_POINTS} are accepted")
    if len(value) < minimum:
        raise SpecError(path, f"needs at least {minimum} entr{'y' if minimum == 1 else 'ies'}")
    return list(value)


@dataclass(frozen=True)
class _Tails:
    below: float | None  # given mass below (None: not given; the form's own tail, or 0 on a closed side)
    above: float | None

    def fixed(self) -> tuple[float, float]:
        return self.below or 0.0, self.above or 0.0


def _parse_tails(spec: dict, domain: Domain, prefix: str) -> _Tails:
    given: dict[str, float | None] = {}
    for key, is_open, side in (
        ("mass_below", domain.open_lower, "lower"),
        ("mass_above", domain.open_upper, "upper"),
    ):
        if key not in spec:
            given[key] = None
            continue
        if not is_open:
            raise SpecError(prefix + key, f"the {side} bound is closed, so no probability can lie beyond it")
        value = parse_number(spec[key], prefix + key)
        if not 0 <= value < 1:
            raise SpecError(prefix + key, "must be in [0, 1)")
        given[key] = value
    below, above = given["mass_below"], given["mass_above"]
    if (below or 0.0) + (above or 0.0) >= 1:
        raise SpecError(prefix + "mass_above", "mass_below + mass_above must be < 1")
    return _Tails(below, above)


# ---------------------------------------------------------------------------------------------------------------
# Parametric shapes: X is normal in a transformed variable t(x). z = (t(x) - loc) / scale.
# transform "x": t = x; "ln": t = ln x (x <= 0 has probability 0); "years": t = (days - lower) / 365.25;
# "ln_years": t = ln(years after lower); "lnln": t = ln ln(x / origin) (a trend: x <= origin has probability 0).


def _t_of_x(transform: str, x: np.ndarray, domain: Domain, origin: float = 0.0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "x":
            return x
        if transform == "ln":
            return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)
        if transform == "lnln":
            # ln x - ln origin rather than ln(x / origin), which overflows for x = 1e300 and origin = 1e-300
            r = np.log(np.where(x > 0, x, 1.0)) - math.log(origin)
            return np.where((x > origin) & (r > 0), np.log(np.where(r > 0, r, 1.0)), -np.inf)
        years = (x - domain.lower) / DAYS_PER_YEAR
        if transform == "years":
            return years
        return np.where(years > 0, np.log(np.where(years > 0, years, 1.0)), -np.inf)


def _x_of_t(transform: str, t: np.ndarray, domain: Domain, origin: float = 0.0) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    big = np.finfo(np.float64).max
    with np.errstate(over="ignore", invalid="ignore"):
        if transform == "x":
            x = t
        elif transform == "ln":
            x = np.exp(np.clip(t, -745.0, 709.0))
        elif transform == "lnln":
            x = np.exp(math.log(origin) + np.exp(np.clip(t, -745.0, 709.0)))
        elif transform == "years":
            x = domain.lower + DAYS_PER_YEAR * t
        else:
            x = domain.lower + DAYS_PER_YEAR * np.exp(np.clip(t, -745.0, 700.0))
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=big, neginf=-big), -big, big)


def _z(t: np.ndarray, loc: float | np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        z = (np.asarray(t, dtype=np.float64) - loc) / scale
    # Infinities (t = -inf where x has no probability, overflow) clip to +-_Z_CLIP. fmax/fmin rather than np.clip and
    # np.nan_to_num, which cost several times as much on the short arrays of the fit's inner loop; a NaN (which
    # finite loc and scale > 0 never give) would become -_Z_CLIP, still a usable number.
    return np.fmin(np.fmax(z, -_Z_CLIP), _Z_CLIP)


def _conditional(z: np.ndarray, za, zb) -> np.ndarray:
    """P(Z <= z | za <= Z <= zb) for standard normal Z and z in [za, zb].

    Computed from log CDFs (or log survival functions when the range lies in the upper tail) so a range 700
    standard deviations from the median still gets its correct, steeply falling shape instead of 0/0. za and zb may
    be arrays of one value per row of z (shape (m, 1) against (m, k)): the fit evaluates several models at once.
    """
    z = np.asarray(z, dtype=np.float64)
    za, zb = np.asarray(za, dtype=np.float64), np.asarray(zb, dtype=np.float64)
    upper = za + zb > 0  # the range lies in the upper tail, where survival functions keep the digits
    if upper.all():
        share, den = _share_from_survival(z, za, zb)
    elif not upper.any():
        share, den = _share_from_cdf(z, za, zb)
    else:  # rows on both sides (only ever in the fit's batches)
        share_s, den_s = _share_from_survival(z, za, zb)
        share_c, den_c = _share_from_cdf(z, za, zb)
        share, den = np.where(upper, share_s, share_c), np.where(upper, den_s, den_c)
    width = zb - za
    if ((den > 0) & (den < np.inf) & (width >= _NARROW_Z)).all():  # the usual case, in one test
        return _unit(share)
    narrow = (width > 0) & (width < _NARROW_Z)
    if narrow.any():
        # The difference of log CDFs keeps only eps / width of its digits here (5e-8 at a width of 1e-9, from a
        # fit whose sigma ran off toward a flat shape). ln phi is exactly quadratic, so across a narrow range
        # Phi(z) - Phi(za) = phi((za + z) / 2) (z - za) (1 + O(width^2 z^2)): the share is the linear one tilted by
        # the ratio of the densities at the two midpoints.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            middle, whole = (za + z) / 2, (za + zb) / 2
            tilted = (z - za) / width * np.exp((whole - middle) * (whole + middle) / 2)
        share, den = np.where(narrow, tilted, share), np.where(narrow, 1.0, den)
    resolved = (den > 0) & np.isfinite(den)
    if resolved.all():
        return _unit(share)
    # The range is too narrow in z to resolve (a huge sigma: flat) or lies entirely at the clip (a tiny sigma far
    # away: all mass piles at the near bound).
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        flat = np.where(zb > za, np.clip((z - za) / (zb - za), 0.0, 1.0), np.linspace(0.0, 1.0, z.shape[-1]))
    pile = np.where((za > 0) & (zb > 0) & (zb - za <= 0), np.where(z > za, 1.0, 0.0),
                    np.where((za < 0) & (zb < 0) & (zb - za <= 0), np.where(z >= zb, 1.0, 0.0), flat))
    return np.where(resolved, _unit(share), pile)


def _share_from_survival(z: np.ndarray, za, zb) -> tuple[np.ndarray, np.ndarray]:
    """(S(za) - S(z)) / (S(za) - S(zb)) from log survival functions, and its denominator over S(za)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        la, lb, lz = log_ndtr(-za), log_ndtr(-zb), log_ndtr(-z)
        den = -np.expm1(lb - la)
        return -np.expm1(lz - la) / den, den


def _share_from_cdf(z: np.ndarray, za, zb) -> tuple[np.ndarray, np.ndarray]:
    """(Phi(z) - Phi(za)) / (Phi(zb) - Phi(za)) from log CDFs, and its denominator over Phi(zb)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        la, lb, lz = log_ndtr(za), log_ndtr(zb), log_ndtr(z)
        den = -np.expm1(la - lb)
        return np.exp(lz - lb) * -np.expm1(la - lz) / den, den


def _unit(a: np.ndarray) -> np.ndarray:
    """Clip into [0, 1], NaN becoming 0: fmax drops a NaN for the other operand (cheaper than np.clip + nan_to_num)."""
    return np.fmin(np.fmax(a, 0.0), 1.0)


def _tail_masses(za, zb, tails: _Tails, domain: Domain):
    """The final masses below and above the range of a (log)normal with standardised bounds za, zb (floats, or
    arrays of one per model): 0 on a closed side, a given mass as given, and on an open side without one the
    parametric tail, as a share of what the given mass on the other side leaves: P(X < lower | X <= upper) *
    (1 - mass_above), and the mirror image."""
    given_below, given_above = below, above = tails.fixed()
    with np.errstate(over="ignore", invalid="ignore"):
        if domain.open_lower and tails.below is None:
            cut = log_ndtr(zb) if tails.above is not None else 0.0
            below = (1.0 - given_above) * np.exp(log_ndtr(za) - cut)
        if domain.open_upper and tails.above is None:
            cut = log_ndtr(-za) if tails.below is not None else 0.0
            above = (1.0 - given_below) * np.exp(log_ndtr(-zb) - cut)
    return np.minimum(below, 1.0), np.minimum(above, 1.0)


def _final_cdf(z: np.ndarray, za, zb, below, above) -> np.ndarray:
    """The final CDF at standardised values z, tails included: the truncated shape scaled into what the tail masses
    leave inside the range, and beyond a bound the tail mass keeping the parametric shape. Scalars for one model,
    or (m, 1) columns against z (m, k) for m models at once."""
    inside = np.maximum(0.0, 1.0 - below - above)
    shape = below + inside * _conditional(z, za, zb)
    lo, hi = z < za, z > zb
    if not (lo.any() or hi.any()):  # every x inside the range, as in nearly every fit: no tail pieces
        return _unit(shape)
    with np.errstate(over="ignore", invalid="ignore"):
        tail_below = below * np.exp(log_ndtr(z) - log_ndtr(za))
        tail_above = 1.0 - above * np.exp(log_ndtr(-z) - log_ndtr(-zb))
    return _unit(np.where(lo, tail_below, np.where(hi, tail_above, shape)))


@dataclass(frozen=True)
class _ParametricModel:
    """A (log)normal with its final tail masses: the continuous CDF the grid samples and the residuals report."""

    transform: str
    loc: float
    scale: float
    za: float
    zb: float
    below: float  # final mass below lower
    above: float  # final mass above upper
    origin: float = 0.0  # of the "lnln" transform (a trend's starting value), unused by the others

    @classmethod
    def build(cls, transform: str, loc: float, scale: float, tails: _Tails, domain: Domain,
              origin: float = 0.0) -> _ParametricModel:
        t_bounds = _t_of_x(transform, np.array([domain.lower, domain.upper]), domain, origin)
        return cls.on_bounds(transform, loc, scale, t_bounds, tails, domain, origin)

    @classmethod
    def on_bounds(cls, transform: str, loc: float, scale: float, t_bounds: np.ndarray, tails: _Tails, domain: Domain,
                  origin: float = 0.0) -> _ParametricModel:
        """`build` with the bounds already transformed (t_bounds = t(lower), t(upper))."""
        za, zb = _z(t_bounds, loc, scale).tolist()
        below, above = _tail_masses(za, zb, tails, domain)
        return cls(transform, loc, scale, za, zb, float(below), float(above), origin)

    @property
    def inside(self) -> float:
        return max(0.0, 1.0 - self.below - self.above)

    def grid_cdf(self, domain: Domain) -> np.ndarray:
        z = _z(_t_of_x(self.transform, domain.x_grid(), domain, self.origin), self.loc, self.scale)
        z[0], z[-1] = self.za, self.zb
        shape = _conditional(z, self.za, self.zb)
        shape[0], shape[-1] = 0.0, 1.0
        return _fill(shape, self.below, self.above)

    def cdf_at(self, x: np.ndarray, domain: Domain) -> np.ndarray:
        """The final CDF at any x, tails included: beyond a bound the tail mass keeps the parametric shape."""
        return self.cdf_at_t(_t_of_x(self.transform, x, domain, self.origin))

    def cdf_at_t(self, t: np.ndarray) -> np.ndarray:
        """`cdf_at` with x already transformed to t."""
        return _final_cdf(_z(t, self.loc, self.scale), self.za, self.zb, self.below, self.above)

    def quantile(self, p: np.ndarray, domain: Domain) -> np.ndarray:
        """The inverse of `cdf_at`, in internal units (clipped to finite values)."""
        p = np.asarray(p, dtype=np.float64)
        lc_z = np.empty_like(p)  # log CDF of the standard normal at the answer
        za, zb = self.za, self.zb
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lo = p < self.below
            hi = p > 1.0 - self.above
            mid = ~(lo | hi)
            lc_z[lo] = np.log(p[lo] / self.below) + log_ndtr(za)
            ls_hi = np.log((1.0 - p[hi]) / self.above) + log_ndtr(-zb)
            pc = np.clip((p[mid] - self.below) / self.inside, 0.0, 1.0) if self.inside > 0 else np.zeros(mid.sum())
            if za + zb > 0:
                la, lb = log_ndtr(-za), log_ndtr(-zb)
                ls_mid = la + np.log1p(pc * np.expm1(lb - la))
                z_mid = -_ndtri_log(ls_mid)
            else:
                la, lb = log_ndtr(za), log_ndtr(zb)
                z_mid = _ndtri_log(lb + np.log((1.0 - pc) * np.exp(la - lb) + pc))
            z = np.empty_like(p)
            z[lo] = _ndtri_log(lc_z[lo])
            z[hi] = -_ndtri_log(ls_hi)
            z[mid] = z_mid
        z = np.clip(np.nan_to_num(z, nan=0.0, posinf=_Z_CLIP, neginf=-_Z_CLIP), -_Z_CLIP, _Z_CLIP)
        with np.errstate(over="ignore", invalid="ignore"):
            t = self.loc + self.scale * z
        return _x_of_t(self.transform, t, domain, self.origin)


def _ndtri_log(log_p: np.ndarray) -> np.ndarray:
    return ndtri_exp(np.minimum(log_p, 0.0))


def _fill(shape: np.ndarray, below: float, above: float) -> np.ndarray:
    """In-range shape (0 at u=0 rising to 1 at u=1) -> final CDF with exactly `below` and `above` beyond the bounds."""
    inside = max(0.0, 1.0 - below - above)
    cdf = below + inside * np.clip(shape, 0.0, 1.0)
    cdf[0], cdf[-1] = below, 1.0 - above
    return _tidy(cdf)


def _tidy(cdf: np.ndarray) -> np.ndarray:
    """Remove round-off: clip into [0, 1] and make non-decreasing."""
    cdf = np.clip(np.asarray(cdf, dtype=np.float64), 0.0, 1.0)
    return np.maximum.accumulate(cdf)


def _rescale(cdf: np.ndarray, tails: _Tails, domain: Domain, path: str) -> np.ndarray:
    """A CDF with its own tails -> the same in-range shape with the given tail masses replacing its own."""
    if tails.below is None and tails.above is None:
        return cdf
    span = cdf[-1] - cdf[0]
    if not span > 0:
        raise SpecError(path, "has no probability inside the range, so it cannot be rescaled to the given tail masses")
    own_below, own_above = float(cdf[0]), float(1.0 - cdf[-1])
    given_below, given_above = below, above = tails.fixed()
    # As for parametric shapes: an open side without a given mass keeps its own share of what the given side leaves.
    if domain.open_lower and tails.below is None:
        below = (1.0 - given_above) * own_below / (own_below + span)
    if domain.open_upper and tails.above is None:
        above = (1.0 - given_below) * own_above / (own_above + span)
    return _fill((cdf - cdf[0]) / span, float(below), float(above))


# ---------------------------------------------------------------------------------------------------------------
# Parsed forms. Parsing validates everything and converts units; building computes.


@dataclass(frozen=True)
class _Parametric:
    transform: str
    loc: float
    scale: float
    tails: _Tails
    origin: float = 0.0

    def build(self, domain: Domain) -> Distribution:
        model = _ParametricModel.build(self.transform, self.loc, self.scale, self.tails, domain, self.origin)
        return Distribution(cdf=model.grid_cdf(domain))


@dataclass(frozen=True)
class _Quantiles:
    p: np.ndarray  # total probabilities P(X <= x), increasing
    x: np.ndarray  # internal units, increasing
    tails: _Tails
    path: str  # of the points, relative to the whole spec (a quantiles spec may sit inside a mixture)
    shape: str = "fitted"  # "fitted" | "exact"

    def fit(self, domain: Domain) -> tuple[str, _ParametricModel]:
        """The (log)normal whose FINAL CDF (truncated at closed bounds, tails as the module docstring says) is closest
        in p to the typed points: least squares of final_cdf(x_i) - p_i, from the closed-form fit on the quantile
        function of the in-range conditional p. Returns the family and the final model."""
        if domain.scale == "linear":
            family, transform = "normal", "x"
        else:
            family, transform = "lognormal", "ln" if domain.scale == "log" else "ln_years"
        below, above = self.tails.fixed()
        pc = (self.p - below) / (1.0 - below - above)  # in-range conditional p when tail masses are given
        usable = (pc > 0) & (pc < 1)  # points beyond an open bound with a given mass have none
        if np.count_nonzero(usable) < 2:
            pc, usable = self.p, np.ones(self.p.size, dtype=bool)
        t = _t_of_x(transform, self.x, domain)  # ln x, or ln years after lower on a date scale
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a degenerate start is handled below
            loc, scale, _ = fit_normal_quantiles(pc[usable][None, :], t[usable][None, :])
        loc_value, scale_value = float(loc[0]), float(scale[0])
        if not (math.isfinite(scale_value) and scale_value > 0 and math.isfinite(loc_value)):
            # p's an ulp apart have equal z's, leaving no slope to regress: start from the spread of t instead, and
            # let the fit in p find the shape
            with np.errstate(over="ignore", invalid="ignore"):
                loc_value, scale_value = float(np.mean(t[usable])), float(np.std(t[usable]))
        if not (math.isfinite(scale_value) and scale_value > 0 and math.isfinite(loc_value)):
            raise SpecError(self.path, "these quantiles cannot be fitted (the fit is degenerate)")
        t_bounds = _t_of_x(transform, np.array([domain.lower, domain.upper]), domain)

        def final_cdf_rows(locs: np.ndarray, scales: np.ndarray) -> np.ndarray:
            """The final CDF at the typed x for several models at once (rows), as _ParametricModel computes it."""
            locs, scales = locs[:, None], scales[:, None]
            z_bounds = _z(t_bounds[None, :], locs, scales)
            za, zb = z_bounds[:, :1], z_bounds[:, 1:]
            below, above = _tail_masses(za, zb, self.tails, domain)
            return _final_cdf(_z(t[None, :], locs, scales), za, zb, below, above)

        loc_value, scale_value = refine_in_p(final_cdf_rows, self.p, loc_value, scale_value)
        return family, _ParametricModel.build(transform, loc_value, scale_value, self.tails, domain)

    def build(self, domain: Domain) -> Distribution:
        if self.shape == "exact":
            return self._build_exact(domain)
        family, model = self.fit(domain)
        fitted_p = model.cdf_at(self.x, domain)
        fitted_x = model.quantile(self.p, domain)
        residuals = [
            {"p": float(p), "x": domain.format_x(float(x)), "fitted_p": float(fp),
             "fitted_x": domain.format_x(float(fx))}
            for p, x, fp, fx in zip(self.p, self.x, fitted_p, fitted_x, strict=True)
        ]
        worst = float(np.max(np.abs(fitted_p - self.p)))
        params = ({"mu": model.loc, "sigma": model.scale} if family == "lognormal"
                  else {"mean": model.loc, "sd": model.scale})
        fit = Fit(family, params, residuals, worst, worst <= BAD_FIT_TOLERANCE)
        notes = () if fit.good else (
            f"a {family} fits these quantiles poorly: the largest CDF error is {worst:.3g} "
            f"(tolerance {BAD_FIT_TOLERANCE})",
        )
        return Distribution(cdf=model.grid_cdf(domain), fit=fit, notes=notes)

    def _build_exact(self, domain: Domain) -> Distribution:
        """A CDF through every typed point, interpolated in probit coordinates: z = Phi^-1(p) against u.

        A (log)normal is a straight line in (u, z) on a log (linear) axis, so typed quantiles of one are reproduced
        as that distribution, and other quantiles bend the line smoothly: the curve is a monotone cubic through all
        typed points (u_i, z_i), those beyond an open bound included (Fritsch-Carlson slopes inside, the outermost
        pair's slope at each end), continued as a straight line beyond the outermost points (a (log)normal tail).
        F = Phi(z) between the typed points inside the range. Between a bound and the nearest typed point inside,
        the curve is rescaled affinely in p so that it ends at the bound's anchor:
        - a closed side: 0 (1 above): the tail is truncated at the bound, as the fitted shape's is;
        - a given mass: exactly that mass;
        - a point exactly at an open bound (no mass given): its p;
        - otherwise the curve's own tail, Phi(z) at the bound: the mass of the (log)normal that continues the curve
          beyond the outermost typed point. It always lies between the p's typed on either side of the bound, and
          the density is continuous at the first typed point inside.
        Points beyond an open bound shape the curve (and so the tail it gives), but the canonical form holds no
        shape beyond a bound. Finally `_through_points` sets the grid so that its piecewise-linear CDF passes
        through each typed point exactly.
        """
        p, x = self.p, self.x
        with np.errstate(over="ignore"):
            u_all = domain.to_u(x)
        far = np.flatnonzero(~np.isfinite(u_all))
        if far.size:  # beyond an open bound, so far that its distance in range widths overflows
            raise SpecError(f"{self.path}[{int(far[0])}].x", "is too far outside the range to place on its axis")
        too_close = np.flatnonzero(np.diff(u_all) <= 0)
        if too_close.size:
            # distinct x can share one u where the axis is wider than float resolution (1e-300 to 1e300 on a log axis)
            raise SpecError(f"{self.path}[{int(too_close[0]) + 1}].x",
                            "is too close to the previous point to tell apart on the question's axis")
        z_all = ndtri(p)
        # Fritsch-Carlson slopes at the inner points; at the two outermost, the slope of the outermost pair.
        # (PCHIP's own end rule extrapolates a three-point slope and sets it to 0 when that changes sign, which
        # would make the continued tail flat: all the rest of the mass piled at the bound.) A slope equal to its
        # interval's secant keeps the cubic monotone whatever the slope at the other end.
        slopes = PchipInterpolator(u_all, z_all)(u_all, 1)
        secants = np.diff(z_all) / np.diff(u_all)
        slopes[0], slopes[-1] = secants[0], secants[-1]
        curve = CubicHermiteSpline(u_all, z_all, slopes)
        slope_first, slope_last = secants[0], secants[-1]

        def probit(u: np.ndarray) -> np.ndarray:
            inner = curve(np.clip(u, u_all[0], u_all[-1]))
            return np.where(u < u_all[0], z_all[0] + slope_first * (u - u_all[0]),
                            np.where(u > u_all[-1], z_all[-1] + slope_last * (u - u_all[-1]), inner))

        z_grid = probit(U_GRID)
        inside = (u_all > 0) & (u_all < 1)
        own_below, own_above = float(ndtr(z_grid[0])), float(ndtr(-z_grid[-1]))
        notes = []
        if not domain.open_lower:
            start = 0.0
        elif self.tails.below is not None:
            start = self.tails.below
        else:
            start = float(p[u_all == 0][0]) if np.any(u_all == 0) else own_below
            if not np.any(u_all == 0):
                notes.append(f"mass_below {start:.3g} continues the curve beyond the first point (none was given)")
        if not domain.open_upper:
            top = 1.0
        elif self.tails.above is not None:
            top = 1.0 - self.tails.above
        else:
            top = float(p[u_all == 1][0]) if np.any(u_all == 1) else 1.0 - own_above
            if not np.any(u_all == 1):
                notes.append(f"mass_above {1.0 - top:.3g} continues the curve beyond the last point (none was given)")

        target = ndtr(z_grid)
        u_in, p_in = u_all[inside], p[inside]
        if u_in.size:
            first, last = u_in[0], u_in[-1]
            # Rescale the outer pieces so they end at the anchors: cdf = start + (p_first - start) * (F - F(0)) /
            # (p_first - F(0)) below the first point; above the last, the mirror image in survival functions, which
            # keep their digits in the upper tail.
            low = np.less(U_GRID, first)
            span = p_in[0] - ndtr(z_grid[0])
            ramp = (target - ndtr(z_grid[0])) / span if span > 0 else U_GRID / first
            target = np.where(low, start + (p_in[0] - start) * ramp, target)
            high = np.greater(U_GRID, last)
            survival, span = ndtr(-z_grid), (1.0 - p_in[-1]) - ndtr(-z_grid[-1])
            ramp = (survival - ndtr(-z_grid[-1])) / span if span > 0 else (1.0 - U_GRID) / (1.0 - last)
            target = np.where(high, top - (top - p_in[-1]) * ramp, target)
        else:
            span = ndtr(z_grid[-1]) - ndtr(z_grid[0])
            ramp = (target - ndtr(z_grid[0])) / span if span > 0 else U_GRID
            target = start + (top - start) * ramp
        target = np.maximum.accumulate(np.clip(target, start, top))
        cdf = _through_points(target, u_in, p_in, start, top, np.flatnonzero(inside), self.path)
        cdf[0], cdf[-1] = start, top
        return Distribution(cdf=cdf, notes=tuple(notes))


def _through_points(target: np.ndarray, u: np.ndarray, p: np.ndarray, start: float, top: float,
                    index: np.ndarray, path: str) -> np.ndarray:
    """Grid values c (201, non-decreasing, c[0] = start, c[200] = top) whose linear interpolation in u passes
    through every (u[j], p[j]), 0 < u < 1, each node as close to `target` (a monotone CDF through the same points)
    as the points allow.

    Each point strictly inside grid step k ties its two nodes by (1 - w) c[k] + w c[k+1] = p (w its place in the
    step); a point on a node fixes it; two or more points in one step fix both nodes (the line through them). A
    forward pass over the constrained nodes carries the interval of values each node can take given everything to
    its left (an empty one: no non-decreasing grid CDF passes through the points, a SpecError naming the point);
    a backward pass picks, within those intervals, the value nearest the target. Nodes between constrained ones keep
    the target, clipped between their constrained neighbours. The loops run over typed points, never grid points.
    """
    n = N_POINTS - 1
    steps = u * n
    k = np.minimum(np.floor(steps).astype(np.int64), n - 1)
    w = steps - k

    def refuse(j: int) -> SpecError:
        where = f"{path}[{int(index[j])}].x" if j >= 0 else path
        return SpecError(where, "cannot be met exactly: the stored CDF is linear within each 1/200 of the axis, and "
                                "no non-decreasing CDF on that grid passes through this point and the points or bounds "
                                "next to it; move it further from them, or use the fitted shape")

    fixed: dict[int, tuple[float, int]] = {0: (start, -1), n: (top, -1)}  # node -> (value, point that fixed it)

    def fix(node: int, value: float, j: int) -> None:
        if node in fixed and abs(fixed[node][0] - value) > _EXACT_SLACK:
            raise refuse(j)
        fixed[node] = (value, j)

    in_step: dict[int, list[int]] = {}
    for j in range(u.size):
        if w[j] < _NODE_SNAP:
            fix(int(k[j]), float(p[j]), j)
        elif w[j] > 1 - _NODE_SNAP:
            fix(int(k[j]) + 1, float(p[j]), j)
        else:
            in_step.setdefault(int(k[j]), []).append(j)
    equation: dict[int, tuple[float, float, int]] = {}  # step k -> (w, p, point)
    for step, members in in_step.items():
        if len(members) == 1:
            j = members[0]
            equation[step] = (float(w[j]), float(p[j]), j)
            continue
        first, last = members[0], members[-1]
        slope = (p[last] - p[first]) / (steps[last] - steps[first])  # per grid step
        for j in members[1:-1]:
            if abs(p[first] + slope * (steps[j] - steps[first]) - p[j]) > _EXACT_SLACK:
                raise SpecError(f"{path}[{int(index[j])}].x",
                                f"lies in the same 1/200 of the axis as points[{int(index[first])}] and "
                                f"points[{int(index[last])}], where the stored CDF is one straight line, and not on "
                                "the line through them; move it, or use the fitted shape")
        fix(step, float(p[first] - slope * w[first]), first)
        fix(step + 1, float(p[first] + slope * (1 - w[first])), last)

    if equation:
        # Each step's line misses its point by the target's curvature there. Share the correction between the two
        # nodes in proportion to their weights, the smallest change that meets the point (least squares), so that
        # neither node moves far and the density on either side stays close to the target's; the passes below then
        # pick exactly these values wherever they are feasible.
        steps_at = np.fromiter(equation, dtype=np.int64)
        w_at = np.array([equation[step][0] for step in equation])
        miss = np.array([equation[step][1] for step in equation]) - (
            (1 - w_at) * target[steps_at] + w_at * target[steps_at + 1])
        share = miss / ((1 - w_at) ** 2 + w_at**2)
        target = target.copy()
        np.add.at(target, steps_at, (1 - w_at) * share)
        np.add.at(target, steps_at + 1, w_at * share)
    nodes = sorted(set(fixed) | set(equation) | {step + 1 for step in equation})
    bounds = {0: (start, start)}
    lo = hi = start
    culprit = -1
    for prev, node in itertools.pairwise(nodes):
        if prev in equation and node == prev + 1:
            wj, pj, j = equation[prev]
            low_end, high_end = lo, min(hi, pj)  # c[prev] <= p <= c[node]
            if low_end > high_end + _EXACT_SLACK:
                raise refuse(j)
            high_end = max(high_end, low_end)
            lo, hi = (pj - (1 - wj) * high_end) / wj, (pj - (1 - wj) * low_end) / wj
            culprit = j
        else:
            hi = top
        hi = min(hi, top)
        if node in fixed:
            value, j = fixed[node]
            culprit = j if j >= 0 else culprit
            if not lo - _EXACT_SLACK <= value <= hi + _EXACT_SLACK:
                raise refuse(culprit)
            lo = hi = value
        if lo > hi + _EXACT_SLACK:
            raise refuse(culprit)
        bounds[node] = (lo, max(lo, hi))
    values = {n: top}
    for prev, node in zip(nodes[-2::-1], nodes[:0:-1], strict=True):
        lo, hi = bounds[prev]
        if prev in equation and node == prev + 1:
            wj, pj, _ = equation[prev]
            value = (pj - wj * values[node]) / (1 - wj)
        else:
            value = float(target[prev])
        values[prev] = min(max(value, lo), hi, values[node])
    at = np.array(nodes)
    chosen = np.array([values[m] for m in nodes])
    floor = np.full(N_POINTS, -np.inf)
    floor[at] = chosen
    ceiling = np.full(N_POINTS, np.inf)
    ceiling[at] = chosen
    cdf = np.clip(target, np.maximum.accumulate(floor), np.minimum.accumulate(ceiling[::-1])[::-1])
    cdf[at] = chosen
    return _tidy(cdf)


@dataclass(frozen=True)
class _Histogram:
    u_lo: np.ndarray
    u_hi: np.ndarray
    p: np.ndarray
    tails: _Tails

    def build(self, domain: Domain) -> Distribution:
        below, above = self.tails.fixed()
        cum = np.cumsum(self.p)
        # Knots of the piecewise-linear CDF in u: flat density within each bin, nothing in the gaps between bins.
        knots_u = np.concatenate([[0.0], np.column_stack([self.u_lo, self.u_hi]).ravel(), [1.0]])
        knots_c = np.concatenate([[0.0], np.column_stack([cum - self.p, cum]).ravel(), [cum[-1]]])
        shape = np.interp(U_GRID, knots_u, knots_c / cum[-1])
        shape[0] = 0.0  # a zero-width first bin at u=0 would otherwise leak its mass into the tail
        return Distribution(cdf=_fill(shape, below, above))


@dataclass(frozen=True)
class _Cdf:
    values: np.ndarray
    tails: _Tails
    path: str

    def build(self, domain: Domain) -> Distribution:
        return Distribution(cdf=_rescale(self.values, self.tails, domain, self.path))


@dataclass(frozen=True)
class _Mixture:
    weights: np.ndarray
    components: tuple
    tails: _Tails
    path: str
    note: str | None

    def build(self, domain: Domain) -> Distribution:
        built = [component.build(domain) for component in self.components]
        pooled = self.weights @ np.stack([d.cdf for d in built])
        if not domain.open_lower:
            pooled[0] = 0.0  # exact, despite the weights' round-off
        if not domain.open_upper:
            pooled[-1] = 1.0
        pooled = _tidy(pooled)
        notes = [self.note] if self.note else []
        for i, d in enumerate(built):
            notes.extend(f"components[{i}]: {n}" for n in d.notes)
        return Distribution(cdf=_rescale(pooled, self.tails, domain, self.path), notes=tuple(notes))


def _parse(spec: object, domain: Domain, prefix: str, depth: int, leaves: list[int]):
    if not isinstance(spec, dict):
        raise SpecError(_where(prefix), "must be an object with a 'type'")
    kind = spec.get("type")
    if "type" not in spec:
        raise SpecError(prefix + "type", "is required")
    if not isinstance(kind, str) or kind not in SPEC_TYPES:
        raise SpecError(prefix + "type", f"must be one of {', '.join(SPEC_TYPES)}")
    if kind != "mixture":
        leaves[0] += 1
        if leaves[0] > MAX_LEAVES:
            raise SpecError(_where(prefix), f"the spec holds more than {MAX_LEAVES} distributions in all")
    tail_keys = {"mass_below", "mass_above"}
    base = {"type"}
    if kind == "quantiles":
        _check_keys(spec, prefix, base | {"points"}, tail_keys | {"shape"})
        return _parse_quantiles(spec, domain, prefix)
    if kind == "trend":
        _check_keys(spec, prefix, base | {"value", "at", "doubling_months"}, tail_keys | {"at_date"})
        return _parse_trend(spec, domain, prefix)
    if kind == "lognormal":
        if "low" in spec or "high" in spec:
            if "median" in spec or "sigma" in spec:
                raise SpecError(prefix + ("median" if "median" in spec else "sigma"),
                                "give either median and sigma, or low and high (a 90% interval), not both")
            _check_keys(spec, prefix, base | {"low", "high"}, tail_keys)
        else:
            _check_keys(spec, prefix, base | {"median", "sigma"}, tail_keys)
        return _parse_lognormal(spec, domain, prefix)
    if kind == "normal":
        _check_keys(spec, prefix, base | {"mean", "sd"}, tail_keys)
        tails = _parse_tails(spec, domain, prefix)
        mean = parse_number(spec["mean"], prefix + "mean")
        sd = _positive(spec["sd"], prefix + "sd")
        return _Parametric("years" if domain.scale == "date" else "x", mean, sd, tails)
    if kind == "histogram":
        _check_keys(spec, prefix, base | {"bins"}, tail_keys)
        return _parse_histogram(spec, domain, prefix)
    if kind == "cdf":
        _check_keys(spec, prefix, base | {"cdf"}, tail_keys)
        return _parse_cdf(spec, domain, prefix)
    _check_keys(spec, prefix, base | {"components"}, tail_keys)
    return _parse_mixture(spec, domain, prefix, depth, leaves)


def _parse_lognormal(spec: dict, domain: Domain, prefix: str) -> _Parametric:
    tails = _parse_tails(spec, domain, prefix)
    transform = "ln_years" if domain.scale == "date" else "ln"

    def positive_x(key: str) -> float:
        if domain.scale == "date":
            days = domain.parse_x(spec[key], prefix + key)
            if days <= domain.lower:
                raise SpecError(prefix + key,
                                "must be after the lower bound (a lognormal here measures years after it)")
            return (days - domain.lower) / DAYS_PER_YEAR
        value = parse_number(spec[key], prefix + key)
        if value <= 0:
            raise SpecError(prefix + key, "must be > 0 for a lognormal")
        return value

    if "median" in spec:
        median = positive_x("median")
        sigma = _positive(spec["sigma"], prefix + "sigma")
        return _Parametric(transform, math.log(median), sigma, tails)
    low, high = positive_x("low"), positive_x("high")
    if not high > low:
        raise SpecError(prefix + "high", "must be greater than low")
    mu, sigma = lognormal_from_interval(low, high)
    if not sigma > 0:
        raise SpecError(prefix + "high", "is too close to low to define a spread")
    return _Parametric(transform, float(mu), float(sigma), tails)


def _parse_quantiles(spec: dict, domain: Domain, prefix: str) -> _Quantiles:
    shape = spec.get("shape", "fitted")
    if not isinstance(shape, str) or shape not in QUANTILE_SHAPES:
        raise SpecError(prefix + "shape", 'must be "fitted" (a lognormal or normal) or "exact" (through every point)')
    tails = _parse_tails(spec, domain, prefix)
    below, above = tails.fixed()
    points = _list(spec["points"], prefix + "points", 2)
    ps: list[float] = []
    xs: list[float] = []
    for i, point in enumerate(points):
        where = f"{prefix}points[{i}]"
        if not isinstance(point, dict):
            raise SpecError(where, "must be an object {p, x}")
        _check_keys(point, where + ".", {"p", "x"}, set())
        p = parse_number(point["p"], where + ".p")
        if not 0 < p < 1:
            raise SpecError(where + ".p", "must be strictly between 0 and 1")
        if ps and p <= ps[-1]:
            raise SpecError(where + ".p", "must be greater than the previous point's p (quantiles in increasing order)")
        x = domain.parse_x(point["x"], where + ".x")
        if xs and x <= xs[-1]:
            raise SpecError(where + ".x", "must be greater than the previous point's x (quantiles in increasing order)")
        if not domain.open_lower and x < domain.lower:
            raise SpecError(where + ".x", "is below the closed lower bound")
        if not domain.open_upper and x > domain.upper:
            raise SpecError(where + ".x", "is above the closed upper bound")
        if domain.scale == "date" and x <= domain.lower:
            raise SpecError(where + ".x",
                            "must be after the lower bound (the fitted lognormal measures years after it)")
        if shape == "exact":
            # At a bound the total probability is already fixed (0 on a closed side, the given mass on an open one);
            # a point there could only repeat it, so it is refused rather than silently ignored.
            for bound, fixed_there, what in (
                (domain.lower, not domain.open_lower or tails.below is not None,
                 f"mass_below ({below:g})" if domain.open_lower else "0 (the bound is closed)"),
                (domain.upper, not domain.open_upper or tails.above is not None,
                 f"1 - mass_above ({1 - above:g})" if domain.open_upper else "1 (the bound is closed)"),
            ):
                if x == bound and fixed_there:
                    raise SpecError(where + ".x", f"is the bound itself, where the total probability is {what}; "
                                                  "move the point inside the range")
        # p is the total probability up to x, so where x lies beyond an open bound with a given mass, p is bounded by
        # that mass; inside the range it lies strictly between the masses.
        if x < domain.lower:
            if tails.below is not None and p > below:
                raise SpecError(where + ".p", f"can be at most mass_below ({below:g}): x is below the lower bound and "
                                              "p is the total probability up to x")
        elif tails.below is not None and p <= below:
            raise SpecError(where + ".p", f"must exceed mass_below ({below:g}): p is the total probability up to x")
        if x > domain.upper:
            if tails.above is not None and p < 1 - above:
                raise SpecError(where + ".p", f"must be at least 1 - mass_above ({1 - above:g}): x is above the upper "
                                              "bound and p is the total probability up to x")
        elif tails.above is not None and p >= 1 - above:
            raise SpecError(where + ".p",
                            f"must be below 1 - mass_above ({1 - above:g}): p is the total probability up to x")
        ps.append(p)
        xs.append(x)
    return _Quantiles(np.array(ps), np.array(xs), tails, prefix + "points", shape)


def _parse_trend(spec: dict, domain: Domain, prefix: str) -> _Parametric:
    """X = value * 2^(t/d): t months from `at` to `at_date` (or the question's horizon), d the doubling time in
    months, lognormal with the 90% interval `doubling_months` {low, high}.

    Since t > 0 and d > 0, ln ln(X / value) = ln(t ln 2) - ln d is normal: mean ln(t ln 2) - mu_d, sd sigma_d (the
    "lnln" transform). So P(X <= x) = Phi((ln ln(x / value) - ln(t ln 2) + mu_d) / sigma_d) for x > value, 0 below:
    a closed form, sampled on the grid like any (log)normal, with the same tail rules.
    """
    if domain.scale != "log":
        raise SpecError(prefix + "type", "a trend is for log-scale questions only (it grows a value by doublings)")
    tails = _parse_tails(spec, domain, prefix)
    value = domain.parse_x(spec["value"], prefix + "value")
    if value >= domain.upper:
        raise SpecError(prefix + "value", "must be below the upper bound: a trend only grows from its value, so all "
                                          "probability would lie above the range")
    start = parse_date(spec["at"], prefix + "at")
    doubling = spec["doubling_months"]
    where = prefix + "doubling_months"
    if not isinstance(doubling, dict):
        raise SpecError(where, "must be an object {low, high}: a 90% interval for the doubling time in months")
    _check_keys(doubling, where + ".", {"low", "high"}, set())
    low = _positive(doubling["low"], where + ".low")
    high = _positive(doubling["high"], where + ".high")
    if not high > low:
        raise SpecError(where + ".high", "must be greater than low")
    if "at_date" in spec:
        end = parse_date(spec["at_date"], prefix + "at_date")
        if not end > start:
            raise SpecError(prefix + "at_date", "must be after at (the date of the value)")
    elif domain.horizon is None:
        raise SpecError(prefix + "at_date", "is required: the question has no resolution date to extrapolate to")
    else:
        end = domain.horizon
        if not end > start:
            raise SpecError(prefix + "at", f"must be before the question's resolution date ({format_date(end)}), "
                                           "or give at_date")
    months = (end - start) / DAYS_PER_MONTH
    mu_d, sigma_d = lognormal_from_interval(low, high)
    if not sigma_d > 0:
        raise SpecError(where + ".high", "is too close to low to define a spread")
    return _Parametric("lnln", math.log(months * math.log(2.0)) - float(mu_d), float(sigma_d), tails, value)


def _parse_histogram(spec: dict, domain: Domain, prefix: str) -> _Histogram:
    tails = _parse_tails(spec, domain, prefix)
    bins = _list(spec["bins"], prefix + "bins", 1)
    los: list[float] = []
    his: list[float] = []
    ps: list[float] = []
    for i, b in enumerate(bins):
        where = f"{prefix}bins[{i}]"
        if not isinstance(b, dict):
            raise SpecError(where, "must be an object {lo, hi, p}")
        _check_keys(b, where + ".", {"lo", "hi", "p"}, set())
        lo = domain.parse_x(b["lo"], where + ".lo")
        hi = domain.parse_x(b["hi"], where + ".hi")
        p = parse_number(b["p"], where + ".p")
        if p < 0:
            raise SpecError(where + ".p", "must be >= 0")
        if not hi > lo:
            raise SpecError(where + ".hi", "must be greater than lo")
        if lo < domain.lower:
            raise SpecError(where + ".lo", "is below the lower bound (tail mass goes in mass_below)")
        if hi > domain.upper:
            raise SpecError(where + ".hi", "is above the upper bound (tail mass goes in mass_above)")
        if his and lo < his[-1]:
            raise SpecError(where + ".lo", f"overlaps or comes before bins[{i - 1}] (bins must be in order)")
        los.append(lo)
        his.append(hi)
        ps.append(p)
    below, above = tails.fixed()
    try:
        in_range = math.fsum(ps)
    except OverflowError:  # each p is finite, but 1e308 + 1e308 is not
        raise SpecError(prefix + "bins", "the bins' p sum past the largest float; they must sum to 1") from None
    total = in_range + below + above
    if abs(total - 1.0) > HISTOGRAM_TOLERANCE:
        raise SpecError(prefix + "bins", f"bin probabilities plus tail masses sum to {total:.9g}; they must sum to 1")
    # The tails always leave some mass for the range (mass_below + mass_above < 1), and the bins' p give its shape
    # (they are rescaled to fill it), so bins that are all 0 have no shape to rescale even when the sum above is
    # within HISTOGRAM_TOLERANCE of 1.
    if not in_range > 0:
        raise SpecError(prefix + "bins", f"the bins' total p must be above 0 when mass is left for the range "
                                         f"(mass_below + mass_above leave {1.0 - below - above:.3g} for it)")
    u_lo = np.clip(domain.to_u(np.array(los)), 0.0, 1.0)
    u_hi = np.clip(domain.to_u(np.array(his)), 0.0, 1.0)
    return _Histogram(u_lo, u_hi, np.array(ps), tails)


def _parse_cdf(spec: dict, domain: Domain, prefix: str) -> _Cdf:
    values = parse_cdf_values(spec["cdf"], domain, prefix + "cdf")
    return _Cdf(values, _parse_tails(spec, domain, prefix), prefix + "cdf")


def parse_cdf_values(values: object, domain: Domain, path: str) -> np.ndarray:
    """Validate a 201-point CDF on the question's grid (also used for imports) and return it as float64."""
    if not isinstance(values, list | tuple | np.ndarray):
        raise SpecError(path, f"must be a list of {N_POINTS} numbers")
    if len(values) != N_POINTS:
        raise SpecError(path, f"must have exactly {N_POINTS} values, got {len(values)}")
    out = np.empty(N_POINTS)
    for i, v in enumerate(values):
        out[i] = parse_number(v, f"{path}[{i}]")  # a 400-digit integer is refused here, not overflowed
        if not 0 <= out[i] <= 1:
            raise SpecError(f"{path}[{i}]", "must be within [0, 1]")
        if i and out[i] < out[i - 1] - CDF_TOLERANCE:
            raise SpecError(f"{path}[{i}]", "is less than the value before it (a CDF must be non-decreasing)")
    if not domain.open_lower:
        if out[0] > CDF_TOLERANCE:
            raise SpecError(f"{path}[0]", "must be 0: the lower bound is closed")
        out[0] = 0.0
    if not domain.open_upper:
        if out[-1] < 1 - CDF_TOLERANCE:
            raise SpecError(f"{path}[{N_POINTS - 1}]", "must be 1: the upper bound is closed")
        out[-1] = 1.0
    return np.maximum.accumulate(out)


def _parse_mixture(spec: dict, domain: Domain, prefix: str, depth: int, leaves: list[int]) -> _Mixture:
    if depth > MAX_MIXTURE_DEPTH:
        raise SpecError(_where(prefix), f"mixtures may be nested at most {MAX_MIXTURE_DEPTH} deep")
    tails = _parse_tails(spec, domain, prefix)
    components = _list(spec["components"], prefix + "components", 1)
    weights, parsed = [], []
    for i, c in enumerate(components):
        where = f"{prefix}components[{i}]"
        if not isinstance(c, dict):
            raise SpecError(where, "must be an object {weight, spec}")
        _check_keys(c, where + ".", {"weight", "spec"}, set())
        weights.append(_positive(c["weight"], where + ".weight"))
        parsed.append(_parse(c["spec"], domain, where + ".spec.", depth + 1, leaves))
    try:
        total = math.fsum(weights)  # raises rather than returning inf when finite weights overflow (1e308 + 1e308)
    except OverflowError:
        total = math.inf
    if not math.isfinite(total):
        raise SpecError(prefix + "components", "the weights' sum overflows; give weights with a finite sum, "
                                               "such as fractions summing to 1")
    note = None
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        note = f"mixture weights summed to {total:.6g} and were normalised"
    return _Mixture(np.array(weights) / total, tuple(parsed), tails, prefix + "components", note)


def from_spec(spec: object, domain: Domain) -> Distribution:
    """Validate `spec` completely (raising SpecError naming the field and the rule), then build its canonical CDF."""
    parsed = _parse(spec, domain, "", 1, [0])
    return parsed.build(domain)


# ---------------------------------------------------------------------------------------------------------------
# Summaries


def summarize(cdf: np.ndarray, domain: Domain) -> dict:
    """Headline numbers of a canonical CDF, in question units (floats, or ISO dates on a date scale).

    - p5 ... p95 and the median are quantiles of the TOTAL distribution (tail masses included), read off the
      piecewise-linear CDF; a quantile that falls in the mass beyond an open bound is None.
    - mean is the mean of the in-range part only (the tails have no location); density is flat in u within each bin,
      so on a log scale each bin contributes its logarithmic mean. None if nothing lies in range.
    - mode is the centre of the bin with the highest density on the question's axis u (on a log scale: the mode in
      log space). None if nothing lies in range.
    """
    cdf = np.asarray(cdf, dtype=np.float64)
    m = masses(cdf)
    bins = np.clip(m[1:-1], 0.0, None)
    inside = float(bins.sum())
    out: dict = {}
    if inside > 0:
        u_lo, u_hi = U_GRID[:-1], U_GRID[1:]
        x_grid = domain.from_u(U_GRID)  # elementwise, so the same values as from_u of each end separately
        x_lo, x_hi = x_grid[:-1], x_grid[1:]
        if domain.scale == "log":
            # Mean of x when ln x is uniform on the bin: x_lo (e^d - 1) / d with d its width in ln x. expm1 keeps
            # it exact on narrow ranges, where (x_hi - x_lo) / d loses every digit to cancellation.
            d = math.log(domain.upper / domain.lower) * (u_hi - u_lo)
            centre = x_lo * (np.expm1(d) / d)
        else:
            centre = x_lo + (x_hi - x_lo) / 2  # not (x_lo + x_hi) / 2, which overflows near the largest floats
        # The mean of the in-range part lies in the range; rounding in the sum can step an ulp outside it.
        mean = min(max(float(bins @ centre / inside), domain.lower), domain.upper)
        out["mean"] = domain.format_x(mean)
        best = int(np.argmax(bins))
        out["mode"] = domain.format_x(float(domain.from_u((u_lo[best] + u_hi[best]) / 2)))
    else:
        out["mean"] = out["mode"] = None
    names = ("p5", "p25", "median", "p75", "p95")
    for name, x in zip(names, _quantiles(cdf, np.array([0.05, 0.25, 0.5, 0.75, 0.95]), domain), strict=True):
        out[name] = domain.format_x(x)
    out["mass_below"] = float(m[0])
    out["mass_above"] = float(m[-1])
    return {k: out[k] for k in ("mean", "median", "mode", "p5", "p25", "p75", "p95", "mass_below", "mass_above")}


def _quantiles(cdf: np.ndarray, qs: np.ndarray, domain: Domain) -> list[float | None]:
    """The quantiles `qs` of the total distribution, read off the piecewise-linear CDF in u; None for one in the
    mass beyond a bound, the lower bound itself for one at or below the CDF's first point."""
    i = np.searchsorted(cdf, qs, side="left")
    below, above = np.maximum(i - 1, 0), np.minimum(i, len(cdf) - 1)  # clamped; the ends are decided below
    c0, c1 = cdf[below], cdf[above]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(c1 > c0, (qs - c0) / (c1 - c0), 1.0)
    u = U_GRID[below] + frac * (U_GRID[above] - U_GRID[below])
    xs = domain.from_u(u)
    return [None if q < cdf[0] or q > cdf[-1] else float(domain.lower) if k == 0 else float(x)
            for q, k, x in zip(qs, i, xs, strict=True)]


