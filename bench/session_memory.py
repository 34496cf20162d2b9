"""Redis memory per session, for sizing: sessions written by the router's own store code, measured with
MEMORY USAGE per key and with INFO's used_memory before and after; then the rate-limit and stats keys.

    .venv/bin/python bench/session_memory.py [--sessions 10000] [--redis-url redis://HOST:6379/0]

Without --redis-url it starts a throwaway redis-server (the one on PATH) so that used_memory moves only
with what this script writes; with it, it writes under a private key prefix and deletes its keys after.
Workload: --sessions conversations of 1-6 turns that switch use case now and then (seeded), with a
user id on half of them, the record the router writes after each turn; and sessions at the history cap
(HISTORY_LENGTH switches), the largest record the router writes."""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import redis

from router_plugins.config import load_config_file
from router_plugins.core.policy import HISTORY_LENGTH, next_session_state
from router_plugins.core.types import Decision, Modality, SessionState
from router_plugins.embedded import free_port
from router_plugins.service import new_session_id
from router_plugins.store import connect
from router_plugins.store.rate_limits import RedisRateLimiter, rate_limit_caller
from router_plugins.store.sessions import RedisSessionStore
from router_plugins.store.stats import RedisStatsStore, TurnRecord

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3
# Sessions written concurrently; below redis-py's default pool of 100 connections, past which a command
# fails with MaxConnectionsError instead of waiting for a connection.
BATCH = 50
# Cluster-style service names: longer than docker-compose's, so the estimate errs on the large side.
ENDPOINTS = {
    "Qwen/Qwen2.5-7B-Instruct": "http://vllm-agent.inference.svc.cluster.local:8000/v1",
    "Qwen/Qwen2.5-VL-7B-Instruct": "http://vllm-vision.inference.svc.cluster.local:8000/v1",
    "Qwen/Qwen2-Audio-7B-Instruct": "http://vllm-audio.inference.svc.cluster.local:8000/v1",
}


@dataclass(frozen=True)
class Measured:
    keys: int
    per_key: np.ndarray  # MEMORY USAGE of each key, bytes
    used_memory_delta: int  # INFO used_memory after minus before, bytes
    encodings: dict[str, int]

    @property
    def per_key_from_delta(self) -> float:
        return self.used_memory_delta / self.keys


def models_by_use_case() -> dict[str, str]:
    """The repo config's model for each use case: the names the router writes into sessions."""
    document = load_config_file(ROOT / "litellm_config.yaml")
    return {
        use_case: entry["model_name"]
        for entry in document["model_list"]
        for use_case in entry.get("model_info", {}).get("use_cases", [])
    }


def decision(models: dict[str, str], use_case: str, bypass: bool, switched: bool, rng: random.Random) -> Decision:
    model = models[use_case]
    return Decision(use_case, model, ENDPOINTS[model], rng.uniform(0.3, 1.0), bypass, switched, None)


def conversation(models: dict[str, str], turns: int, switch_every: int | None, user_id: str | None,
                 rng: random.Random) -> list[SessionState]:
    """The states the router writes after each turn of one conversation, via its own next_session_state."""
    use_cases = sorted(models)
    states: list[SessionState] = []
    session: SessionState | None = None
    session_id = new_session_id()
    for index in range(turns):
        switch = session is not None and switch_every is not None and index % switch_every == 0
        use_case = (rng.choice([u for u in use_cases if u != session.use_case]) if switch and session
                    else session.use_case if session else rng.choice(use_cases))
        modality = rng.choice([Modality.TEXT, Modality.TEXT, Modality.IMAGE, Modality.AUDIO])
        turn = decision(models, use_case, bypass=session is not None and not switch, switched=switch, rng=rng)
        session = next_session_state(session, session_id, turn, modality, user_id, time.time())
        states.append(session)
    return states


def typical_population(models: dict[str, str], count: int, rng: random.Random) -> list[list[SessionState]]:
    # Half the callers name a user (the guide's user_id, or `user` on the OpenAI path): a uuid, 36 characters.
    return [
        conversation(models, rng.randint(1, 6), rng.choice([None, None, 2, 3]),
                     str(uuid.UUID(int=rng.getrandbits(128))) if index % 2 else None, rng)
        for index in range(count)
    ]


def capped_population(models: dict[str, str], count: int, rng: random.Random) -> list[list[SessionState]]:
    """Sessions that switched on every turn until the history holds HISTORY_LENGTH use cases."""
    return [
        conversation(models, HISTORY_LENGTH + 5, 1, str(uuid.UUID(int=rng.getrandbits(128))), rng)
        for _ in range(count)
    ]


async def write(store: RedisSessionStore, population: Sequence[list[SessionState]]) -> None:
    # Each turn is one record_turn, in order per session; sessions in parallel batches.
    async def replay(states: list[SessionState]) -> None:
        for state in states:
            await store.record_turn(state)

    for start in range(0, len(population), BATCH):
        await asyncio.gather(*(replay(states) for states in population[start:start + BATCH]))


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def usage(client: redis.Redis, keys: Sequence[str]) -> tuple[np.ndarray, dict[str, int]]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)  # samples=0: every field counted, not an estimate
        pipe.object("encoding", key)
    replies = pipe.execute()
    encodings: dict[str, int] = {}
    for encoding in replies[1::2]:
        encodings[str(encoding)] = encodings.get(str(encoding), 0) + 1
    return np.array(replies[0::2], dtype=float), encodings


