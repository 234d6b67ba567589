"""Import/export of the Metaculus-style continuous CDF: 201 points on the same grid, per-side open bounds."""

from __future__ import annotations

import numpy as np

from .distributions import Distribution, parse_cdf_values
from .errors import SpecError
from .grid import N_POINTS, Domain, parse_number

BOUND_TOLERANCE = 1e-9  # relative; bounds are compared after a JSON round trip


def to_metaculus(cdf: np.ndarray, domain: Domain) -> dict:
    """A canonical CDF as a Metaculus-style payload. Bounds are in question units (ISO dates on a date scale)."""
    values = np.asarray(cdf, dtype=np.float64)
    if values.shape != (N_POINTS,):
        raise ValueError(f"cdf must have shape ({N_POINTS},)")
    return {
        "continuous_cdf": [float(v) for v in values],
        "lower_bound": domain.format_x(domain.lower),
        "upper_bound": domain.format_x(domain.upper),
        "open_lower_bound": domain.open_lower,
        "open_upper_bound": domain.open_upper,
        "scale": domain.scale,
    }


def from_metaculus(payload: dict, domain: Domain) -> Distribution:
    """Validate a Metaculus-style payload against the question's domain and return its distribution unchanged."""
    if not isinstance(payload, dict):
        raise SpecError("payload", "must be an object")
    if "continuous_cdf" not in payload:
        raise SpecError("continuous_cdf", "is required")
    if "scale" in payload and payload["scale"] != domain.scale:
        raise SpecError("scale", f"is {payload['scale']!r} but the question's scale is {domain.scale!r}")
    for key, expected in (("lower_bound", domain.lower), ("upper_bound", domain.upper)):
        if key not in payload:
            raise SpecError(key, "is required")
        value = domain.parse_x(payload[key], key) if domain.scale == "date" else parse_number(payload[key], key)
        # dates are compared to the day (the payload carries whole days); numbers to a relative tolerance
        tolerance = 0.5 if domain.scale == "date" else BOUND_TOLERANCE * max(abs(expected), abs(value))
        if not abs(value - expected) <= tolerance:
            raise SpecError(key, f"{payload[key]!r} does not match the question's {domain.format_x(expected)!r}")
    for key, expected in (("open_lower_bound", domain.open_lower), ("open_upper_bound", domain.open_upper)):
        if key not in payload:
            raise SpecError(key, "is required")
        if not isinstance(payload[key], bool) or payload[key] != expected:
            raise SpecError(key, f"must be {str(expected).lower()} for this question")
    return Distribution(cdf=parse_cdf_values(payload["continuous_cdf"], domain, "continuous_cdf"))


def _number(value: object, key: str) -> float:
    return parse_number(value, key)
