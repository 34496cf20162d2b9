"""Requests per caller per time window (`routing.rate_limit`): counted in Redis, so every worker and
replica shares one budget per caller; in process without Redis. A fixed window keeps it to one round
trip per request; it starts at a caller's first request, not on the clock's minute, so a caller
cannot spend two budgets back to back across a minute boundary. Redis being down lets requests
through: a limit is not worth refusing traffic over."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Protocol

import redis.asyncio as aioredis

from . import RedisError

log = logging.getLogger(__name__)


class RateLimited(RuntimeError):
    def __init__(self, limit: int, window_seconds: int, retry_after: int) -> None:
        super().__init__(
            f"Rate limit exceeded: {limit} requests per {window_seconds} s for this caller; "
            f"retry after {retry_after} s"
        )
        self.retry_after = retry_after


def rate_limit_caller(user_id: str | None, api_key: str | None, address: str | None) -> str:
    """Who a limit counts: the user a request names, else its API key, else its client address."""
    if user_id:
        return f"user:{user_id}"
    if api_key:
        return f"key:{hashlib.sha256(api_key.encode()).hexdigest()}"
    return f"address:{address or 'unknown'}"


class RateLimiter(Protocol):
    async def admit(self, caller: str) -> None:
        """Count one request of `caller`; raise RateLimited when it is over the limit."""
        ...


class Unlimited:
    async def admit(self, caller: str) -> None:
        return None


class MemoryRateLimiter:
    """One process only: the embedded default when REDIS_URL is unset."""

    def __init__(self, limit: int, window_seconds: int) -> None:
        self._limit, self._window_seconds = limit, window_seconds
        self._windows: dict[str, tuple[float, int]] = {}  # caller -> (window end, count)

    async def admit(self, caller: str) -> None:
        now = time.monotonic()
        if len(self._windows) > 10_000:  # forget finished windows so idle callers do not pile up
            self._windows = {c: w for c, w in self._windows.items() if w[0] > now}
        ends, count = self._windows.get(caller, (0.0, 0))
        if ends <= now:
            ends, count = now + self._window_seconds, 0
        self._windows[caller] = (ends, count + 1)
        if count + 1 > self._limit:
            raise RateLimited(self._limit, self._window_seconds, max(1, math.ceil(ends - now)))


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis, prefix: str, limit: int, window_seconds: int) -> None:
        self._client = client
        self._prefix = f"{prefix}rate:"
        self._limit, self._window_seconds = limit, window_seconds

    async def admit(self, caller: str) -> None:
        # Callers are user ids, key hashes or addresses: hashed, so a key is short and holds no user data.
        key = f"{self._prefix}{hashlib.sha256(caller.encode()).hexdigest()[:24]}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                # The first request of a window creates the counter with the window as its TTL; INCR keeps the TTL.
                pipe.set(key, 0, ex=self._window_seconds, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
                _, count, ttl = await pipe.execute()
        except RedisError as exc:
            log.warning("rate limit not checked, Redis unavailable: %s", exc)
            return
        if count > self._limit:
            raise RateLimited(self._limit, self._window_seconds, max(1, int(ttl)))
