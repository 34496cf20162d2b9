"""Scale-out on one machine: two router processes on one Redis key prefix, behind one address that
sends every request to the next process in turn (a round-robin reverse proxy, as a load balancer
without stickiness would). Sessions, /stats, rate limits and the Prometheus counters summed over the
processes must come out exactly as if one router had served everything."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Router, start_router, stop_router
from .test_guide_api import assert_guide_error
from .test_shared_sessions import CONVERSATION, EXPECTED

# Above the longest conversation a single user drives here (6 turns), so only the caller that is
# meant to be refused ever is; odd, so the admitted requests cannot split evenly over two processes.
RATE_LIMIT = 7
# A per-process budget would admit all of these: each process sees (7 + 3) / 2 = 5 < RATE_LIMIT.
OVER_THE_LIMIT = 3
ROUTE_CONVERSATIONS = 3


# --- the one address --------------------------------------------------------------------------

# Per-connection headers, and those the proxy sets itself; everything else passes through untouched.
_NOT_FORWARDED = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length", "content-encoding", "server", "date",
})


class RoundRobinProxy:
    """A reverse proxy without stickiness: request n goes to backend n mod len(backends), whatever
    its session, so any per-process state would show. Replies carry X-Backend, the backend's URL."""

    def __init__(self, backends: Sequence[str]) -> None:
        self.backends = list(backends)
        self.served: list[str] = []
        self._lock = threading.Lock()
        # httpx decodes compressed bodies; content-encoding is therefore not forwarded.
        self.client = httpx.Client(timeout=120)
        handler = type("Forwarder", (_Forwarder,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def next_backend(self) -> str:
        with self._lock:
            backend = self.backends[len(self.served) % len(self.backends)]
            self.served.append(backend)
            return backend

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.client.close()


class _Forwarder(BaseHTTPRequestHandler):
    proxy: RoundRobinProxy
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        backend = self.proxy.next_backend()
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _NOT_FORWARDED}
        reply = self.proxy.client.request(self.command, backend + self.path, headers=headers, content=body)
        self.send_response(reply.status_code)
        for name, value in reply.headers.multi_items():
            if name.lower() not in _NOT_FORWARDED:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.content)))
        self.send_header("X-Backend", backend)
        self.end_headers()
        self.wfile.write(reply.content)

    do_GET = do_POST = do_DELETE = _forward

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


# --- what was driven --------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One admitted request as its reply reported it."""

    session_id: str
    use_case: str
    model: str
    bypass: bool
    new_session: bool
    dry_run: bool
    backend: str


@dataclass
class Conversation:
    user: str
    turns: list[Turn]


@dataclass
class Driven:
    backends: list[Router]
    proxy: RoundRobinProxy
    front: Router
    conversations: list[Conversation]
    rate_limited: list[requests.Response]  # one caller's /route calls, in order
    rate_limited_openai: requests.Response  # that caller on the OpenAI path, after its budget was spent

    @property
    def turns(self) -> list[Turn]:
        return [turn for conversation in self.conversations for turn in conversation.turns]


def admitted_turn(reply: requests.Response) -> Turn:
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return Turn(body["session_id"], body["use_case"], body["selected_model"], body["bypass_used"],
                body["new_session"], body["dry_run"], reply.headers["X-Backend"])


def route_turn(front: Router, body: Mapping[str, Any]) -> Turn:
    return admitted_turn(front.post("/route", dict(body)))


def openai_turn(front: Router, body: Mapping[str, Any], headers: Mapping[str, str], new: bool) -> tuple[Turn, str]:
    """One model="auto" call; the routing decision comes back in headers. Returns the answer too.
    The headers do not say whether the session is new: `new` is what the driver expects (a fresh
    conversation's first turn), which /stats and the metrics, counted by the routers, must confirm."""
    reply = front.post("/v1/chat/completions", {"model": "auto", "max_tokens": 4, **body}, headers=dict(headers))
    assert reply.status_code == 200, reply.text
    turn = Turn(reply.headers["x-route-session-id"], reply.headers["x-route-use-case"],
                reply.headers["x-route-model"], reply.headers["x-route-bypass"] == "true", new, False,
                reply.headers["X-Backend"])
    return turn, reply.json()["choices"][0]["message"]["content"] or ""


def drive_route_conversation(front: Router, user: str, dry_run: bool = True) -> Conversation:
    turns: list[Turn] = []
    for turn in CONVERSATION:
        session = {"session_id": turns[-1].session_id} if turns else {}
        turns.append(route_turn(front, {**turn, **session, "user_id": user, "dry_run": dry_run, "max_tokens": 4}))
    return Conversation(user, turns)


def drive_openai_with_session_header(front: Router, user: str) -> Conversation:
    session_id = f"scale-{uuid.uuid4().hex[:12]}"
    turns = [
        openai_turn(front, {"user": user, "messages": [{"role": "user", "content": text}]},
                    {"X-Session-ID": session_id}, new=index == 0)[0]
        for index, text in enumerate(["Explain recursion briefly", "shorter", "another example"])
    ]
    assert {turn.session_id for turn in turns} == {session_id}
    return Conversation(user, turns)


