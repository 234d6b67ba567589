import datetime as dt
import math

import numpy as np
import pytest

from amplification.errors import SpecError
from amplification.grid import N_POINTS, U_GRID, Domain


def test_it_maps_a_log_axis_to_u_and_back():
    d = Domain.create(lower=1e-3, upper=1e30, scale="log", open_lower=True, open_upper=False)
    x = np.array([1e-3, 1.0, 1e10, 1e30])
    np.testing.assert_allclose(d.to_u(x), np.log(x / 1e-3) / math.log(1e33))
    np.testing.assert_allclose(d.from_u(d.to_u(x)), x, rtol=1e-12)
    assert d.x_grid().shape == (N_POINTS,)
    assert d.x_grid()[0] == 1e-3 and d.x_grid()[-1] == 1e30


def test_it_counts_dates_in_days_since_the_epoch():
    d = Domain.create(lower="2020-01-01", upper=dt.date(2100, 12, 31), scale="date", open_lower=True,
                      open_upper=True)
    assert d.lower == (dt.date(2020, 1, 1) - dt.date(1970, 1, 1)).days
    assert d.parse_x("2060-07-01", "x") == (dt.date(2060, 7, 1) - dt.date(1970, 1, 1)).days
    assert d.format_x(d.parse_x("2060-07-01", "x")) == "2060-07-01"
    assert d.to_u(d.upper) == 1.0
    with pytest.raises(SpecError) as info:
        d.parse_x(2060, "points[0].x")
    assert info.value.path == "points[0].x"


def test_u_grid_is_201_even_points():
    np.testing.assert_array_equal(U_GRID, np.linspace(0, 1, 201))


def test_it_refuses_non_positive_values_on_a_log_scale():
    d = Domain.create(lower=1, upper=10, scale="log", open_lower=True, open_upper=True)
    with pytest.raises(SpecError, match="> 0"):
        d.parse_x(0, "x")
    assert d.format_x(None) is None
