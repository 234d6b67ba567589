"""Properties that must hold for every valid spec, built by hypothesis strategies per input form."""

import datetime as dt

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amplification.distributions import from_spec
from amplification.grid import Domain
from amplification.interop import from_metaculus, to_metaculus
from amplification.pooling import linear_pool
from amplification.scoring import score_predictions

DOMAINS = [
    Domain.create(lower=1.0, upper=1e20, scale="log", open_lower=False, open_upper=True),
    Domain.create(lower=1e-3, upper=1e3, scale="log", open_lower=True, open_upper=True),
    Domain.create(lower=-10.0, upper=10.0, scale="linear", open_lower=False, open_upper=False),
    Domain.create(lower=-1e6, upper=1e6, scale="linear", open_lower=True, open_upper=False),
    Domain.create(lower="2020-01-01", upper="2100-12-31", scale="date", open_lower=True, open_upper=True),
]
EPOCH = dt.date(1970, 1, 1)
settings.register_profile("engine", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("engine")


def as_question_x(domain, x):
    return (EPOCH + dt.timedelta(days=round(x))).isoformat() if domain.scale == "date" else float(x)


@st.composite
def tails(draw, domain):
    out = {}
    if domain.open_lower and draw(st.booleans()):
        out["mass_below"] = draw(st.floats(0, 0.45))
    if domain.open_upper and draw(st.booleans()):
        out["mass_above"] = draw(st.floats(0, 0.45))
    return out


def log_uniform(lo, hi):
    return st.floats(np.log10(lo), np.log10(hi)).map(lambda e: float(10.0**e))


@st.composite
def lognormal_specs(draw, domain):
    t = draw(tails(domain))
    if domain.scale == "date":
        days = draw(st.integers(1, 200 * 365))
        centre = {"median": as_question_x(domain, domain.lower + days)}
    elif draw(st.booleans()):
        centre = {"median": draw(log_uniform(1e-300, 1e300))}
    else:
        low = draw(log_uniform(1e-200, 1e200))
        return {"type": "lognormal", "low": low, "high": low * draw(log_uniform(1.001, 1e50)), **t}
    return {"type": "lognormal", **centre, "sigma": draw(log_uniform(1e-9, 1e9)), **t}


@st.composite
def normal_specs(draw, domain):
    return {"type": "normal", "mean": draw(st.floats(-1e12, 1e12)), "sd": draw(log_uniform(1e-9, 1e9)),
            **draw(tails(domain))}


@st.composite
def quantile_specs(draw, domain):
    t = draw(tails(domain))
    below, above = t.get("mass_below", 0.0), t.get("mass_above", 0.0)
    k = draw(st.integers(2, 6))
    raw_p = sorted(set(draw(st.lists(st.floats(0.01, 0.99), min_size=k, max_size=k))))
    ps = sorted({below + (1 - below - above) * p for p in raw_p})
    ps = [p for p in ps if below < p < 1 - above]
    raw_u = sorted(set(draw(st.lists(st.floats(0.001, 0.999), min_size=len(ps), max_size=len(ps)))))
    xs = sorted({as_question_x(domain, x) for x in domain.from_u(np.array(raw_u))})
    n = min(len(ps), len(xs))
    if n < 2:
        ps, xs = [0.3, 0.7], [as_question_x(domain, x) for x in domain.from_u(np.array([0.3, 0.7]))]
        t = {}
        n = 2
    points = [{"p": p, "x": x} for p, x in zip(ps[:n], xs[:n], strict=True)]
    return {"type": "quantiles", "points": points, **t}


@st.composite
def histogram_specs(draw, domain):
    t = draw(tails(domain))
    inside = 1 - t.get("mass_below", 0.0) - t.get("mass_above", 0.0)
    edges_u = sorted(set(draw(st.lists(st.floats(0, 1), min_size=2, max_size=12))) | set())
    if len(edges_u) < 2:
        edges_u = [0.0, 1.0]
    edges = [as_question_x(domain, x) for x in domain.from_u(np.array(edges_u))]
    edges = [domain.format_x(domain.lower) if i == 0 and domain.scale == "date" else e for i, e in enumerate(edges)]
    parsed = [domain.parse_x(e, "e") for e in edges]
    pairs = [(a, b) for a, b, pa, pb in zip(edges, edges[1:], parsed, parsed[1:], strict=False) if pb > pa]
    pairs = [(a, b) for a, b in pairs
             if domain.lower <= domain.parse_x(a, "a") and domain.parse_x(b, "b") <= domain.upper]
    if not pairs:
        pairs = [(domain.format_x(domain.lower), domain.format_x(domain.upper))]
    raw = draw(st.lists(st.floats(0.0, 1.0), min_size=len(pairs), max_size=len(pairs)))
    raw[0] += 0.1
    total = sum(raw)
    bins = [{"lo": a, "hi": b, "p": inside * r / total} for (a, b), r in zip(pairs, raw, strict=True)]
    return {"type": "histogram", "bins": bins, **t}


@st.composite
def cdf_specs(draw, domain):
    steps = np.array(draw(st.lists(st.floats(0, 1), min_size=202, max_size=202)))
    steps[100] += 0.01
    cdf = np.cumsum(steps)[:201] / steps.sum()
    if not domain.open_lower:
        cdf[0] = 0.0
    if not domain.open_upper:
        cdf[-1] = 1.0
    cdf = np.maximum.accumulate(np.clip(cdf, 0, 1))
    spec = {"type": "cdf", "cdf": cdf.tolist()}
    if cdf[-1] > cdf[0]:
        spec.update(draw(tails(domain)))
    return spec


def leaf_specs(domain):
    return st.one_of(lognormal_specs(domain), normal_specs(domain), quantile_specs(domain), histogram_specs(domain),
                     cdf_specs(domain))


@st.composite
def mixture_specs(draw, domain):
    components = draw(st.lists(st.tuples(log_uniform(1e-3, 1e3), leaf_specs(domain)), min_size=1, max_size=3))
    return {"type": "mixture", "components": [{"weight": w, "spec": s} for w, s in components]}


def any_specs(domain):
    return st.one_of(leaf_specs(domain), mixture_specs(domain))


@st.composite
def domain_and_spec(draw, kind=None):
    domain = draw(st.sampled_from(DOMAINS))
    strategy = {"lognormal": lognormal_specs, "normal": normal_specs, "quantiles": quantile_specs,
                "histogram": histogram_specs, "cdf": cdf_specs, "mixture": mixture_specs}.get(kind, any_specs)
    return domain, draw(strategy(domain))


def assert_valid(d, domain, spec):
    cdf = d.cdf
    assert cdf.shape == (201,) and cdf.dtype == np.float64
    assert np.all(np.isfinite(cdf))
    assert np.all(np.diff(cdf) >= 0)
    assert cdf[0] >= 0 and cdf[-1] <= 1
    if not domain.open_lower:
        assert d.mass_below == 0
    if not domain.open_upper:
        assert d.mass_above == 0
    if "mass_below" in spec:
        assert abs(d.mass_below - spec["mass_below"]) <= 1e-12
    if "mass_above" in spec:
        assert abs(d.mass_above - spec["mass_above"]) <= 1e-12


def check_kind(kind):
    @given(domain_and_spec(kind))
    def run(case):
        domain, spec = case
        assert_valid(from_spec(spec, domain), domain, spec)

    run()


def test_every_valid_lognormal_gives_a_valid_cdf():
    check_kind("lognormal")


def test_every_valid_normal_gives_a_valid_cdf():
    check_kind("normal")


def test_every_valid_quantile_set_gives_a_valid_cdf():
    check_kind("quantiles")


def test_every_valid_histogram_gives_a_valid_cdf():
    check_kind("histogram")


def test_every_valid_cdf_spec_gives_a_valid_cdf():
    check_kind("cdf")


def test_every_valid_mixture_gives_a_valid_cdf():
    check_kind("mixture")


@st.composite
def three_on_one_domain(draw):
    domain = draw(st.sampled_from(DOMAINS))
    return domain, [draw(any_specs(domain)) for _ in range(3)]


@given(three_on_one_domain())
def test_scores_are_finite_for_any_valid_distributions(case):
    domain, specs = case
    pred, posterior, prior = (from_spec(s, domain).cdf for s in specs)
    scores = score_predictions(pred[None, :], posterior, prior, open_lower=domain.open_lower,
                               open_upper=domain.open_upper)
    for name in ("kl", "log_score", "skill", "crps", "wasserstein"):
        assert np.isfinite(getattr(scores, name)).all(), name
    assert scores.kl[0] >= -1e-12 and scores.crps[0] >= -1e-15 and scores.wasserstein[0] >= -1e-15


@given(three_on_one_domain(), st.lists(st.floats(0, 10), min_size=3, max_size=3).filter(lambda w: sum(w) > 0))
def test_pooling_valid_cdfs_gives_a_valid_cdf(case, weights):
    domain, specs = case
    cdfs = np.stack([from_spec(s, domain).cdf for s in specs])
    pooled = linear_pool(cdfs, np.array(weights))
    assert pooled.shape == (201,) and np.all(np.diff(pooled) >= 0) and pooled[0] >= 0 and pooled[-1] <= 1


@given(domain_and_spec())
def test_metaculus_export_round_trips_exactly(case):
    domain, spec = case
    cdf = from_spec(spec, domain).cdf
    assert from_metaculus(to_metaculus(cdf, domain), domain).cdf.tolist() == cdf.tolist()
