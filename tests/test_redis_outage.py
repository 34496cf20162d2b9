"""Redis stopped under load: the router keeps answering (every turn classified), says so in /health and
in a metric, and recovers by itself when Redis returns. A private redis-server on its own port, killed
and restarted; the router process is never restarted."""

from __future__ import annotations

import concurrent.futures
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from .conftest import Router, free_port, start_router, stop_router


def start_redis(port: int, directory: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port, socket_connect_timeout=0.2).ping():
                return process
        except redis.RedisError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not start on port {port}")


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[tuple[int, list[subprocess.Popen]]]:
    port = free_port()
    processes = [start_redis(port, tmp_path)]
    yield port, processes
    for process in processes:
        process.kill()
        process.wait()


def store_errors(router: Router) -> float:
    metrics = router.get("/metrics/").text
    line = next(line for line in metrics.splitlines() if line.startswith("router_store_unavailable_total "))
    return float(line.split()[1])


def test_a_redis_outage_degrades_routing_and_heals_without_a_restart(
    model_server: str, tmp_path: Path, private_redis: tuple[int, list[subprocess.Popen]]
) -> None:
    port, processes = private_redis
    router = start_router(tmp_path, model_server, env={"REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    try:
        first = router.post("/route", {"query": "Write a Python function to sort a list", "dry_run": True}).json()
        session_id = first["session_id"]
        follow_up = {"query": "add error handling", "session_id": session_id, "dry_run": True}
        assert router.post("/route", follow_up).json()["bypass_used"]
        assert router.get("/health").json()["bypass_router"] == "connected"
        errors_before = store_errors(router)

        # Load through both paths while Redis dies: every request must still be answered.
        stop = threading.Event()
        statuses: list[tuple[float, int]] = []

        def load() -> None:
            while not stop.is_set():
                reply = router.post("/route", {"query": "Explain recursion", "dry_run": True})
                statuses.append((time.monotonic(), reply.status_code))
                reply = router.post("/v1/chat/completions", {
                    "model": "auto", "max_tokens": 4, "messages": [{"role": "user", "content": "Say hi"}],
                }, headers={"x-session-id": "outage-openai"})
                statuses.append((time.monotonic(), reply.status_code))

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            running = pool.submit(load)
            time.sleep(1.0)
            processes[0].kill()
            processes[0].wait()
            killed = time.monotonic()
            time.sleep(2.0)
            stop.set()
            running.result()
        assert {status for _, status in statuses} == {200}, statuses
        assert sum(at > killed for at, _ in statuses) >= 2  # answered while Redis was down

        # Down: the follow-up is classified in full (its session cannot be read), not refused.
        down = router.post("/route", follow_up)
        assert down.status_code == 200
        assert down.json()["bypass_used"] is False and down.json()["use_case"] == "agent"
        health = router.get("/health").json()
        assert health["bypass_router"] == "disconnected" and health["status"] == "degraded"
        assert store_errors(router) > errors_before
        assert router.get("/stats").status_code == 200

        # Redis returns (empty: it keeps nothing on disk); the same router process reconnects by itself.
        processes.append(start_redis(port, tmp_path))
        deadline = time.monotonic() + 30
        while router.get("/health").json()["bypass_router"] != "connected" and time.monotonic() < deadline:
            time.sleep(0.25)
        assert router.get("/health").json()["bypass_router"] == "connected"
        fresh = router.post("/route", {"query": "Write a haiku about rain", "dry_run": True}).json()
        again = router.post("/route", {"query": "shorter", "session_id": fresh["session_id"], "dry_run": True})
        assert again.status_code == 200 and again.json()["bypass_used"]
    finally:
        stop_router(router)
