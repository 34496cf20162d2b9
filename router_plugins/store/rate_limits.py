"""Requests per caller per time window (`routing.rate_limit`): counted in Redis, so every worker and
replica shares one budget per caller; in process without Redis. A fixed window keeps it to one round
trip per request (INCR + EXPIRE in one pipeline). Redis being down lets requests through: a limit is
not worth refusing traffic over."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import Counter
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


def _window(window_seconds: int) -> tuple[int, int]:
    """The current window's index and the whole seconds until it ends (at least 1)."""
    now = time.time()
    index = int(now // window_seconds)
    return index, max(1, math.ceil((index + 1) * window_seconds - now))


class MemoryRateLimiter:
    """One process only: the embedded default when REDIS_URL is unset."""

    def __init__(self, limit: int, window_seconds: int) -> None:
        self._limit, self._window_seconds = limit, window_seconds
        self._index = -1
        self._counts: Counter[str] = Counter()

    async def admit(self, caller: str) -> None:
        index, retry_after = _window(self._window_seconds)
        if index != self._index:
            self._index, self._counts = index, Counter()
        self._counts[caller] += 1
        if self._counts[caller] > self._limit:
            raise RateLimited(self._limit, self._window_seconds, retry_after)


class RedisRateLimiter:
    def __init__(self, client: aioredis.Redis, prefix: str, limit: int, window_seconds: int) -> None:
        self._client = client
        self._prefix = f"{prefix}rate:"
        self._limit, self._window_seconds = limit, window_seconds

    async def admit(self, caller: str) -> None:
        index, retry_after = _window(self._window_seconds)
        # Callers are user ids, key hashes or addresses: hashed, so a key is short and holds no user data.
        key = f"{self._prefix}{hashlib.sha256(caller.encode()).hexdigest()[:24]}:{index}"
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, self._window_seconds + 1)
                count, _ = await pipe.execute()
        except RedisError as exc:
            log.warning("rate limit not checked, Redis unavailable: %s", exc)
            return
        if count > self._limit:
            raise RateLimited(self._limit, self._window_seconds, retry_after)
