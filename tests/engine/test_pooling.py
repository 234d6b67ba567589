import numpy as np
import pytest

from amplification.grid import U_GRID
from amplification.pooling import linear_pool, recency_weights, skill_weights


def test_it_averages_cdfs_with_normalised_weights():
    a, b = U_GRID, U_GRID**2
    pooled = linear_pool(np.stack([a, b]), np.array([1.0, 3.0]))
    np.testing.assert_allclose(pooled, 0.25 * a + 0.75 * b)
    np.testing.assert_allclose(linear_pool(np.stack([a, b])), (a + b) / 2)


@pytest.mark.parametrize("weights", [[1.0, np.nan], [1.0, -1.0], [0.0, 0.0], [1.0], [np.inf, 1.0]])
def test_it_rejects_bad_weights(weights):
    with pytest.raises(ValueError):
        linear_pool(np.stack([U_GRID, U_GRID]), np.array(weights))


def test_recency_weights_halve_every_half_life_with_the_newest_last():
    w = recency_weights(5, half_life=2.0)
    assert w.sum() == pytest.approx(1.0)
    assert w[-1] / w[-3] == pytest.approx(2.0)
    assert np.all(np.diff(w) > 0)


def test_skill_weights_use_the_positive_part_and_fall_back_to_equal():
    np.testing.assert_allclose(skill_weights(np.array([-1.0, 1.0, 3.0])), [0.0, 0.25, 0.75])
    np.testing.assert_allclose(skill_weights(np.array([-1.0, 0.0])), [0.5, 0.5])