def measure_sessions(client: redis.Redis, url: str, prefix: str, population: Sequence[list[SessionState]],
                     ttl: int) -> Measured:
    before = used_memory(client)
    asyncio.run(_write_with_fresh_client(url, prefix, population, ttl))
    after = used_memory(client)
    keys = [f"{prefix}session:{states[0].session_id}" for states in population]
    per_key, encodings = usage(client, keys)
    return Measured(len(keys), per_key, after - before, encodings)


async def _write_with_fresh_client(url: str, prefix: str, population: Sequence[list[SessionState]], ttl: int) -> None:
    client = connect(url)
    try:
        await write(RedisSessionStore(client, ttl, prefix), population)
    finally:
        await client.aclose()


async def _rate_limit_and_stats(url: str, prefix: str, callers: int) -> None:
    client = connect(url)
    try:
        limiter = RedisRateLimiter(client, prefix, limit=60, window_seconds=60)
        for index in range(callers):
            await limiter.admit(rate_limit_caller(f"user-{index}", None, None))
        stats = RedisStatsStore(client, prefix)
        # Every counter the store keeps, floats included: the hash at its largest.
        await stats.record(TurnRecord(False, True, True, True, True, 0.01, 0.5, 0.51))
        await stats.record(TurnRecord(True, False, False, False, False, 0.001, None, 0.2))
    finally:
        await client.aclose()


def forget(client: redis.Redis, prefix: str) -> int:
    keys = list(client.scan_iter(f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start:start + 1000])
    return len(keys)


@contextmanager
def throwaway_redis() -> Iterator[str]:
    """A redis-server of its own, no persistence, so used_memory moves only with this script's writes."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not on PATH: pass --redis-url to measure on a running Redis")
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    redis.Redis.from_url(url).ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            process.wait(10)


def report_sessions(label: str, measured: Measured) -> None:
    median, p99 = np.percentile(measured.per_key, [50, 99])
    print(f"{label:34s} {measured.keys:6d} keys  MEMORY USAGE median {median:5.0f} B  p99 {p99:5.0f} B  "
          f"max {measured.per_key.max():5.0f} B  |  used_memory delta {measured.per_key_from_delta:6.0f} B/session  "
          f"encoding {measured.encodings}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--capped", type=int, default=1_000, help="sessions at the history cap")
    parser.add_argument("--callers", type=int, default=10_000, help="callers with a live rate-limit window")
    parser.add_argument("--redis-url", help="a running Redis (default: a throwaway redis-server)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.redis_url:
        run(args, args.redis_url)
    else:
        with throwaway_redis() as url:
            run(args, url)


def run(args: argparse.Namespace, url: str) -> None:
    client = redis.Redis.from_url(url, decode_responses=True)
    server = client.info("server")
    limits = client.config_get("hash-max-listpack-*")
    print(f"Redis {server['redis_version']} ({client.info('memory')['mem_allocator']}), "
          f"{'throwaway server' if not args.redis_url else url}, {limits}")
    prefix = f"bench-memory-{uuid.uuid4().hex[:8]}:"
    rng = random.Random(args.seed)
    models = models_by_use_case()
    try:
        typical = measure_sessions(client, url, prefix, typical_population(models, args.sessions, rng), ttl=1800)
        capped_sessions = capped_population(models, args.capped, rng)
        capped = measure_sessions(client, url, prefix, capped_sessions, ttl=1800)
        stored = client.hget(f"{prefix}session:{capped_sessions[0][0].session_id}", "history") or ""
        report_sessions("sessions, 1-6 turns", typical)
        report_sessions(f"sessions, {len(stored.split(','))} use cases in history", capped)

        before = used_memory(client)
        asyncio.run(_rate_limit_and_stats(url, prefix, args.callers))
        rate_delta = used_memory(client) - before
        rate_keys = list(client.scan_iter(f"{prefix}rate:*", count=1000))
        rate_usage, _ = usage(client, rate_keys)
        stats_usage, stats_encoding = usage(client, [f"{prefix}stats"])
        print(f"{'rate-limit windows':34s} {len(rate_keys):6d} keys  MEMORY USAGE median "
              f"{np.median(rate_usage):5.0f} B  |  used_memory delta {rate_delta / len(rate_keys):6.0f} B/caller "
              "(stats hash included)")
        print(f"{'stats (one hash for the cluster)':34s} {1:6d} key   MEMORY USAGE {stats_usage[0]:5.0f} B  "
              f"encoding {stats_encoding}")

        per_session = max(typical.per_key_from_delta, float(np.percentile(typical.per_key, 50)))
        worst = max(capped.per_key_from_delta, float(capped.per_key.max()))
        print(f"\nsizing: {per_session:.0f} B per typical session -> {GIB / per_session:,.0f} sessions per GiB; "
              f"{worst:.0f} B at the history cap -> {GIB / worst:,.0f} per GiB (used_memory, before "
              "allocator fragmentation and replication buffers)")
        memory = client.info("memory")
        # Small data sets are dominated by the server's own baseline: meaningful from ~100,000 sessions.
        ratio = memory["used_memory_rss"] / memory["used_memory"]
        print(f"RSS / used_memory with all of the above stored: {ratio:.2f}")
    finally:
        print(f"deleted {forget(client, prefix)} keys under {prefix}")


if __name__ == "__main__":
    main()
