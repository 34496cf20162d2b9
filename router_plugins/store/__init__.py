"""Session and statistics storage: Redis when REDIS_URL is set, in-process otherwise."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError


class StoreUnavailable(RuntimeError):
    """The backing store did not answer; callers degrade instead of failing the request."""


# Connections per worker process. Redis runs one command at a time and answers in well under a
# millisecond, so a few connections carry a worker's load; a burst beyond them waits for a free one
# (redis-py's default pool would raise "Too many connections" and skip session writes, stats and rate
# limits). Few connections also keep a cold burst cheap: every new connection is a TCP connect and a
# handshake on the same event loop, and a hundred at once on a busy CPU took longer than the connect
# timeout (300 writes on a cold pool beside ten busy processes lost up to 190 with 100 connections
# and none with 16; tests/test_stores.py keeps such a burst under a busy CPU).
MAX_CONNECTIONS = 16


def connect(url: str) -> aioredis.Redis:
    # A dead Redis refuses at once; these bound a hung or unreachable one. They are wall time on an
    # event loop that also serves requests, so they leave room for a busy worker: waiting for a pooled
    # connection is not a sign of a dead Redis and gets the most.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=2.0,
        socket_timeout=0.5,
        socket_connect_timeout=1.0,
        retry_on_timeout=False,
        health_check_interval=30,
        decode_responses=True,
    )
    return aioredis.Redis(connection_pool=pool)


__all__ = ["RedisError", "StoreUnavailable", "connect"]
