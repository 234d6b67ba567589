"""forecasts.cache.RedisCache on a real Redis: it answers as Django's Redis backend does, and every cache call of a
process goes through one redis-py client (Django's own builds a new one per call)."""

from __future__ import annotations

from forecasts.cache import RedisCache


def test_it_answers_as_djangos_backend_through_one_client(own_redis):
    cache = RedisCache(own_redis.url, {"KEY_PREFIX": "t"})
    client = cache._cache.get_client()
    assert cache._cache.get_client(write=True) is client  # one server: reads and writes share its pool

    cache.set("spec", {"type": "lognormal", "median": 1e9}, 30)
    assert cache.get("spec") == {"type": "lognormal", "median": 1e9}
    assert cache.add("spec", "other", 30) is False
    cache.set("count", 1, 30)
    assert cache.incr("count") == 2
    assert cache.get_many(["spec", "count", "missing"]) == {"spec": {"type": "lognormal", "median": 1e9}, "count": 2}
    cache.delete("spec")
    assert cache.get("spec") is None
    # Throttle counters and keys live in Redis itself, where another process (another gunicorn worker) reads them.
    assert client.get("t:1:count") == b"2"
    assert cache._cache.get_client() is client
