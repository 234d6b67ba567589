import math

import pytest

from amplification.distributions import from_spec
from amplification.errors import SpecError
from amplification.grid import MAX_POINTS, Domain

LOG = Domain.create(lower=1.0, upper=1e20, scale="log", open_lower=False, open_upper=True)
OPEN = Domain.create(lower=0.0, upper=10.0, scale="linear", open_lower=True, open_upper=True)
CLOSED = Domain.create(lower=0.0, upper=10.0, scale="linear", open_lower=False, open_upper=False)
DATE = Domain.create(lower="2020-01-01", upper="2100-12-31", scale="date", open_lower=True, open_upper=True)

LN = {"type": "lognormal", "median": 1e13, "sigma": 2.0}


def q(*points, **extra):
    return {"type": "quantiles", "points": [{"p": p, "x": x} for p, x in points], **extra}


def cdf_of(values):
    return {"type": "cdf", "cdf": values}


RAMP = [i / 200 for i in range(201)]

CASES = [
    ("spec_not_a_dict", LOG, [1, 2], "spec"),
    ("missing_type", LOG, {"median": 1}, "type"),
    ("unknown_type", LOG, {"type": "beta"}, "type"),
    ("extra_key", LOG, {**LN, "mean": 3}, "mean"),
    ("missing_sigma", LOG, {"type": "lognormal", "median": 5.0}, "sigma"),
    ("median_and_interval", LOG, {"type": "lognormal", "median": 5.0, "sigma": 1, "low": 1, "high": 9}, "median"),
    ("bool_is_not_a_number", LOG, {"type": "lognormal", "median": True, "sigma": 1.0}, "median"),
    ("string_number", LOG, {"type": "lognormal", "median": "5", "sigma": 1.0}, "median"),
    ("nan", LOG, {"type": "lognormal", "median": math.nan, "sigma": 1.0}, "median"),
    ("inf_sigma", LOG, {"type": "lognormal", "median": 5.0, "sigma": math.inf}, "sigma"),
    ("huge_int", LOG, {"type": "lognormal", "median": 10**400, "sigma": 1.0}, "median"),
    ("sigma_zero", LOG, {"type": "lognormal", "median": 5.0, "sigma": 0}, "sigma"),
    ("sigma_negative", LOG, {"type": "lognormal", "median": 5.0, "sigma": -1}, "sigma"),
    ("median_nonpositive", OPEN, {"type": "lognormal", "median": 0.0, "sigma": 1.0}, "median"),
    ("interval_reversed", LOG, {"type": "lognormal", "low": 9.0, "high": 3.0}, "high"),
    ("lognormal_date_before_lower", DATE, {"type": "lognormal", "median": "2019-05-01", "sigma": 1.0}, "median"),
    ("lognormal_date_not_a_date", DATE, {"type": "lognormal", "median": "soon", "sigma": 1.0}, "median"),
    ("sd_zero", OPEN, {"type": "normal", "mean": 1.0, "sd": 0.0}, "sd"),
    ("negative_mass", OPEN, {"type": "normal", "mean": 1.0, "sd": 1.0, "mass_below": -0.1}, "mass_below"),
    ("mass_one", OPEN, {"type": "normal", "mean": 1.0, "sd": 1.0, "mass_above": 1.0}, "mass_above"),
    ("masses_sum_past_one", OPEN, {"type": "normal", "mean": 1, "sd": 1, "mass_below": 0.6, "mass_above": 0.4},
     "mass_above"),
    ("mass_on_closed_side", LOG, {**LN, "mass_below": 0.1}, "mass_below"),
    ("mass_on_closed_upper", CLOSED, {"type": "normal", "mean": 1, "sd": 1, "mass_above": 0.1}, "mass_above"),
    ("quantiles_out_of_order", LOG, q((0.1, 10.0), (0.5, 1e5), (0.4, 1e6)), "points[2].p"),
    ("quantile_x_out_of_order", LOG, q((0.1, 10.0), (0.5, 1e5), (0.9, 1e4)), "points[2].x"),
    ("quantile_p_zero", LOG, q((0.0, 10.0), (0.5, 1e5)), "points[0].p"),
    ("quantile_p_one", LOG, q((0.1, 10.0), (1.0, 1e5)), "points[1].p"),
    ("quantile_x_nonpositive_on_log", Domain.create(lower=1, upper=10, scale="log", open_lower=True,
                                                     open_upper=True), q((0.1, -1.0), (0.5, 5.0)), "points[0].x"),
    ("quantile_beyond_closed_bound", CLOSED, q((0.1, -1.0), (0.5, 5.0)), "points[0].x"),
    ("quantile_beyond_closed_upper", CLOSED, q((0.1, 1.0), (0.5, 11.0)), "points[1].x"),
    ("quantile_date_before_lower", DATE, q((0.1, "2019-01-01"), (0.5, "2030-01-01")), "points[0].x"),
    ("quantile_p_inside_tail_mass", OPEN, q((0.05, 1.0), (0.5, 5.0), mass_below=0.1), "points[0].p"),
    ("quantile_p_inside_upper_mass", OPEN, q((0.05, 1.0), (0.85, 5.0), mass_above=0.2), "points[1].p"),
    ("one_quantile", LOG, q((0.5, 10.0)), "points"),
    ("too_many_quantiles", LOG, q(*[((i + 1) / 1003, float(i + 1)) for i in range(MAX_POINTS + 1)]), "points"),
    ("quantile_point_not_an_object", LOG, {"type": "quantiles", "points": [1, 2]}, "points[0]"),
    ("quantile_point_extra_key", LOG, {"type": "quantiles", "points": [{"p": 0.1, "x": 2, "w": 1},
                                                                       {"p": 0.5, "x": 9}]}, "points[0].w"),
    ("cdf_wrong_length", OPEN, cdf_of(RAMP[:-1]), "cdf"),
    ("cdf_decreasing", OPEN, cdf_of([*RAMP[:100], 0.2, *RAMP[101:]]), "cdf[100]"),
    ("cdf_above_one", OPEN, cdf_of([*RAMP[:-1], 1.5]), "cdf[200]"),
    ("cdf_nan", OPEN, cdf_of([*RAMP[:50], math.nan, *RAMP[51:]]), "cdf[50]"),
    ("cdf_closed_lower_not_zero", CLOSED, cdf_of([0.1] + [max(0.1, v) for v in RAMP[1:]]), "cdf[0]"),
    ("cdf_closed_upper_not_one", CLOSED, cdf_of([v * 0.9 for v in RAMP]), "cdf[200]"),
    ("histogram_overlap", CLOSED, {"type": "histogram", "bins": [{"lo": 0, "hi": 5, "p": 0.5},
                                                                 {"lo": 4, "hi": 10, "p": 0.5}]}, "bins[1].lo"),
    ("histogram_out_of_order", CLOSED, {"type": "histogram", "bins": [{"lo": 5, "hi": 10, "p": 0.5},
                                                                      {"lo": 0, "hi": 5, "p": 0.5}]}, "bins[1].lo"),
    ("histogram_outside_range", CLOSED, {"type": "histogram", "bins": [{"lo": -1, "hi": 5, "p": 1.0}]}, "bins[0].lo"),
    ("histogram_above_range", CLOSED, {"type": "histogram", "bins": [{"lo": 1, "hi": 11, "p": 1.0}]}, "bins[0].hi"),
    ("histogram_empty_bin", CLOSED, {"type": "histogram", "bins": [{"lo": 1, "hi": 1, "p": 1.0}]}, "bins[0].hi"),
    ("histogram_negative_p", CLOSED, {"type": "histogram", "bins": [{"lo": 0, "hi": 5, "p": -0.5},
                                                                    {"lo": 5, "hi": 10, "p": 1.5}]}, "bins[0].p"),
    ("histogram_not_summing_to_one", OPEN, {"type": "histogram", "mass_below": 0.1,
                                            "bins": [{"lo": 0, "hi": 5, "p": 0.5}]}, "bins"),
    ("mixture_zero_weight", LOG, {"type": "mixture", "components": [{"weight": 0, "spec": LN}]},
     "components[0].weight"),
    ("mixture_bad_component", LOG, {"type": "mixture", "components": [
        {"weight": 1, "spec": LN}, {"weight": 1, "spec": {**LN, "sigma": -2}}]}, "components[1].spec.sigma"),
    ("mixture_too_deep", LOG, {"type": "mixture", "components": [{"weight": 1, "spec": {
        "type": "mixture", "components": [{"weight": 1, "spec": {
            "type": "mixture", "components": [{"weight": 1, "spec": {
                "type": "mixture", "components": [{"weight": 1, "spec": LN}]}}]}}]}}]},
     "components[0].spec.components[0].spec.components[0].spec"),
    ("mixture_no_components", LOG, {"type": "mixture", "components": []}, "components"),
    ("mixture_too_many", LOG, {"type": "mixture", "components": [{"weight": 1, "spec": LN}] * (MAX_POINTS + 1)},
     "components"),
]


