"""Hypothesis strategies for the outcome tests: random valid specs on random domains, built with `from_spec`."""

import datetime as dt
import math

from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from amplification.distributions import from_spec
from amplification.errors import SpecError
from amplification.grid import Domain

EPOCH = dt.date(1970, 1, 1)
PROPERTY_SETTINGS = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def log_uniform(lo, hi):
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10.0**e))


@st.composite
def domains(draw):
    scale = draw(st.sampled_from(["linear", "log", "date"]))
    open_lower, open_upper = draw(st.booleans()), draw(st.booleans())
    if scale == "linear":
        lower = draw(st.floats(-1e6, 1e6))
        upper = lower + draw(log_uniform(1e-3, 1e6))
    elif scale == "log":
        lower = draw(log_uniform(1e-6, 1e6))
        upper = lower * draw(log_uniform(1.5, 1e15))
    else:
        start = dt.date(1900, 1, 1) + dt.timedelta(days=draw(st.integers(0, 200 * 365)))
        lower, upper = start, start + dt.timedelta(days=draw(st.integers(60, 300 * 365)))
    return Domain.create(lower=lower, upper=upper, scale=scale, open_lower=open_lower, open_upper=open_upper)


def x_at(dom, u):
    """A value of the question (its own units) at u; u may lie beyond [0, 1] to put a shape's centre outside."""
    x = float(dom.from_u(u))
    return (EPOCH + dt.timedelta(days=round(x))).isoformat() if dom.scale == "date" else x


@st.composite
def tail_masses(draw, dom, room=0.45):
    out = {}
    if dom.open_lower and draw(st.booleans()):
        out["mass_below"] = draw(st.floats(0, room))
    if dom.open_upper and draw(st.booleans()):
        out["mass_above"] = draw(st.floats(0, room))
    return out


@st.composite
def shape_specs(draw, dom):
    """A lognormal (log and date scales) or a normal (linear scale), centred anywhere from well below the range to
    well above it, from needle-thin to flat, or a quantiles spec fitted to one."""
    kind = draw(st.sampled_from(["parametric", "quantiles"]))
    if kind == "quantiles":
        us = sorted(set(draw(st.lists(st.floats(0.02, 0.98), min_size=2, max_size=5))))
        xs = [x_at(dom, u) for u in us]
        pairs = sorted({x: None for x in xs})  # dates may coincide once rounded to the day
        assume(len(pairs) >= 2)
        ps = sorted(draw(st.lists(st.floats(0.05, 0.95), min_size=len(pairs), max_size=len(pairs), unique=True)))
        return {"type": "quantiles", "points": [{"p": p, "x": x} for p, x in zip(ps, pairs, strict=True)]}
    centre = draw(st.floats(-0.5, 1.5))
    if dom.scale == "linear":
        width = float(dom.upper - dom.lower)
        return {"type": "normal", "mean": x_at(dom, centre), "sd": width * draw(log_uniform(1e-6, 10.0))}
    if dom.scale == "date":
        years = (dom.upper - dom.lower) / 365.25
        median = dom.lower + max(centre, 0.001) * (dom.upper - dom.lower)
        assume(median - dom.lower >= 1.0)
        return {"type": "lognormal", "median": (EPOCH + dt.timedelta(days=round(median))).isoformat(),
                "sigma": draw(log_uniform(1e-4, 3.0)) * max(1.0, math.log1p(years))}
    return {"type": "lognormal", "median": x_at(dom, centre), "sigma": draw(log_uniform(1e-6, 1e2))}


@st.composite
def specs_on_domains(draw):
    dom = draw(domains())
    if draw(st.booleans()):
        spec = {**draw(shape_specs(dom)), **draw(tail_masses(dom))}
    else:
        count = draw(st.integers(2, 3))
        components = [{"weight": draw(st.floats(0.05, 1.0)), "spec": draw(shape_specs(dom))} for _ in range(count)]
        spec = {"type": "mixture", "components": components, **draw(tail_masses(dom))}
    try:
        return dom, from_spec(spec, dom).cdf
    except SpecError:  # a shape with no mass inside a closed range cannot be rescaled; not what is tested here
        assume(False)
        raise
