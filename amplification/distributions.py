"""Distribution specs (the JSON a person types) -> the canonical 201-point CDF on the question's grid.

Every spec is validated completely before anything is computed: a bad one raises `SpecError` naming the field
(relative to the spec) and the rule. Tail-mass rules, shared by all forms:

- on a CLOSED side the mass beyond the bound is 0: a parametric shape is truncated there and renormalised, and giving
  ``mass_below``/``mass_above`` on that side is an error;
- on an OPEN side a given ``mass_below``/``mass_above`` is the EXACT final mass beyond the bound, and the in-range
  shape is rescaled to fill the rest; when it is not given, the form's own tail becomes the mass there (a
  parametric's tail beyond the bound, the first/last value of a ``cdf``, the pooled tails of a ``mixture``; a
  histogram has no tail of its own, so 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_ndtr, ndtri_exp

from .errors import SpecError
from .fitting import fit_normal_quantiles, lognormal_from_interval
from .grid import DAYS_PER_YEAR, MAX_POINTS, N_POINTS, U_GRID, Domain, parse_number

BAD_FIT_TOLERANCE = 0.05  # a quantile fit is flagged "not good" when some |model CDF(x) - p| exceeds this
CDF_TOLERANCE = 1e-10  # slack for imported CDFs: a decrease this small, or cdf[0] this far from 0, is round-off
HISTOGRAM_TOLERANCE = 1e-6  # histogram p's plus tail masses must sum to 1 within this
WEIGHT_TOLERANCE = 1e-12  # mixture weights further than this from summing to 1 are normalised, with a note
MAX_MIXTURE_DEPTH = 3  # a mixture inside a mixture inside a mixture, no deeper
MAX_LEAVES = MAX_POINTS  # non-mixture specs in one spec tree, so nesting cannot multiply the work
_Z_CLIP = 1e150  # standardised values are clipped here: z**2 stays finite and ln(0) = -inf becomes a usable number

SPEC_TYPES = ("quantiles", "lognormal", "normal", "histogram", "cdf", "mixture")


@dataclass(frozen=True)
class Fit:
    """How well a parametric family captures the quantiles a person gave."""

    family: str  # "lognormal" | "normal"
    params: dict  # lognormal: {"mu", "sigma"} of ln X (of ln(years after lower) on a date scale); normal: {"mean", "sd"}
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
# "ln_years": t = ln(years after lower).


def _t_of_x(transform: str, x: np.ndarray, domain: Domain) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "x":
            return x
        if transform == "ln":
            return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)
        years = (x - domain.lower) / DAYS_PER_YEAR
        if transform == "years":
            return years
        return np.where(years > 0, np.log(np.where(years > 0, years, 1.0)), -np.inf)


def _x_of_t(transform: str, t: np.ndarray, domain: Domain) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    big = np.finfo(np.float64).max
    with np.errstate(over="ignore", invalid="ignore"):
        if transform == "x":
            x = t
        elif transform == "ln":
            x = np.exp(np.clip(t, -745.0, 709.0))
        elif transform == "years":
            x = domain.lower + DAYS_PER_YEAR * t
        else:
            x = domain.lower + DAYS_PER_YEAR * np.exp(np.clip(t, -745.0, 700.0))
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=big, neginf=-big), -big, big)


def _z(t: np.ndarray, loc: float, scale: float) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        z = (np.asarray(t, dtype=np.float64) - loc) / scale
    return np.clip(np.nan_to_num(z, nan=0.0, posinf=_Z_CLIP, neginf=-_Z_CLIP), -_Z_CLIP, _Z_CLIP)


def _conditional(z: np.ndarray, za: float, zb: float) -> np.ndarray:
    """P(Z <= z | za <= Z <= zb) for standard normal Z and z in [za, zb].

    Computed from log CDFs (or log survival functions when the range lies in the upper tail) so a range 700
    standard deviations from the median still gets its correct, steeply falling shape instead of 0/0.
    """
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if za + zb > 0:
            la, lb, lz = log_ndtr(-za), log_ndtr(-zb), log_ndtr(-z)
            num = -np.expm1(lz - la)
            den = -np.expm1(lb - la)
        else:
            la, lb, lz = log_ndtr(za), log_ndtr(zb), log_ndtr(z)
            num = np.exp(lz - lb) * -np.expm1(la - lz)
            den = -np.expm1(la - lb)
    if not (den > 0 and math.isfinite(den)):
        # The range is too narrow in z to resolve (a huge sigma: flat) or lies entirely at the clip (a tiny sigma far
        # away: all mass piles at the near bound).
        if za > 0 and zb > 0 and zb - za <= 0:
            return np.where(z > za, 1.0, 0.0)
        if za < 0 and zb < 0 and zb - za <= 0:
            return np.where(z >= zb, 1.0, 0.0)
        return np.clip((z - za) / (zb - za), 0.0, 1.0) if zb > za else np.linspace(0.0, 1.0, z.size)
    return np.clip(np.nan_to_num(num / den, nan=0.0), 0.0, 1.0)


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

    @classmethod
    def build(cls, transform: str, loc: float, scale: float, tails: _Tails, domain: Domain) -> _ParametricModel:
        za, zb = _z(_t_of_x(transform, np.array([domain.lower, domain.upper]), domain), loc, scale)
        za, zb = float(za), float(zb)
        given_below, given_above = below, above = tails.fixed()
        # An open side without a given mass keeps the parametric tail, as a share of what the given mass on the
        # other side leaves: P(X < lower | X <= upper) * (1 - mass_above), and the mirror image.
        if domain.open_lower and tails.below is None:
            cut = log_ndtr(zb) if tails.above is not None else 0.0
            below = (1.0 - given_above) * float(np.exp(log_ndtr(za) - cut))
        if domain.open_upper and tails.above is None:
            cut = log_ndtr(-za) if tails.below is not None else 0.0
            above = (1.0 - given_below) * float(np.exp(log_ndtr(-zb) - cut))
        return cls(transform, loc, scale, za, zb, min(below, 1.0), min(above, 1.0))

    @property
    def inside(self) -> float:
        return max(0.0, 1.0 - self.below - self.above)

    def grid_cdf(self, domain: Domain) -> np.ndarray:
        z = _z(_t_of_x(self.transform, domain.x_grid(), domain), self.loc, self.scale)
        z[0], z[-1] = self.za, self.zb
        shape = _conditional(z, self.za, self.zb)
        shape[0], shape[-1] = 0.0, 1.0
        return _fill(shape, self.below, self.above)

    def cdf_at(self, x: np.ndarray, domain: Domain) -> np.ndarray:
        """The final CDF at any x, tails included: beyond a bound the tail mass keeps the parametric shape."""
        z = _z(_t_of_x(self.transform, x, domain), self.loc, self.scale)
        out = np.empty_like(z)
        lo, hi = z < self.za, z > self.zb
        mid = ~(lo | hi)
        out[mid] = self.below + self.inside * _conditional(z[mid], self.za, self.zb)
        with np.errstate(over="ignore", invalid="ignore"):
            out[lo] = self.below * np.exp(log_ndtr(z[lo]) - log_ndtr(self.za))
            out[hi] = 1.0 - self.above * np.exp(log_ndtr(-z[hi]) - log_ndtr(-self.zb))
        return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)

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
        return _x_of_t(self.transform, t, domain)


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

    def build(self, domain: Domain) -> Distribution:
        model = _ParametricModel.build(self.transform, self.loc, self.scale, self.tails, domain)
        return Distribution(cdf=model.grid_cdf(domain))


@dataclass(frozen=True)
class _Quantiles:
    p: np.ndarray
    x: np.ndarray  # internal units
    tails: _Tails
    path: str  # of the points, relative to the whole spec (a quantiles spec may sit inside a mixture)

    def build(self, domain: Domain) -> Distribution:
        below, above = self.tails.fixed()
        pc = (self.p - below) / (1.0 - below - above)  # in-range conditional p when tail masses are given
        if domain.scale == "linear":
            family, transform = "normal", "x"
            loc, scale, _ = fit_normal_quantiles(pc[None, :], self.x[None, :])
        else:
            family, transform = "lognormal", "ln" if domain.scale == "log" else "ln_years"
            # fit in t = ln x (ln years after lower on a date scale): the same regression fit_lognormal_quantiles does
            loc, scale, _ = fit_normal_quantiles(pc[None, :], _t_of_x(transform, self.x, domain)[None, :])
        loc_value, scale_value = float(loc[0]), float(scale[0])
        if not (math.isfinite(scale_value) and scale_value > 0 and math.isfinite(loc_value)):
            raise SpecError(self.path, "these quantiles cannot be fitted (the fit is degenerate)")
        model = _ParametricModel.build(transform, loc_value, scale_value, self.tails, domain)
        fitted_p = model.cdf_at(self.x, domain)
        fitted_x = model.quantile(self.p, domain)
        residuals = [
            {"p": float(p), "x": domain.format_x(float(x)), "fitted_p": float(fp), "fitted_x": domain.format_x(float(fx))}
            for p, x, fp, fx in zip(self.p, self.x, fitted_p, fitted_x, strict=True)
        ]
        worst = float(np.max(np.abs(fitted_p - self.p)))
        params = ({"mu": loc_value, "sigma": scale_value} if family == "lognormal"
                  else {"mean": loc_value, "sd": scale_value})
        fit = Fit(family, params, residuals, worst, worst <= BAD_FIT_TOLERANCE)
        notes = () if fit.good else (
            f"a {family} fits these quantiles poorly: the largest CDF error is {worst:.3g} (tolerance {BAD_FIT_TOLERANCE})",
        )
        return Distribution(cdf=model.grid_cdf(domain), fit=fit, notes=notes)


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
        _check_keys(spec, prefix, base | {"points"}, tail_keys)
        return _parse_quantiles(spec, domain, prefix)
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
                raise SpecError(prefix + key, "must be after the lower bound (a lognormal here measures years after it)")
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
        if tails.below is not None and p <= below:
            raise SpecError(where + ".p", f"must exceed mass_below ({below:g}): p is the total probability up to x")
        if tails.above is not None and p >= 1 - above:
            raise SpecError(where + ".p", f"must be below 1 - mass_above ({1 - above:g}): p is the total probability up to x")
        x = domain.parse_x(point["x"], where + ".x")
        if xs and x <= xs[-1]:
            raise SpecError(where + ".x", "must be greater than the previous point's x (quantiles in increasing order)")
        if not domain.open_lower and x < domain.lower:
            raise SpecError(where + ".x", "is below the closed lower bound")
        if not domain.open_upper and x > domain.upper:
            raise SpecError(where + ".x", "is above the closed upper bound")
        if domain.scale == "date" and x <= domain.lower:
            raise SpecError(where + ".x", "must be after the lower bound (the fitted lognormal measures years after it)")
        ps.append(p)
        xs.append(x)
    return _Quantiles(np.array(ps), np.array(xs), tails, prefix + "points")


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
    return _Cdf(parse_cdf_values(spec["cdf"], domain, prefix + "cdf"), _parse_tails(spec, domain, prefix), prefix + "cdf")


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
        x_lo, x_hi = domain.from_u(u_lo), domain.from_u(u_hi)
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
    for name, q in (("p5", 0.05), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p95", 0.95)):
        out[name] = domain.format_x(_quantile(cdf, q, domain))
    out["mass_below"] = float(m[0])
    out["mass_above"] = float(m[-1])
    return {k: out[k] for k in ("mean", "median", "mode", "p5", "p25", "p75", "p95", "mass_below", "mass_above")}


def _quantile(cdf: np.ndarray, q: float, domain: Domain) -> float | None:
    if q < cdf[0] or q > cdf[-1]:
        return None  # in the mass beyond a bound
    i = int(np.searchsorted(cdf, q, side="left"))
    if i == 0:
        return float(domain.lower)
    c0, c1 = cdf[i - 1], cdf[i]
    frac = (q - c0) / (c1 - c0) if c1 > c0 else 1.0
    return float(domain.from_u(U_GRID[i - 1] + frac * (U_GRID[i] - U_GRID[i - 1])))