@pytest.mark.parametrize(("domain", "spec", "path"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_it_rejects_bad_specs_naming_the_field(domain, spec, path):
    with pytest.raises(SpecError) as info:
        from_spec(spec, domain)
    assert info.value.path == path
    assert info.value.message
    assert str(info.value) == f"{path}: {info.value.message}"


def test_it_accepts_three_nested_mixtures():
    spec = {"type": "mixture", "components": [{"weight": 1, "spec": {
        "type": "mixture", "components": [{"weight": 1, "spec": {
            "type": "mixture", "components": [{"weight": 1, "spec": LN}]}}]}}]}
    assert from_spec(spec, LOG).cdf.shape == (201,)


def test_it_rejects_quantiles_out_of_order():
    with pytest.raises(SpecError, match=r"points\[1\]\.p: .*increasing"):
        from_spec(q((0.5, 10.0), (0.2, 1e3)), LOG)


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"lower": 0.0, "upper": 10.0, "scale": "log"}, "lower"),
        ({"lower": 5.0, "upper": 5.0, "scale": "linear"}, "upper"),
        ({"lower": math.nan, "upper": 5.0, "scale": "linear"}, "lower"),
        ({"lower": 0.0, "upper": math.inf, "scale": "linear"}, "upper"),
        ({"lower": 0.0, "upper": 1.0, "scale": "cubic"}, "scale"),
        ({"lower": "2030-13-01", "upper": "2040-01-01", "scale": "date"}, "lower"),
        ({"lower": True, "upper": 4.0, "scale": "linear"}, "lower"),
    ],
)
def test_it_rejects_bad_domains(kwargs, path):
    with pytest.raises(SpecError) as info:
        Domain.create(open_lower=False, open_upper=False, **kwargs)
    assert info.value.path == path
