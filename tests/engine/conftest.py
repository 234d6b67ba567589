import pytest

from amplification.grid import Domain


@pytest.fixture
def compute_domain():
    """The compute question: PF/s-days on a log axis, closed below at 1, open above 1e20."""
    return Domain.create(lower=1.0, upper=1e20, scale="log", open_lower=False, open_upper=True)


@pytest.fixture
def agi_domain():
    """The AGI-agreement question: a date, open on both sides ("already", "after 2100 or never")."""
    return Domain.create(lower="2020-01-01", upper="2100-12-31", scale="date", open_lower=True, open_upper=True)


@pytest.fixture
def linear_domain():
    return Domain.create(lower=-10.0, upper=10.0, scale="linear", open_lower=False, open_upper=False)
