"""Session and statistics storage: Redis when REDIS_URL is set, in-process otherwise."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError


class StoreUnavailable(RuntimeError):
    """The backing store did not answer; callers degrade instead of failing the request."""


# Connections per worker process. A burst beyond this waits for a free connection (a Redis command
# takes well under a millisecond) instead of failing: redis-py's default pool raises "Too many
# connections" past its size, which would skip session writes, stats and rate limits.
MAX_CONNECTIONS = 100


def connect(url: str) -> aioredis.Redis:
    # Short timeouts: a dead Redis must degrade a request by milliseconds, not hang it.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=0.5,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry_on_timeout=False,
        health_check_interval=30,
        decode_responses=True,
    )
    return aioredis.Redis(connection_pool=pool)


__all__ = ["RedisError", "StoreUnavailable", "connect"]
