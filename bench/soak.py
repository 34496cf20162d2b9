"""Soak: a router under steady mixed load for minutes, first against the instant stub backend (the
router's own behaviour at concurrency 32), then for a shorter spell against the real local model server.
Each caller holds conversations: a first turn that is classified, then follow-ups that bypass, on /route
and on the OpenAI path (plain and streamed). Reported per window: requests, failures, p50/p99 and the
router's RSS; at the end, failures overall, RSS growth after the first (warm-up) window and p99 drift.

    .venv/bin/python bench/soak.py [--minutes 5] [--concurrency 32] [--model-minutes 1]
                                   [--model-concurrency 4] [--window 30] [--kinds route,openai,streamed]"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from load import Connection
from proxy_overhead import (
    BENCH_PREFIX, KEY, REDIS_URL, Server, bench_servers, chat, queries, router_config, start, start_proxy, start_stub,
)
from router_plugins import embedded

FOLLOW_UPS = ("make it shorter", "add an example", "explain the second point again", "more detail please")
TURNS_PER_CONVERSATION = 4


@dataclass
class Window:
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


KINDS = ("route", "openai", "streamed")


def turn(kind: int, text: str, session_id: str) -> tuple[str, dict, dict]:
    """One turn of a conversation: /route (0), the OpenAI path (1), or the OpenAI path streamed (2)."""
    auth = {"Authorization": f"Bearer {KEY}"}
    if kind == 0:
        return "/route", {"query": text, "session_id": session_id, "max_tokens": 8}, auth
    return "/v1/chat/completions", chat("auto", text, stream=kind == 2), {**auth, "x-session-id": session_id}


async def soak(router: Server, minutes: float, concurrency: int, window_seconds: float,
               kinds: tuple[int, ...] = (0, 1, 2)) -> list[tuple[Window, float]]:
    texts = itertools.cycle(queries())
    windows: list[tuple[Window, float]] = []
    current = Window()
    deadline = time.monotonic() + minutes * 60

    async def caller(number: int) -> None:
        connection = Connection(router.url)
        kind = kinds[number % len(kinds)]
        try:
            while time.monotonic() < deadline:
                session_id = f"{BENCH_PREFIX}{uuid.uuid4().hex}"
                # /route creates the sessions it is given only on the first turn without an id.
                first = next(texts)
                for index in range(TURNS_PER_CONVERSATION):
                    text = first if index == 0 else FOLLOW_UPS[index % len(FOLLOW_UPS)]
                    path, body, headers = turn(kind, text, session_id)
                    if kind == 0 and index == 0:
                        body = {key: value for key, value in body.items() if key != "session_id"}
                    try:
                        reply = await connection.post(path, body, headers)
                    except (OSError, asyncio.IncompleteReadError) as exc:
                        current.failures.append(f"{path}: {exc!r}")
                        await connection.close()
                        connection = Connection(router.url)
                        break
                    if reply.status != 200:
                        current.failures.append(f"{path}: HTTP {reply.status} {reply.body[:200]!r}")
                        break
                    current.latencies_ms.append(reply.seconds * 1000)
                    if kind == 0 and index == 0:
                        session_id = json.loads(reply.body)["session_id"]
        finally:
            await connection.close()

    async def sampler() -> None:
        nonlocal current
        while time.monotonic() < deadline:
            await asyncio.sleep(min(window_seconds, max(0.0, deadline - time.monotonic())))
            windows.append((current, router.rss_mb()))
            current = Window()

    await asyncio.gather(sampler(), *(caller(number) for number in range(concurrency)))
    # Requests in flight at the deadline finish into the last window.
    last, _ = windows[-1]
    last.latencies_ms += current.latencies_ms
    last.failures += current.failures
    return windows


def report(name: str, windows: list[tuple[Window, float]], window_seconds: float) -> None:
    print(f"\n{name}")
    print(f"{'window':>8s}{'requests':>10s}{'failed':>8s}{'p50 ms':>9s}{'p99 ms':>9s}{'RSS MB':>9s}")
    for number, (window, rss) in enumerate(windows, start=1):
        p50, p99 = np.percentile(window.latencies_ms, [50, 99]) if window.latencies_ms else (float("nan"),) * 2
        print(f"{number * window_seconds:>7.0f}s{len(window.latencies_ms):>10d}{len(window.failures):>8d}"
              f"{p50:>9.2f}{p99:>9.2f}{rss:>9.0f}")
    failures = [failure for window, _ in windows for failure in window.failures]
    answered = sum(len(window.latencies_ms) for window, _ in windows)
    settled = windows[1:] or windows  # the first window is warm-up
    p99s = [np.percentile(window.latencies_ms, 99) for window, _ in settled if window.latencies_ms]
    growth = settled[-1][1] / settled[0][1] - 1
    print(f"answered {answered}, failed {len(failures)}; RSS after warm-up {settled[0][1]:.0f} MB -> "
          f"{settled[-1][1]:.0f} MB ({growth:+.1%}); p99 per window after warm-up: "
          f"min {min(p99s):.2f} ms, max {max(p99s):.2f} ms, last/first {p99s[-1] / p99s[0]:.2f}x")
    for failure in failures[:5]:
        print("  failure:", failure)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5.0, help="against the stub backend")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--model-minutes", type=float, default=1.0, help="against the local model server")
    parser.add_argument("--model-concurrency", type=int, default=4)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per reported window")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"turn kinds to mix, of {','.join(KINDS)}")
    args = parser.parse_args()
    kinds = tuple(KINDS.index(kind) for kind in args.kinds.split(","))
    with bench_servers() as (work, servers):
        stub = start_stub(work)
        servers.append(stub)
        port = embedded.free_port()
        model = start("model", embedded.model_server_command(port), f"http://127.0.0.1:{port}/v1/models", work)
        servers.append(model)
        routers = []
        for backend in (stub, model):
            env = embedded.proxy_environment(backend.url + "/v1", {"LITELLM_MASTER_KEY": KEY, "REDIS_URL": REDIS_URL})
            routers.append(start_proxy(f"router on {backend.name}", router_config(work), work, env))
            servers.append(routers[-1])
        stub_windows = asyncio.run(soak(routers[0], args.minutes, args.concurrency, args.window, kinds))
        report(f"stub backend, concurrency {args.concurrency}, {args.minutes:g} min", stub_windows, args.window)
        model_windows = asyncio.run(soak(routers[1], args.model_minutes, args.model_concurrency, args.window, kinds))
        report(f"local model server, concurrency {args.model_concurrency}, {args.model_minutes:g} min",
               model_windows, args.window)

if __name__ == "__main__":
    main()
