"""The cache backend: Django's Redis cache, keeping its Redis clients."""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    """Django's client builds a new redis.Redis, with its table of some 170 reply callbacks, for every
    cache operation; the API's rate limit makes two per call. One client per connection pool does the
    same work (clients are thread-safe and share the pool's connections)."""

    def get_client(self, key=None, *, write=False):  # noqa: ANN001, ANN201
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients", {})
        if pool not in clients:
            clients[pool] = self._client(connection_pool=pool)
        return clients[pool]


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str | list[str], params: dict) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def count(self, key: str, timeout: int) -> tuple[int, int]:
        """Add one to the counter at `key`, which expires `timeout` seconds after its first count; return the
        count and the seconds it has left. One round trip, atomic (MULTI/EXEC): a client that dies half way
        cannot leave a counter that never expires."""
        key = self.make_and_validate_key(key)
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=True)
        pipe.set(key, 0, ex=timeout, nx=True)  # the window starts with the first count (any Redis since 2.6)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = pipe.execute()
        return count, ttl
