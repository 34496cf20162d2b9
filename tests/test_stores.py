"""Session and stats stores against the real Redis on 127.0.0.1:6379, and the in-process fallback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from router_plugins.core.types import Modality, SessionState
from router_plugins.store import StoreUnavailable, connect
from router_plugins.store.rate_limits import MemoryRateLimiter, RateLimited, RedisRateLimiter
from router_plugins.store.sessions import MemorySessionStore, RedisSessionStore
from router_plugins.store.stats import MemoryStatsStore, RedisStatsStore, TurnRecord

from .conftest import REDIS_URL


@pytest.fixture()
def prefix() -> Iterator[str]:
    value = f"test-store-{uuid.uuid4().hex[:8]}:"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{value}*"))
    if keys:
        client.delete(*keys)


def state(session_id: str = "abc123", **changes: object) -> SessionState:
    fields = dict(
        session_id=session_id, use_case="agent", model="m", endpoint="http://x/v1", confidence=0.9,
        modality=Modality.TEXT, request_count=0, created_at=1.0, last_accessed=2.0, user_id="u1",
        history=("multimodal", "agent"), turns_on_use_case=3,
    )
    fields.update(changes)
    return SessionState(**fields)


def run(coroutine):
    return asyncio.run(coroutine)


def test_redis_sessions_count_turns_exactly_and_refresh_the_ttl(prefix: str) -> None:
    async def scenario() -> tuple[list[int], SessionState | None]:
        store = RedisSessionStore(connect(REDIS_URL), ttl_seconds=100, prefix=prefix)
        counts = list(await asyncio.gather(*(store.record_turn(state()) for _ in range(20))))
        return counts, await store.get("abc123")

    counts, loaded = run(scenario())
    assert sorted(counts) == list(range(1, 21))
    assert loaded == state(request_count=20)
    ttl = redis.Redis.from_url(REDIS_URL).ttl(f"{prefix}session:abc123")
    assert 90 < ttl <= 100


def test_redis_session_record_holds_no_query_text(prefix: str) -> None:
    run(RedisSessionStore(connect(REDIS_URL), 100, prefix).record_turn(state()))
    stored = redis.Redis.from_url(REDIS_URL, decode_responses=True).hgetall(f"{prefix}session:abc123")
    assert set(stored) == {
        "use_case", "model", "endpoint", "confidence", "modality", "request_count",
        "created_at", "last_accessed", "user_id", "history", "turns_on_use_case",
    }
    assert stored["history"] == "multimodal,agent"


def test_redis_session_written_before_turns_on_use_case_existed_still_loads(prefix: str) -> None:
    # A rolling upgrade meets records an older router wrote: the turn count stands in for the tenure.
    run(RedisSessionStore(connect(REDIS_URL), 100, prefix).record_turn(state(history=("agent",))))
    client = redis.Redis.from_url(REDIS_URL)
    client.hdel(f"{prefix}session:abc123", "turns_on_use_case")
    client.hset(f"{prefix}session:abc123", "request_count", 5)
    loaded = run(RedisSessionStore(connect(REDIS_URL), 100, prefix).get("abc123"))
    assert loaded is not None and loaded.context.turns_on_current == 5


def test_redis_session_delete(prefix: str) -> None:
    async def scenario() -> tuple[bool, bool, SessionState | None]:
        store = RedisSessionStore(connect(REDIS_URL), 100, prefix)
        await store.record_turn(state())
        return await store.delete("abc123"), await store.delete("abc123"), await store.get("abc123")

    assert run(scenario()) == (True, False, None)


def test_unreachable_redis_raises_store_unavailable_quickly() -> None:
    async def scenario() -> None:
        store = RedisSessionStore(connect("redis://127.0.0.1:9/0"), 100, "x:")
        assert not await store.ping()
        with pytest.raises(StoreUnavailable):
            await store.get("abc123")

    started = time.monotonic()
    run(scenario())
    assert time.monotonic() - started < 3


def test_memory_sessions_expire() -> None:
    async def scenario() -> tuple[SessionState | None, SessionState | None]:
        store = MemorySessionStore(ttl_seconds=1)
        await store.record_turn(state())
        fresh = await store.get("abc123")
        await asyncio.sleep(1.1)
        return fresh, await store.get("abc123")

    fresh, expired = run(scenario())
    assert fresh is not None and fresh.request_count == 1 and expired is None


TURNS = [
    TurnRecord(bypass=False, new_session=True, context_change=False, dry_run=False, failed=False,
               routing_time=0.02, inference_time=0.5, total_time=0.52),
    TurnRecord(bypass=True, new_session=False, context_change=False, dry_run=False, failed=False,
               routing_time=0.001, inference_time=0.3, total_time=0.301),
    TurnRecord(bypass=False, new_session=False, context_change=True, dry_run=True, failed=False,
               routing_time=0.04, inference_time=None, total_time=0.04),
    TurnRecord(bypass=True, new_session=False, context_change=False, dry_run=False, failed=True,
               routing_time=0.003, inference_time=None, total_time=0.2),
]
EXPECTED = {
    "total_requests": 4, "bypass_requests": 2, "full_routing_requests": 2, "session_creations": 1,
    "context_changes": 1, "dry_run_requests": 1, "failed_requests": 1, "bypass_rate_percent": 50.0,
    "average_routing_time": 0.03, "average_bypass_time": 0.002, "average_inference_time": 0.4,
    "average_total_time": 0.4105,
}


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_stats_summarise_the_guides_fields(backend: str, prefix: str) -> None:
    async def scenario() -> dict:
        store = MemoryStatsStore() if backend == "memory" else RedisStatsStore(connect(REDIS_URL), prefix)
        for turn in TURNS:
            await store.record(turn)
        return await store.snapshot()

    snapshot = run(scenario())
    assert snapshot == pytest.approx(EXPECTED)


@pytest.mark.parametrize("backend", ["redis", "memory"])
def test_a_rate_limit_window_starts_at_the_callers_first_request(backend: str, prefix: str) -> None:
    async def scenario() -> tuple[list[str], str]:
        limiter = (RedisRateLimiter(connect(REDIS_URL), prefix, limit=3, window_seconds=2) if backend == "redis"
                   else MemoryRateLimiter(limit=3, window_seconds=2))

        async def outcome(caller: str) -> str:
            try:
                await limiter.admit(caller)
            except RateLimited as refused:
                return f"refused {refused.retry_after}"
            return "admitted"

        first = [await outcome("alice") for _ in range(5)]
        other = await outcome("bob")
        await asyncio.sleep(2.1)  # the window that began at alice's first request has ended
        return first, await outcome("alice") + " / " + other

    outcomes, after = run(scenario())
    assert outcomes[:3] == ["admitted"] * 3
    assert outcomes[3:] in (["refused 2"] * 2, ["refused 1"] * 2, ["refused 2", "refused 1"])
    assert after == "admitted / admitted"


@pytest.fixture()
def busy_cpu() -> Iterator[None]:
    """Every core busy twice over, as on a loaded CI machine or a worker that is also encoding queries:
    the store's timeouts are wall time on an event loop that gets a share of the CPU."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))
    ]
    yield
    for burner in burners:
        burner.kill()
        burner.wait()


def test_a_burst_beyond_the_connection_pool_waits_instead_of_failing(prefix: str, busy_cpu: None) -> None:
    from router_plugins.store import MAX_CONNECTIONS

    burst = 20 * MAX_CONNECTIONS

    async def scenario() -> list[int]:
        store = RedisSessionStore(connect(REDIS_URL), ttl_seconds=100, prefix=prefix)
        return list(await asyncio.gather(*(store.record_turn(state()) for _ in range(burst))))

    assert sorted(run(scenario())) == list(range(1, burst + 1))
