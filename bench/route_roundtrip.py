"""/route round trips against a running router (`make run`): classified and bypassed dry runs, and a real
answer from the model server. Medians of sequential requests.

    .venv/bin/python bench/route_roundtrip.py [--url http://localhost:8001] [--key KEY]"""

from __future__ import annotations

import argparse
import statistics
import time

import requests


def timed(session: requests.Session, url: str, payload: dict, count: int) -> tuple[float, float, list[dict]]:
    times, bodies = [], []
    for _ in range(count):
        started = time.perf_counter()
        response = session.post(url + "/route", json=payload, timeout=120)
        times.append((time.perf_counter() - started) * 1000)
        bodies.append(response.json())
    return statistics.median(times), max(times), bodies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://localhost:8001")
    parser.add_argument("--key", default=None, help="master key (not needed from loopback under make run)")
    args = parser.parse_args()
    session = requests.Session()
    if args.key:
        session.headers["Authorization"] = f"Bearer {args.key}"
    median, worst, bodies = timed(session, args.url, {"query": "Write a Python function to sort a list", "dry_run": True}, 30)
    routing = statistics.median(body["routing_time"] for body in bodies) * 1000
    print(f"classified dry run: median {median:.1f} ms, max {worst:.1f} ms; routing_time median {routing:.1f} ms")
    follow_up = {"query": "add error handling", "session_id": bodies[0]["session_id"], "dry_run": True}
    median, worst, bodies = timed(session, args.url, follow_up, 30)
    routing = statistics.median(body["routing_time"] for body in bodies) * 1000
    print(f"bypassed dry run:   median {median:.1f} ms, max {worst:.1f} ms; routing_time median {routing:.2f} ms")
    median, _, bodies = timed(session, args.url, {"query": "Write a Python function to sort a list", "max_tokens": 100}, 5)
    inference = statistics.median(body["inference_time"] for body in bodies) * 1000
    print(f"answered by the model (max_tokens 100): median {median:.0f} ms; inference {inference:.0f} ms")


if __name__ == "__main__":
    main()
