"""Quantile fits. The quantile function of a (log)normal is linear in its two parameters, so least squares on it has
a closed form and thousands of fits are a handful of array operations (no loop over fits). `refine_in_p` then fits
one distribution's final CDF (truncated at closed bounds, rescaled to given tail masses) in probability, starting
from that closed form."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import leastsq
from scipy.special import ndtri

Z_95 = 1.6448536269514722  # standard normal 95th percentile: a 90% central interval is mu +- Z_95 * sigma


def _fit_linear_in_z(p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares of t = loc + scale * z_p per row (ordinary regression of t on z); exact when k == 2."""
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    t = np.atleast_2d(np.asarray(t, dtype=np.float64))
    if p.shape != t.shape or p.shape[-1] < 2:
        raise ValueError("p and x must have the same shape (n, k) with k >= 2")
    z = ndtri(p)
    # Regress t / m, m the row's largest |t|: a mean of values near the largest float would overflow (1.5e308 and
    # 1.6e308 are valid quantiles on a linear question); the fit scales back exactly by m.
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.max(np.abs(t), axis=1, keepdims=True)
        m = np.where((m > 0) & np.isfinite(m), m, 1.0)
    ts = t / m
    zc = z - z.mean(axis=1, keepdims=True)
    tc = ts - ts.mean(axis=1, keepdims=True)
    scale = np.einsum("ij,ij->i", zc, tc) / np.einsum("ij,ij->i", zc, zc)
    loc = ts.mean(axis=1) - scale * z.mean(axis=1)
    residuals = (ts - (loc[:, None] + scale[:, None] * z)) * m
    return loc * m[:, 0], scale * m[:, 0], residuals


def fit_lognormal_quantiles(p: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit ln X ~ Normal(mu, sigma) to quantiles (p[i, j], x[i, j]), x > 0, minimising the squared error in ln x.

    Returns mu (n,), sigma (n,) and the residuals (n, k) in ln x (given minus fitted). Increasing p with increasing x
    gives sigma > 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(np.asarray(x, dtype=np.float64))
    return _fit_linear_in_z(p, t)


def fit_normal_quantiles(p: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit X ~ Normal(mean, sd) to quantiles, least squares in x. Returns mean (n,), sd (n,), residuals (n, k) in x."""
    return _fit_linear_in_z(p, np.asarray(x, dtype=np.float64))


def lognormal_from_interval(low, high, coverage: float = 0.9):
    """mu, sigma of ln X for a central interval [low, high] holding `coverage` of the probability.

    For the default 90%: mu = (ln low + ln high) / 2, sigma = (ln high - ln low) / (2 * 1.6448536269514722).
    Works on scalars or arrays.
    """
    if not 0 < coverage < 1:
        raise ValueError("coverage must be in (0, 1)")
    z = Z_95 if coverage == 0.9 else float(ndtri(0.5 + coverage / 2))
    ln_low, ln_high = np.log(low), np.log(high)
    return (ln_low + ln_high) / 2, (ln_high - ln_low) / (2 * z)


_LOG_SCALE_STEP = 40.0  # the search moves ln(scale) at most this far from the start: e^40 ~ 2e17 times either way
_DIFF_STEP = 1e-7  # forward-difference step in (a, b), both of order one: truncation ~1e-7, round-off ~1e-9


def refine_in_p(
    model_cdf_rows: Callable[[np.ndarray, np.ndarray], np.ndarray], p: np.ndarray, loc: float, scale: float
) -> tuple[float, float]:
    """The (loc, scale) minimising sum_i (F(x_i) - p_i)^2 for a model's final CDF F, searched from a start.

    `model_cdf_rows(locs, scales)` evaluates m models at once: locs, scales (m,) -> the final CDF at each typed x,
    (m, k), finite, in [0, 1] (k >= 2). Least squares in p is what "the stored CDF meets the typed quantiles" means;
    the closed-form fit on the quantile function is the start. The search runs over (a, b) with loc = loc0 + scale0 a
    and scale = scale0 e^b, so both are of order one whatever the question's units (1e308 on a linear axis, 1e-9
    sigmas). Never returns worse than the start.

    MINPACK's Levenberg-Marquardt (lmder). Each residual evaluation asks for three models in one call, the point and
    its two forward differences, and keeps the Jacobian for MINPACK's next request at that point: the model's cost
    is numpy's per-call overhead on k values, so three rows cost little more than one. Zero-residual problems (two
    points, when some model passes through both) converge to round-off.
    """
    p = np.asarray(p, dtype=np.float64)
    offsets = np.array([[0.0, 0.0], [_DIFF_STEP, 0.0], [0.0, _DIFF_STEP]])
    kept: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # the last point: its residuals and Jacobian

    def params(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.atleast_2d(theta)
        return loc + scale * theta[:, 0], scale * np.exp(np.clip(theta[:, 1], -_LOG_SCALE_STEP, _LOG_SCALE_STEP))

    def evaluate(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = theta.tobytes()
        if key not in kept:  # MINPACK (and scipy's input check) ask for the same point more than once
            rows = model_cdf_rows(*params(theta + offsets)) - p
            kept.clear()
            kept[key] = rows[0], (rows[1:] - rows[0]).T / _DIFF_STEP  # (k,), (k, 2)
        return kept[key]

    def residuals(theta: np.ndarray) -> np.ndarray:
        return evaluate(theta)[0]

    def jacobian(theta: np.ndarray) -> np.ndarray:
        return evaluate(theta)[1]

    start = np.zeros(2)
    start_cost = float(np.sum(residuals(start) ** 2))
    if start_cost == 0.0:
        return loc, scale
    found_theta, *_ = leastsq(residuals, start, Dfun=jacobian, xtol=1e-10, ftol=1e-10, gtol=0.0, maxfev=400,
                              full_output=True)
    found_loc, found_scale = (float(v[0]) for v in params(found_theta))
    if not (math.isfinite(found_loc) and math.isfinite(found_scale) and found_scale > 0):
        return loc, scale
    return (found_loc, found_scale) if float(np.sum(residuals(found_theta) ** 2)) < start_cost else (loc, scale)
