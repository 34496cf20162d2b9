"""Request statistics for GET /stats, summed across every worker and replica when kept in Redis."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis

from . import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TurnRecord:
    bypass: bool
    new_session: bool
    context_change: bool
    dry_run: bool
    failed: bool
    routing_time: float
    inference_time: float | None
    total_time: float


def _increments(turn: TurnRecord) -> Counter[str]:
    counts: Counter[str] = Counter(total_requests=1)
    counts["bypass_requests" if turn.bypass else "full_routing_requests"] += 1
    counts["bypass_time_sum" if turn.bypass else "routing_time_sum"] += turn.routing_time
    counts["session_creations"] += turn.new_session
    counts["context_changes"] += turn.context_change
    counts["dry_run_requests"] += turn.dry_run
    counts["failed_requests"] += turn.failed
    if turn.inference_time is not None:
        counts.update(inference_requests=1, inference_time_sum=turn.inference_time, total_time_sum=turn.total_time)
    return +counts  # drop zero entries: fewer Redis commands


def summarize(totals: dict[str, float]) -> dict[str, float | int]:
    """The guide's /stats fields (plus dry runs and failures) from raw counters."""

    def count(name: str) -> int:
        return int(totals.get(name, 0))

    def mean(sum_name: str, count_name: str) -> float:
        n = count(count_name)
        return round(totals.get(sum_name, 0.0) / n, 6) if n else 0.0

    total = count("total_requests")
    return {
        "total_requests": total,
        "bypass_requests": count("bypass_requests"),
        "full_routing_requests": count("full_routing_requests"),
        "session_creations": count("session_creations"),
        "context_changes": count("context_changes"),
        "dry_run_requests": count("dry_run_requests"),
        "failed_requests": count("failed_requests"),
        "bypass_rate_percent": round(100.0 * count("bypass_requests") / total, 2) if total else 0.0,
        "average_routing_time": mean("routing_time_sum", "full_routing_requests"),
        "average_bypass_time": mean("bypass_time_sum", "bypass_requests"),
        "average_inference_time": mean("inference_time_sum", "inference_requests"),
        "average_total_time": mean("total_time_sum", "inference_requests"),
    }


class StatsStore(Protocol):
    async def record(self, turn: TurnRecord) -> None: ...

    async def snapshot(self) -> dict[str, float | int]: ...


class MemoryStatsStore:
    def __init__(self) -> None:
        self._totals: Counter[str] = Counter()

    async def record(self, turn: TurnRecord) -> None:
        self._totals.update(_increments(turn))

    async def snapshot(self) -> dict[str, float | int]:
        return summarize(dict(self._totals))


class RedisStatsStore:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client = client
        self._key = f"{prefix}stats"

    async def record(self, turn: TurnRecord) -> None:
        await self._add(_increments(turn))

    async def _add(self, increments: Counter[str]) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for name, amount in increments.items():
                    if isinstance(amount, float):
                        pipe.hincrbyfloat(self._key, name, amount)
                    else:
                        pipe.hincrby(self._key, name, amount)
                await pipe.execute()
        except RedisError as exc:
            # Statistics are not worth failing a user's request for.
            log.warning("stats not recorded, Redis unavailable: %s", exc)

    async def snapshot(self) -> dict[str, float | int]:
        try:
            raw = await self._client.hgetall(self._key)
        except RedisError as exc:
            log.warning("stats unavailable, Redis unavailable: %s", exc)
            raw = {}
        return summarize({name: float(value) for name, value in raw.items()})
