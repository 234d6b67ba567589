import math

import numpy as np
import pytest
from scipy import integrate, stats

from amplification.distributions import from_spec, masses
from amplification.grid import U_GRID, Domain
from amplification.scoring import DEFAULT_UNIFORM_MIX, score_predictions

WIDE = Domain.create(lower=1e-3, upper=1e30, scale="log", open_lower=True, open_upper=True)


def lognormal_cdf(median, sigma, domain=WIDE):
    return from_spec({"type": "lognormal", "median": median, "sigma": sigma}, domain).cdf


def random_cdfs(rng, n, open_lower=True, open_upper=True):
    mu = rng.uniform(0.1, 0.9, n)
    sd = rng.uniform(0.03, 0.5, n)
    cdf = stats.norm.cdf((U_GRID[None, :] - mu[:, None]) / sd[:, None])
    if not open_lower:
        cdf[:, 0] = 0.0
    if not open_upper:
        cdf[:, -1] = 1.0
    return np.maximum.accumulate(cdf, axis=1)


def test_kl_between_lognormals_matches_the_closed_form():
    m_p, s_p, m_q, s_q = math.log(1e10), 3.0, math.log(1e12), 4.0
    p = lognormal_cdf(1e10, 3.0)
    q = lognormal_cdf(1e12, 4.0)
    scores = score_predictions(q[None, :], p, p, open_lower=True, open_upper=True, uniform_mix=0.0)
    closed_form = math.log(s_q / s_p) + (s_p**2 + (m_p - m_q) ** 2) / (2 * s_q**2) - 0.5
    assert scores.kl[0] == pytest.approx(closed_form, rel=0.01)
    pm, qm = masses(p), masses(q)
    keep = pm > 0  # 0 log 0 = 0
    assert scores.log_score[0] == pytest.approx(np.sum(pm[keep] * np.log(qm[keep])), rel=1e-12)


def test_kl_is_zero_for_identical_distributions():
    p = lognormal_cdf(1e10, 3.0)
    scores = score_predictions(np.stack([p, p]), p, p, open_lower=True, open_upper=True, uniform_mix=0.0)
    np.testing.assert_allclose(scores.kl, 0.0, atol=1e-12)
    np.testing.assert_allclose(scores.crps, 0.0, atol=1e-15)
    np.testing.assert_allclose(scores.wasserstein, 0.0, atol=1e-15)


def test_predicting_the_prior_earns_zero_skill():
    rng = np.random.default_rng(1)
    prior, posterior = random_cdfs(rng, 2)
    preds = np.vstack([random_cdfs(rng, 3000), prior[None, :]])
    scores = score_predictions(preds, posterior, prior, open_lower=True, open_upper=True)
    assert scores.skill[-1] == pytest.approx(0.0, abs=1e-12)
    # the skill is KL(P || prior') - KL(P || Q'), both with the same mix: check one row independently
    m = DEFAULT_UNIFORM_MIX
    uniform = np.full(202, 1 / 202)
    p = masses(posterior)
    q_mixed = (1 - m) * masses(preds[5]) + m * uniform
    prior_mixed = (1 - m) * masses(prior) + m * uniform
    assert scores.skill[5] == pytest.approx(stats.entropy(p, prior_mixed) - stats.entropy(p, q_mixed), rel=1e-9)
    assert scores.kl[5] == pytest.approx(stats.entropy(p, q_mixed), rel=1e-9)


def test_a_closed_tail_gets_no_uniform_mass():
    rng = np.random.default_rng(2)
    prior, posterior, pred = random_cdfs(rng, 3, open_lower=False, open_upper=True)
    scores = score_predictions(pred[None, :], posterior, prior, open_lower=False, open_upper=True, uniform_mix=0.1)
    uniform = np.full(202, 1 / 201)
    uniform[0] = 0.0
    q_mixed = 0.9 * masses(pred) + 0.1 * uniform
    assert scores.kl[0] == pytest.approx(stats.entropy(masses(posterior), q_mixed), rel=1e-9)


def test_crps_and_wasserstein_match_quadrature():
    rng = np.random.default_rng(3)
    preds = random_cdfs(rng, 6)
    posterior = random_cdfs(rng, 1)[0]
    scores = score_predictions(preds, posterior, posterior, open_lower=True, open_upper=True)
    for i, q in enumerate(preds):
        def diff(u, q=q):
            return np.interp(u, U_GRID, posterior) - np.interp(u, U_GRID, q)

        crps = integrate.quad(lambda u, f=diff: f(u) ** 2, 0, 1, points=U_GRID[1:-1], limit=1000)[0]
        w1 = integrate.quad(lambda u, f=diff: abs(f(u)), 0, 1, points=U_GRID[1:-1], limit=1000)[0]
        assert scores.crps[i] == pytest.approx(crps, rel=1e-9, abs=1e-14)
        assert scores.wasserstein[i] == pytest.approx(w1, rel=1e-8, abs=1e-14)


def test_crps_and_wasserstein_match_quadrature_when_the_cdfs_cross_in_every_segment():
    # F_Q zigzags around F_P = u: d changes sign inside every segment, except where it touches 0 at a grid point
    posterior = U_GRID.copy()
    wiggle = 0.002 * (-1.0) ** np.arange(201)
    wiggle[[0, 50, 51, 120, 200]] = 0.0
    pred = U_GRID + wiggle
    scores = score_predictions(pred[None, :], posterior, posterior, open_lower=False, open_upper=False)

    def diff(u):
        return np.interp(u, U_GRID, pred) - np.interp(u, U_GRID, posterior)

    crps = integrate.quad(lambda u: diff(u) ** 2, 0, 1, points=U_GRID[1:-1], limit=1000)[0]
    w1 = integrate.quad(lambda u: abs(diff(u)), 0, 1, points=U_GRID[1:-1], limit=1000)[0]
    assert scores.crps[0] == pytest.approx(crps, rel=1e-9)
    assert scores.wasserstein[0] == pytest.approx(w1, rel=1e-8)
    # and by hand: |d| is a tent of height 0.002 over every segment (two triangles meeting at its middle, or one
    # triangle where an end touches 0), area h * 0.002 / 2, except segment 50-51 where d = 0 throughout
    assert scores.wasserstein[0] == pytest.approx(0.002 / 2 * (1 - 1 / 200), rel=1e-12)


