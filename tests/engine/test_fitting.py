import math

import numpy as np
import pytest
from scipy import optimize, stats

from amplification.fitting import fit_lognormal_quantiles, fit_normal_quantiles, lognormal_from_interval


def test_it_turns_a_90_percent_interval_into_closed_form_mu_and_sigma():
    mu, sigma = lognormal_from_interval(1e9, 1e17)
    assert mu == pytest.approx((math.log(1e9) + math.log(1e17)) / 2, abs=1e-9)
    assert sigma == pytest.approx((math.log(1e17) - math.log(1e9)) / (2 * 1.6448536269514722), abs=1e-9)


def test_it_fits_two_quantiles_exactly():
    p = np.array([[0.1, 0.8]])
    x = np.array([[3.0, 250.0]])
    mu, sigma, residuals = fit_lognormal_quantiles(p, x)
    fitted = stats.lognorm(s=sigma[0], scale=math.exp(mu[0]))
    np.testing.assert_allclose(fitted.cdf(x[0]), p[0], rtol=1e-12)
    np.testing.assert_allclose(residuals, 0.0, atol=1e-12)


def test_it_fits_three_or_more_quantiles_like_scipy_least_squares():
    p = np.array([0.05, 0.3, 0.5, 0.9, 0.99])
    x = np.array([2.0, 30.0, 90.0, 4000.0, 1e5])
    mu, sigma, residuals = fit_lognormal_quantiles(p[None, :], x[None, :])

    def resid(theta):
        return np.log(x) - (theta[0] + theta[1] * stats.norm.ppf(p))

    ref = optimize.least_squares(resid, x0=[0.0, 1.0], xtol=1e-15, ftol=1e-15, gtol=1e-15)
    assert mu[0] == pytest.approx(ref.x[0], rel=1e-8)
    assert sigma[0] == pytest.approx(ref.x[1], rel=1e-8)
    np.testing.assert_allclose(residuals[0], resid(ref.x), atol=1e-8)


def test_it_fits_a_normal_like_scipy_least_squares():
    p = np.array([0.1, 0.5, 0.7, 0.95])
    x = np.array([-3.0, 1.0, 2.5, 4.0])
    mean, sd, _ = fit_normal_quantiles(p[None, :], x[None, :])
    ref = optimize.least_squares(lambda th: x - (th[0] + th[1] * stats.norm.ppf(p)), x0=[0.0, 1.0], xtol=1e-15,
                                 ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose([mean[0], sd[0]], ref.x, rtol=1e-8)


def test_it_fits_many_rows_at_once_like_one_row_at_a_time():
    rng = np.random.default_rng(7)
    n = 300
    p = np.sort(rng.uniform(0.01, 0.99, (n, 4)), axis=1)
    x = np.sort(rng.lognormal(5, 3, (n, 4)), axis=1)
    mu, sigma, residuals = fit_lognormal_quantiles(p, x)
    for i in range(0, n, 37):
        # independent per-row fit: ordinary least squares of ln x on z
        slope, intercept = np.polyfit(stats.norm.ppf(p[i]), np.log(x[i]), 1)
        assert sigma[i] == pytest.approx(slope, rel=1e-9)
        assert mu[i] == pytest.approx(intercept, rel=1e-9, abs=1e-9)
        one_mu, one_sigma, one_res = fit_lognormal_quantiles(p[i : i + 1], x[i : i + 1])
        assert one_mu[0] == pytest.approx(mu[i], rel=1e-12)
        assert one_sigma[0] == pytest.approx(sigma[i], rel=1e-12)
        np.testing.assert_allclose(one_res[0], residuals[i], atol=1e-12)
