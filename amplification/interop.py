"""Import/export of the Metaculus-style continuous CDF: 201 points on the same grid, per-side open bounds.

Metaculus accepts only standardized CDFs (outcomes.py: every step in [5e-5, 0.2], at least 0.001 in an open tail), so
the export's `continuous_cdf` is the standardized CDF, and the CDF stored here travels beside it, unchanged, as
`raw_cdf`. Import takes what Metaculus exports (a standardized CDF, tails and all) as it is; a payload that carries a
`raw_cdf` consistent with its `continuous_cdf` (one this module exported) gives back that raw CDF, so a round trip
loses nothing.
"""

from __future__ import annotations

import numpy as np

from .distributions import Distribution, parse_cdf_values
from .errors import SpecError
from .grid import N_POINTS, Domain, parse_number
from .outcomes import metaculus_cdf

BOUND_TOLERANCE = 1e-9  # relative; bounds are compared after a JSON round trip
# |metaculus_cdf(raw_cdf) - continuous_cdf| allowed for the two to belong together: the export writes them exactly,
# so this only forgives a client that re-printed the numbers with fewer digits.
RAW_CDF_TOLERANCE = 1e-9


def to_metaculus(cdf: np.ndarray, domain: Domain) -> dict:
    """A canonical CDF as a Metaculus-style payload. `continuous_cdf` is standardized as Metaculus's editor does and
    passes its validation (`outcomes.metaculus_cdf`); `raw_cdf` is the CDF as stored here. Bounds are in question
    units (ISO dates on a date scale)."""
    values = np.asarray(cdf, dtype=np.float64)
    if values.shape != (N_POINTS,):
        raise ValueError(f"cdf must have shape ({N_POINTS},)")
    standardized = metaculus_cdf(values, open_lower=domain.open_lower, open_upper=domain.open_upper)
    return {
        "continuous_cdf": [float(v) for v in standardized],
        "raw_cdf": [float(v) for v in values],
        "lower_bound": domain.format_x(domain.lower),
        "upper_bound": domain.format_x(domain.upper),
        "open_lower_bound": domain.open_lower,
        "open_upper_bound": domain.open_upper,
        "scale": domain.scale,
    }


def from_metaculus(payload: dict, domain: Domain) -> Distribution:
    """Validate a Metaculus-style payload against the question's domain and return its distribution: `raw_cdf` when
    the payload has one that standardizes to its `continuous_cdf`, else `continuous_cdf` unchanged."""
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
    continuous = parse_cdf_values(payload["continuous_cdf"], domain, "continuous_cdf")
    if payload.get("raw_cdf") is None:
        return Distribution(cdf=continuous)
    raw = parse_cdf_values(payload["raw_cdf"], domain, "raw_cdf")
    expected_cdf = metaculus_cdf(raw, open_lower=domain.open_lower, open_upper=domain.open_upper)
    if not np.max(np.abs(expected_cdf - continuous)) <= RAW_CDF_TOLERANCE:
        raise SpecError("raw_cdf", "does not standardize to continuous_cdf; leave raw_cdf out to import "
                                   "continuous_cdf as it is")
    return Distribution(cdf=raw)
