"""Sessions shared through Redis: a conversation alternating between two router processes is routed
exactly as on one process, and sessions and stats outlive a router restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from router_plugins import embedded

from .conftest import Router, start_router, stop_router

CONVERSATION = [
    {"query": "Write a Python function that parses a CSV file into dictionaries"},
    {"query": "और छोटा करो"},
    {"query": "This is the error I get, what is wrong?", "modality": "image"},
    {"query": "ok, now back to the code: add logging to it"},
    {"query": "now read that answer aloud"},
    {"query": "slower please"},
]
# (use case, bypass_used, new_session) per turn: the follow-up stays, the screenshot goes to the vision
# model, the next plain-text turn returns to the coding task, "read it aloud" switches, "slower" stays.
EXPECTED = [
    ("agent", False, True),
    ("agent", True, False),
    ("multimodal", False, False),
    ("agent", False, False),
    ("tts", False, False),
    ("tts", True, False),
]


@pytest.fixture(scope="module")
def twin(router: Router, model_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    """A second router process on the same Redis keys as `router`."""
    instance = start_router(
        tmp_path_factory.mktemp("twin"), model_server,
        env={"ROUTER_ALLOW_UNAUTHENTICATED_LOOPBACK": "true"}, prefix=router.prefix,
    )
    yield instance
    stop_router(instance)


def converse(routers: list[Router]) -> tuple[list[tuple[str, bool, bool]], str]:
    session_id = None
    decisions = []
    for index, turn in enumerate(CONVERSATION):
        body = {**turn, "dry_run": True, **({"session_id": session_id} if session_id else {})}
        reply = routers[index % len(routers)].post("/route", body).json()
        assert reply["success"], reply
        session_id = reply["session_id"]
        decisions.append((reply["use_case"], reply["bypass_used"], reply["new_session"]))
    return decisions, session_id


def test_a_conversation_alternating_between_two_processes_routes_as_on_one(router: Router, twin: Router) -> None:
    assert router.process.pid != twin.process.pid
    alone, alone_id = converse([router])
    alternating, shared_id = converse([router, twin])
    assert alone == EXPECTED
    assert alternating == alone
    # Both processes see the same session record, history included.
    on_first, on_second = router.get(f"/sessions/{shared_id}").json(), twin.get(f"/sessions/{shared_id}").json()
    assert on_first == on_second
    assert on_first["request_count"] == len(CONVERSATION)
    assert on_first["use_case_history"] == router.get(f"/sessions/{alone_id}").json()["use_case_history"]
    assert router.stats() == twin.stats()


def test_sessions_and_stats_survive_a_router_restart(model_server: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    first = start_router(tmp_path_factory.mktemp("before-restart"), model_server)
    session_id = first.post("/route", {"query": "Write a Python function to merge two lists", "dry_run": True}).json()["session_id"]
    assert first.post("/route", {"query": "shorter", "session_id": session_id, "dry_run": True}).json()["bypass_used"]
    stats, record = first.stats(), first.get(f"/sessions/{session_id}").json()
    embedded.stop(first.process)  # the process goes; its Redis keys stay
    restarted = start_router(tmp_path_factory.mktemp("after-restart"), model_server, prefix=first.prefix)
    try:
        assert restarted.get(f"/sessions/{session_id}").json() == record
        assert restarted.stats() == stats
        follow_up = restarted.post("/route", {"query": "more", "session_id": session_id, "dry_run": True})
        assert follow_up.json()["bypass_used"] and follow_up.json()["use_case"] == "agent"
        assert restarted.get(f"/sessions/{session_id}").json()["request_count"] == 3
    finally:
        stop_router(restarted)