def test_read_only_arrays_score_the_same_as_writable_ones():
    # predictions read from the database arrive as read-only views of the bytes
    rng = np.random.default_rng(6)
    preds = random_cdfs(rng, 1000)
    prior, posterior = random_cdfs(rng, 2)
    frozen = [np.frombuffer(a.tobytes(), dtype=np.float64).reshape(a.shape) for a in (preds, posterior, prior)]
    assert not frozen[0].flags.writeable
    a = score_predictions(preds, posterior, prior, open_lower=True, open_upper=True)
    b = score_predictions(*frozen, open_lower=True, open_upper=True)
    for name in ("kl", "log_score", "skill", "crps", "wasserstein"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_wasserstein_matches_scipy_on_a_fine_resampling():
    rng = np.random.default_rng(4)
    preds = random_cdfs(rng, 4)
    posterior = random_cdfs(rng, 1)[0]
    scores = score_predictions(preds, posterior, posterior, open_lower=True, open_upper=True)
    sub = 400  # points per bin: flat density in a bin becomes `sub` equal atoms at the sub-cell midpoints

    def resample(cdf):
        m = masses(cdf)
        inner = (np.arange(200)[:, None] + (np.arange(sub)[None, :] + 0.5) / sub).ravel() / 200
        values = np.concatenate([[0.0], inner, [1.0]])  # tail masses sit at the bounds, as F(0) and F(1) say
        weights = np.concatenate([[m[0]], np.repeat(m[1:-1] / sub, sub), [m[-1]]])
        return values, weights

    pv, pw = resample(posterior)
    for i, q in enumerate(preds):
        qv, qw = resample(q)
        ref = stats.wasserstein_distance(pv, qv, pw, qw)
        assert scores.wasserstein[i] == pytest.approx(ref, rel=1e-3, abs=1e-6)


def test_wasserstein_of_shifted_uniforms_is_the_shift():
    domain = Domain.create(lower=0, upper=1, scale="linear", open_lower=False, open_upper=False)
    a = from_spec({"type": "histogram", "bins": [{"lo": 0.1, "hi": 0.4, "p": 1.0}]}, domain).cdf
    b = from_spec({"type": "histogram", "bins": [{"lo": 0.35, "hi": 0.65, "p": 1.0}]}, domain).cdf
    scores = score_predictions(b[None, :], a, a, open_lower=False, open_upper=False)
    assert scores.wasserstein[0] == pytest.approx(0.25, rel=1e-12)


def test_uniform_mix_zero_gives_infinite_kl_only_where_the_prediction_misses():
    domain = Domain.create(lower=0, upper=1, scale="linear", open_lower=False, open_upper=False)
    p = from_spec({"type": "histogram", "bins": [{"lo": 0.0, "hi": 0.5, "p": 1.0}]}, domain).cdf
    q = from_spec({"type": "histogram", "bins": [{"lo": 0.5, "hi": 1.0, "p": 1.0}]}, domain).cdf
    scores = score_predictions(np.stack([q, p]), p, p, open_lower=False, open_upper=False, uniform_mix=0.0)
    assert scores.kl[0] == math.inf
    assert scores.kl[1] == pytest.approx(0.0, abs=1e-12)
    assert not np.isnan(scores.kl).any()


def test_uniform_mix_zero_gives_the_documented_infinite_skills():
    domain = Domain.create(lower=0, upper=1, scale="linear", open_lower=False, open_upper=False)

    def box(lo, hi):
        return from_spec({"type": "histogram", "bins": [{"lo": lo, "hi": hi, "p": 1.0}]}, domain).cdf

    posterior, covers, misses = box(0.0, 0.5), box(0.0, 1.0), box(0.5, 1.0)
    preds = np.stack([covers, misses])
    scores = score_predictions(preds, posterior, misses, open_lower=False, open_upper=False, uniform_mix=0.0)
    assert scores.skill[0] == math.inf  # only the prior misses
    assert math.isnan(scores.skill[1])  # both miss: inf - inf
    scores = score_predictions(preds, posterior, covers, open_lower=False, open_upper=False, uniform_mix=0.0)
    assert scores.skill[0] == 0.0 and scores.skill[1] == -math.inf


def test_it_scores_in_blocks_and_threads_like_row_by_row():
    rng = np.random.default_rng(5)
    preds = random_cdfs(rng, 5000)
    prior, posterior = random_cdfs(rng, 2)
    many = score_predictions(preds, posterior, prior, open_lower=True, open_upper=True)
    for i in (0, 255, 256, 4095, 4999):
        one = score_predictions(preds[i : i + 1], posterior, prior, open_lower=True, open_upper=True)
        for name in ("kl", "log_score", "skill", "crps", "wasserstein"):
            assert getattr(many, name)[i] == pytest.approx(getattr(one, name)[0], rel=1e-12, abs=1e-15)


def test_it_rejects_a_posterior_that_is_not_a_cdf():
    with pytest.raises(ValueError, match="posterior"):
        score_predictions(np.zeros((1, 201)), np.linspace(1, 0, 201), U_GRID, open_lower=True, open_upper=True)
