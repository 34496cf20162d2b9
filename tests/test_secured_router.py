"""A router as production runs it: two workers, a key on every route, Redis for sessions and stats.
Its audio model points at a dead endpoint; one model call in flight per model group; 3-second sessions."""

from __future__ import annotations

import concurrent.futures
import time

import psutil
import pytest
import requests

from .conftest import Router
from .test_guide_api import assert_guide_error

GUIDE_ROUTES = [
    ("POST", "/route", {"query": "hi"}),
    ("POST", "/classify", {"query": "hi"}),
    ("GET", "/sessions/abcdef123456", None),
    ("DELETE", "/sessions/abcdef123456", None),
    ("GET", "/stats", None),
    ("GET", "/use-cases", None),
    ("GET", "/health", None),
]


@pytest.mark.parametrize(("method", "path", "body"), GUIDE_ROUTES)
@pytest.mark.parametrize("key", [None, "sk-wrong-key"])
def test_guide_routes_need_the_key(secured_router: Router, method: str, path: str, body, key) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = requests.request(method, secured_router.url + path, json=body, headers=headers, timeout=30)
    assert_guide_error(response, 401, "API key")


@pytest.mark.parametrize("key", [None, "sk-wrong-key"])
def test_openai_api_answers_401_for_a_missing_or_wrong_key(secured_router: Router, key) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = requests.post(
        secured_router.url + "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 401
    assert "API key" in response.json()["error"]["message"]


def test_probes_need_no_key(secured_router: Router) -> None:
    for path in ("/health/liveliness", "/health/readiness"):
        assert requests.get(secured_router.url + path, timeout=10).status_code == 200


def test_model_unavailable_is_500_and_counted(secured_router: Router) -> None:
    before = secured_router.stats()["failed_requests"]
    response = secured_router.post("/route", {"query": "Transcribe this audio file to text", "modality": "audio"})
    body = assert_guide_error(response, 500, "Model not available")
    assert body["use_case"] == "stt" and body["routing_time"] > 0
    assert secured_router.stats()["failed_requests"] == before + 1


def test_a_failed_model_call_on_the_openai_path_is_counted_as_failed(secured_router: Router) -> None:
    before = secured_router.stats()
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}
    response = secured_router.post("/v1/chat/completions", {
        "model": "auto", "max_tokens": 8,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Transcribe this"}, audio]}],
    })
    assert response.status_code >= 500 and response.headers.get("x-route-use-case") in (None, "stt")
    after = secured_router.stats_once(lambda stats: stats["failed_requests"] > before["failed_requests"])
    assert after["failed_requests"] == before["failed_requests"] + 1
    assert after["total_requests"] == before["total_requests"] + 1


def test_overload_is_503_with_retry_after(secured_router: Router) -> None:
    # One call in flight per model group and worker; the model takes seconds for 200 tokens, so of
    # 6 simultaneous calls at least one worker sees a second call while its first is running.
    payload = {"query": "Write a long story about a dragon", "max_tokens": 200}
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: secured_router.post("/route", payload), range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert 200 in statuses and 503 in statuses, statuses
    overloaded = next(r for r in responses if r.status_code == 503)
    assert overloaded.headers["Retry-After"] == "1"
    assert_guide_error(overloaded, 503, "in flight")


def test_sessions_expire_after_session_timeout(secured_router: Router) -> None:
    body = secured_router.post("/route", {"query": "Write a haiku", "dry_run": True}).json()
    session_id = body["session_id"]
    assert secured_router.get(f"/sessions/{session_id}").status_code == 200
    time.sleep(1.5)
    # A request refreshes the TTL: the session outlives its first 3 seconds.
    follow = secured_router.post("/route", {"query": "again", "session_id": session_id, "dry_run": True})
    assert follow.json()["bypass_used"]
    time.sleep(2.0)
    assert secured_router.get(f"/sessions/{session_id}").status_code == 200
    time.sleep(3.5)
    assert_guide_error(secured_router.get(f"/sessions/{session_id}"), 404)
    assert_guide_error(
        secured_router.post("/route", {"query": "still there?", "session_id": session_id, "dry_run": True}), 404
    )


def test_stats_are_exact_across_two_workers(secured_router: Router) -> None:
    assert len(psutil.Process(secured_router.process.pid).children()) >= 2  # two uvicorn workers
    before = secured_router.stats()
    count = 40

    def one(i: int) -> dict:
        # A new connection each time, so the kernel spreads requests over both workers.
        with requests.Session() as session:
            return session.post(
                secured_router.url + "/route",
                json={"query": f"Write a tagline number {i}", "dry_run": True},
                headers=secured_router.auth,
                timeout=60,
            ).json()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(one, range(count)))
    session_id = bodies[0]["session_id"]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        follow_ups = list(pool.map(
            lambda i: secured_router.post("/route", {"query": "more", "session_id": session_id, "dry_run": True}).json(),
            range(count),
        ))
    after = secured_router.stats()
    assert all(body["success"] for body in bodies + follow_ups)
    assert after["total_requests"] - before["total_requests"] == 2 * count
    assert after["session_creations"] - before["session_creations"] == count
    assert after["bypass_requests"] - before["bypass_requests"] == count
    assert secured_router.get(f"/sessions/{session_id}").json()["request_count"] == count + 1


def test_rate_limit_is_per_caller_shared_by_workers_and_answers_429(model_server: str, tmp_path) -> None:
    from .conftest import start_router, stop_router

    limited = start_router(tmp_path, model_server, routing={"rate_limit": {"requests": 5, "window_seconds": 60}},
                           workers=2)
    try:
        def one(user: str) -> requests.Response:
            # A new connection each time, so the kernel spreads requests over both workers.
            with requests.Session() as session:
                return session.post(limited.url + "/route", json={"query": "hi", "dry_run": True, "user_id": user},
                                    headers=limited.auth, timeout=60)

        statuses = [one("alice").status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3  # one budget across both workers
        refused = one("alice")
        body = assert_guide_error(refused, 429, "Rate limit exceeded")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60 and body["use_case"] is None
        assert one("bob").status_code == 200  # another caller has its own budget
        openai_path = limited.post("/v1/chat/completions", {
            "model": "auto", "user": "alice", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}],
        })
        assert openai_path.status_code == 429 and "Rate limit exceeded" in openai_path.text
        assert 1 <= int(openai_path.headers["Retry-After"]) <= 60
    finally:
        stop_router(limited)
