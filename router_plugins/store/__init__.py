"""Session and statistics storage: Redis when REDIS_URL is set, in-process otherwise."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError


class StoreUnavailable(RuntimeError):
    """The backing store did not answer; callers degrade instead of failing the request."""


def connect(url: str) -> aioredis.Redis:
    # Short timeouts: a dead Redis must degrade a request by milliseconds, not hang it.
    return aioredis.Redis.from_url(
        url,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry_on_timeout=False,
        health_check_interval=30,
        decode_responses=True,
    )


__all__ = ["RedisError", "StoreUnavailable", "connect"]
