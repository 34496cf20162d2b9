"""Session records with a sliding TTL. Records hold routing state only, never query text."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Protocol

import redis.asyncio as aioredis

from ..core.types import Modality, SessionState
from . import RedisError, StoreUnavailable


class SessionStore(Protocol):
    async def get(self, session_id: str) -> SessionState | None: ...

    async def record_turn(self, state: SessionState) -> int:
        """Store the session's routing state and count one more request; return the new count."""
        ...

    async def delete(self, session_id: str) -> bool: ...

    async def ping(self) -> bool: ...


class MemorySessionStore:
    """One process only: the embedded default when REDIS_URL is unset."""

    def __init__(self, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds
        self._records: dict[str, tuple[SessionState, float]] = {}

    async def get(self, session_id: str) -> SessionState | None:
        entry = self._records.get(session_id)
        if entry is None:
            return None
        state, expires_at = entry
        if expires_at <= time.monotonic():
            del self._records[session_id]
            return None
        return state

    async def record_turn(self, state: SessionState) -> int:
        self._evict_expired()
        previous = self._records.get(state.session_id)
        count = (previous[0].request_count if previous else 0) + 1
        self._records[state.session_id] = (replace(state, request_count=count), time.monotonic() + self._ttl)
        return count

    async def delete(self, session_id: str) -> bool:
        return await self.get(session_id) is not None and self._records.pop(session_id, None) is not None

    async def ping(self) -> bool:
        return True

    def _evict_expired(self) -> None:
        now = time.monotonic()
        for session_id in [key for key, (_, expires_at) in self._records.items() if expires_at <= now]:
            del self._records[session_id]


class RedisSessionStore:
    """A hash per session; every write refreshes the TTL, so a live conversation never expires."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: int, prefix: str) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._prefix = f"{prefix}session:"

    async def get(self, session_id: str) -> SessionState | None:
        try:
            fields = await self._client.hgetall(self._prefix + session_id)
        except RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return _decode(session_id, fields) if fields else None

    async def record_turn(self, state: SessionState) -> int:
        key = self._prefix + state.session_id
        record = {
            name: _encode(value)
            for name, value in asdict(state).items()
            if name not in ("session_id", "request_count")
        }
        try:
            # One round trip; HINCRBY keeps the count exact when workers serve the same session at once.
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=record)
                pipe.hincrby(key, "request_count", 1)
                pipe.expire(key, self._ttl)
                _, count, _ = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return int(count)

    async def delete(self, session_id: str) -> bool:
        try:
            return bool(await self._client.delete(self._prefix + session_id))
        except RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except RedisError:
            return False


def _encode(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(value)  # use-case ids: no commas (the config's id pattern)
    return "" if value is None else str(value)


def _decode(session_id: str, fields: dict[str, str]) -> SessionState:
    return SessionState(
        session_id=session_id,
        use_case=fields["use_case"],
        model=fields["model"],
        endpoint=fields.get("endpoint", ""),
        confidence=float(fields["confidence"]),
        modality=Modality(fields["modality"]),
        request_count=int(fields["request_count"]),
        created_at=float(fields["created_at"]),
        last_accessed=float(fields["last_accessed"]),
        user_id=fields.get("user_id") or None,
        history=tuple(filter(None, fields.get("history", "").split(","))),
        # Records written before the field existed: exact for the many sessions that never switched.
        turns_on_use_case=int(fields.get("turns_on_use_case") or fields["request_count"]),
    )

