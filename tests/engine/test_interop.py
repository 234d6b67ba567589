import pytest

from amplification.distributions import from_spec
from amplification.errors import SpecError
from amplification.interop import from_metaculus, to_metaculus


def test_it_exports_the_metaculus_layout(agi_domain):
    d = from_spec({"type": "normal", "mean": 20, "sd": 10}, agi_domain)
    payload = to_metaculus(d.cdf, agi_domain)
    assert len(payload["continuous_cdf"]) == 201
    assert payload["lower_bound"] == "2020-01-01" and payload["upper_bound"] == "2100-12-31"
    assert payload["open_lower_bound"] is True and payload["scale"] == "date"
    assert from_metaculus(payload, agi_domain).cdf.tolist() == d.cdf.tolist()


@pytest.mark.parametrize(("change", "path"), [
    ({"upper_bound": 1e21}, "upper_bound"),
    ({"open_upper_bound": False}, "open_upper_bound"),
    ({"scale": "linear"}, "scale"),
    ({"continuous_cdf": [0.0] * 200}, "continuous_cdf"),
])
def test_it_rejects_a_payload_for_another_question(compute_domain, change, path):
    payload = to_metaculus(from_spec({"type": "lognormal", "median": 1e9, "sigma": 2}, compute_domain).cdf,
                           compute_domain)
    with pytest.raises(SpecError) as info:
        from_metaculus({**payload, **change}, compute_domain)
    assert info.value.path == path