def drive_openai_with_derived_session(front: Router, user: str) -> Conversation:
    """No session id: each turn resends the conversation, and its opening keys the session."""
    messages: list[dict[str, str]] = [{"role": "system", "content": "You are terse."}]
    turns: list[Turn] = []
    for text in ["Explain what a mutex is", "और छोटा करो", "one more time"]:
        messages.append({"role": "user", "content": text})
        turn, answer = openai_turn(front, {"user": user, "messages": messages}, {}, new=not turns)
        messages.append({"role": "assistant", "content": answer})
        turns.append(turn)
    return Conversation(user, turns)


def start_pair(directory: Path, model_server: str) -> list[Router]:
    """Two single-worker routers on one key prefix, started at once: each takes tens of seconds."""
    prefix = f"test-scale-{uuid.uuid4().hex[:8]}:"
    routing = {"mode": "realtime", "rate_limit": {"requests": RATE_LIMIT, "window_seconds": 60}}
    directories = [directory / "first", directory / "second"]
    for each in directories:
        each.mkdir()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(start_router, each, model_server, routing=routing, env={"ROUTING_MODE": "realtime"},
                        prefix=prefix)
            for each in directories
        ]
    started = [future.result() for future in futures if future.exception() is None]
    if len(started) < 2:
        for router in started:
            stop_router(router)
        raise next(future.exception() for future in futures if future.exception() is not None)
    return started


def wait_for_openai_stats(backends: Sequence[Router], total: int) -> None:
    # The OpenAI path counts a turn once its response has been sent; /route counts before answering.
    stats = backends[0].stats_once(lambda stats: stats["total_requests"] >= total)
    assert stats["total_requests"] == total, stats


@pytest.fixture(scope="module")
def driven(model_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driven]:
    directory = tmp_path_factory.mktemp("scale-out")
    backends = start_pair(directory, model_server)
    proxy = RoundRobinProxy([router.url for router in backends])
    # The same client as for one router, pointed at the proxy's address.
    front = dataclasses.replace(backends[0], url=proxy.url)
    try:
        tag = uuid.uuid4().hex[:6]
        conversations = [drive_route_conversation(front, f"{tag}-route-{i}") for i in range(ROUTE_CONVERSATIONS)]
        # Two turns with a model call each: inference is counted by whichever process made it.
        conversations.append(Conversation(f"{tag}-infer", [
            route_turn(front, {"query": "Write a haiku about rivers", "user_id": f"{tag}-infer", "max_tokens": 4}),
        ]))
        conversations[-1].turns.append(route_turn(front, {
            "query": "shorter", "session_id": conversations[-1].turns[0].session_id,
            "user_id": f"{tag}-infer", "max_tokens": 4,
        }))
        conversations.append(drive_openai_with_session_header(front, f"{tag}-openai-header"))
        conversations.append(drive_openai_with_derived_session(front, f"{tag}-openai-derived"))

        caller = f"{tag}-greedy"
        limited = [front.post("/route", {"query": "hi", "user_id": caller, "dry_run": True})
                   for _ in range(RATE_LIMIT + OVER_THE_LIMIT)]
        # Each admitted call started a session of its own: they are turns like any other.
        conversations += [Conversation(caller, [admitted_turn(reply)]) for reply in limited if reply.status_code == 200]
        refused_openai = front.post("/v1/chat/completions", {
            "model": "auto", "user": caller, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}],
        })
        result = Driven(backends, proxy, front, conversations, limited, refused_openai)
        wait_for_openai_stats(backends, len(result.turns))
        yield result
    finally:
        proxy.close()
        for router in backends:
            stop_router(router)


# --- (a) sessions -----------------------------------------------------------------------------


def test_the_proxy_alternated_between_two_processes(driven: Driven) -> None:
    first, second = driven.backends
    assert first.process.pid != second.process.pid and first.prefix == second.prefix
    # Strict alternation: any state a process kept for itself would have been missed half the time.
    assert driven.proxy.served == [driven.proxy.backends[i % 2] for i in range(len(driven.proxy.served))]
    for conversation in driven.conversations:
        if len(conversation.turns) > 1:
            assert {turn.backend for turn in conversation.turns} == {first.url, second.url}


def test_every_conversation_stays_on_one_session_with_an_exact_count(driven: Driven) -> None:
    for conversation in driven.conversations:
        session_ids = {turn.session_id for turn in conversation.turns}
        assert len(session_ids) == 1, conversation
        (session_id,) = session_ids
        records = [router.get(f"/sessions/{session_id}", params={"user_id": conversation.user}).json()
                   for router in driven.backends]
        assert records[0] == records[1]
        assert records[0]["request_count"] == len(conversation.turns)
        assert records[0]["use_case"] == conversation.turns[-1].use_case
        # Only the first turn of each conversation started a session, on whichever process got it.
        assert [turn.new_session for turn in conversation.turns] == [True] + [False] * (len(conversation.turns) - 1)


