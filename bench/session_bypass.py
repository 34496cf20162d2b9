"""The bypass decision on a follow-up: the session read from Redis (loopback) plus the drift check,
against classifying the same turn in full (ROUTING_MODE=standard) as the in-run baseline.

    .venv/bin/python bench/session_bypass.py [--repeats 3]

Workload: every follow-up turn of eval/conversations_dev*.jsonl, each in a session whose use case is
the labelled one before it. Prints p50/p90/p99 per decision over repeated runs."""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path

# One thread for every numeric library, as the router runs.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

from timing import compare, summarise  # noqa: E402

from router_plugins.config import load_config_file, parse_routing_config  # noqa: E402
from router_plugins.core.catalog import UseCaseCatalog  # noqa: E402
from router_plugins.core.policy import decide_turn, next_session_state  # noqa: E402
from router_plugins.core.types import RoutingMode  # noqa: E402
from router_plugins.examples import read_conversations  # noqa: E402
from router_plugins.runtime import build_classifier  # noqa: E402
from router_plugins.service import routing_policy  # noqa: E402
from router_plugins.store import connect  # noqa: E402
from router_plugins.store.sessions import RedisSessionStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    document = load_config_file(ROOT / "litellm_config.yaml")
    config = parse_routing_config(document)
    classifier = build_classifier(config, ROOT)
    catalog = UseCaseCatalog.from_deployments(document["model_list"], config.use_cases)
    client = connect(args.redis_url)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    store = RedisSessionStore(client, 600, prefix)
    realtime, standard = routing_policy(config, RoutingMode.REALTIME), routing_policy(config, RoutingMode.STANDARD)

    # One stored session per follow-up, in the use case the conversation was in before it.
    follow_ups = []
    for path in sorted((ROOT / "eval").glob("conversations_dev*.jsonl")):
        for conversation in read_conversations(path, set(config.use_cases)):
            for index, (before, turn) in enumerate(zip(conversation.turns, conversation.turns[1:])):
                opening = decide_turn(classifier, before.query, before.modality, None, standard, catalog)
                session_id = f"{conversation.id}-{index}"
                await store.record_turn(next_session_state(None, session_id, opening, before.modality, None, 0.0))
                follow_ups.append((session_id, turn))

    timings: dict[str, list[float]] = {"bypassed (router)": [], "classified in full (baseline)": []}
    bypassed = 0
    for _ in range(args.repeats):
        for session_id, turn in follow_ups:
            started = time.perf_counter()
            session = await store.get(session_id)
            decision = decide_turn(classifier, turn.query, turn.modality, session, realtime, catalog)
            elapsed = (time.perf_counter() - started) * 1000
            if decision.bypass:
                bypassed += 1
                timings["bypassed (router)"].append(elapsed)
                started = time.perf_counter()
                session = await store.get(session_id)
                decide_turn(classifier, turn.query, turn.modality, session, standard, catalog)
                timings["classified in full (baseline)"].append((time.perf_counter() - started) * 1000)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()

    print(f"{len(follow_ups)} follow-ups x {args.repeats}; {bypassed} decisions bypassed "
          f"({bypassed / (len(follow_ups) * args.repeats):.0%}); session read from Redis on loopback each time")
    results = [summarise(name, values, digits=3, extra=f"({len(values)} decisions)") for name, values in timings.items()]
    compare("bypass / full classification", *results)


if __name__ == "__main__":
    import uvloop

    # The proxy's uvicorn serves on uvloop (installed with the router), so the session read is timed on it.
    uvloop.run(main())
