"""Django's Redis cache backend, keeping one redis-py client per connection pool for the life of the process.

Django's RedisCacheClient.get_client builds a new `redis.Redis` on every cache call. The connection itself comes
from a pool, but each build registers redis-py's response callbacks anew (some 170 dictionary entries). Every API
request makes two such calls for its throttle (a get and a set), and in bench/profile_submit.py's CPU profile the
two builds were about a quarter of the throttle's cost. A redis-py client may be shared by threads (each command
takes its own connection from the pool), so one per pool is enough.

Settings: CACHES["default"]["BACKEND"] = "forecasts.cache.RedisCache" (config/settings.py).
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[object, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