def test_alternating_processes_route_each_turn_as_one_process_would(driven: Driven) -> None:
    # The decisions test_shared_sessions pins for one process, bypasses included: a follow-up landing
    # on the process that did not see the previous turn still finds the session and stays on it.
    for conversation in driven.conversations[:ROUTE_CONVERSATIONS]:
        assert [(t.use_case, t.bypass, t.new_session) for t in conversation.turns] == EXPECTED
    inference, header, derived = driven.conversations[ROUTE_CONVERSATIONS:ROUTE_CONVERSATIONS + 3]
    assert [turn.bypass for turn in inference.turns] == [False, True]
    assert header.turns[1].bypass and derived.turns[1].bypass


# --- (b) /stats -------------------------------------------------------------------------------


def context_changes(conversation: Conversation) -> int:
    # A bypass keeps the use case, so every change between consecutive turns is a classified switch.
    use_cases = [turn.use_case for turn in conversation.turns]
    return sum(before != after for before, after in zip(use_cases, use_cases[1:]))


def expected_stats(driven: Driven) -> dict[str, float | int]:
    turns = driven.turns
    bypasses = sum(turn.bypass for turn in turns)
    return {
        "total_requests": len(turns),
        "bypass_requests": bypasses,
        "full_routing_requests": len(turns) - bypasses,
        "session_creations": sum(turn.new_session for turn in turns),
        "context_changes": sum(context_changes(conversation) for conversation in driven.conversations),
        "dry_run_requests": sum(turn.dry_run for turn in turns),
        "failed_requests": 0,
        "bypass_rate_percent": round(100.0 * bypasses / len(turns), 2),
    }


def test_stats_from_either_process_count_exactly_what_was_driven(driven: Driven) -> None:
    expected = expected_stats(driven)
    # Guard against a vacuous pass: the scenario has bypasses, switches, dry runs and model calls.
    assert expected["bypass_requests"] > 0 and expected["context_changes"] >= 3 * ROUTE_CONVERSATIONS
    assert 0 < expected["dry_run_requests"] < expected["total_requests"]
    for stats in [router.stats() for router in driven.backends] + [driven.front.stats()]:
        assert {name: stats[name] for name in expected} == expected
        assert stats["average_inference_time"] > 0  # model calls made on the /route and OpenAI paths


# --- (c) rate limits --------------------------------------------------------------------------


def test_one_callers_budget_is_shared_by_both_processes(driven: Driven) -> None:
    statuses = [reply.status_code for reply in driven.rate_limited]
    assert statuses == [200] * RATE_LIMIT + [429] * OVER_THE_LIMIT
    # Both processes admitted part of the budget and both refused: neither counted on its own.
    admitted = {reply.headers["X-Backend"] for reply in driven.rate_limited[:RATE_LIMIT]}
    refused = {reply.headers["X-Backend"] for reply in driven.rate_limited[RATE_LIMIT:]}
    assert admitted == refused == {router.url for router in driven.backends}
    for reply in driven.rate_limited[RATE_LIMIT:]:
        assert_guide_error(reply, 429, "Rate limit exceeded")
        assert 1 <= int(reply.headers["Retry-After"]) <= 60
    openai_path = driven.rate_limited_openai
    assert openai_path.status_code == 429 and "Rate limit exceeded" in openai_path.text
    assert 1 <= int(openai_path.headers["Retry-After"]) <= 60


# --- (d) Prometheus ---------------------------------------------------------------------------


def counter_samples(router: Router, name: str) -> Counter[tuple[tuple[str, str], ...]]:
    """The `<name>_total` samples of one process's /metrics/, keyed by their labels."""
    reply = router.get("/metrics/")
    assert reply.status_code == 200, reply.text
    samples: Counter[tuple[tuple[str, str], ...]] = Counter()
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == f"{name}_total":
                samples[tuple(sorted(sample.labels.items()))] += sample.value
    return samples


def decision_labels(turn: Turn) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"use_case": turn.use_case, "model": turn.model,
                         "path": "bypass" if turn.bypass else "classified"}.items()))


def test_prometheus_counters_summed_over_the_processes_equal_what_was_driven(driven: Driven) -> None:
    decisions = [counter_samples(router, "router_decisions") for router in driven.backends]
    creations = [sum(counter_samples(router, "router_session_creations").values()) for router in driven.backends]
    assert decisions[0] + decisions[1] == Counter(decision_labels(turn) for turn in driven.turns)
    assert sum(creations) == sum(turn.new_session for turn in driven.turns)
    # Each process counts only what it routed, so a scrape of one replica is not the total.
    for router, counted in zip(driven.backends, decisions):
        routed_here = [turn for turn in driven.turns if turn.backend == router.url]
        assert sum(counted.values()) == len(routed_here) > 0
