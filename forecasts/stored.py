"""A distribution as stored: the columns of a Prior, Prediction, Posterior or Aggregate row, made from a typed spec
(through the engine) or from a CDF the platform computed (a pool). The one place a spec becomes stored columns."""

from __future__ import annotations

from typing import Any

import numpy as np

from amplification.distributions import Fit, from_spec, summarize
from amplification.errors import SpecError
from amplification.grid import Domain

from .errors import Invalid


def distribution_fields(*, spec: Any, domain: Domain) -> dict[str, Any]:
    """Turn a typed spec into the stored columns of a distribution; a bad spec is a 400 naming its field."""
    try:
        dist = from_spec(spec, domain)
    except SpecError as exc:
        raise Invalid({"spec": [str(exc)]}) from None
    return fields_from_cdf(dist.cdf, domain, spec=spec, fit=dist.fit, notes=list(dist.notes))


def fields_from_cdf(cdf: np.ndarray, domain: Domain, *, spec: Any, fit: Fit | None = None,
                    notes: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The stored columns of a canonical CDF: its bytes, tail masses and summary, beside the spec and fit."""
    cdf = np.ascontiguousarray(cdf, dtype=np.float64)
    fit_json = None
    if fit is not None:
        fit_json = {
            "family": fit.family,
            "params": fit.params,
            "residuals": fit.residuals,
            "max_abs_p_residual": fit.max_abs_p_residual,
            "good": fit.good,
        }
    return {
        "spec": spec,
        "cdf_bytes": cdf.tobytes(),
        "mass_below": float(cdf[0]),
        "mass_above": float(1.0 - cdf[-1]),
        "summary": summarize(cdf, domain),
        "fit": fit_json,
        "notes": list(notes),
    }
