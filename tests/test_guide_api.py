"""The integration guide's API against a real proxy, the real local model server and real Redis:
its Python and JavaScript clients and cURL examples verbatim, every route, every error code."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from .conftest import REDIS_URL, Router
from .guide_clients.ai_client import AIInfrastructureClient

GUIDE_FIELDS = {
    "success", "result", "use_case", "selected_model", "confidence", "routing_time", "bypass_used",
    "session_id", "new_session", "inference_time", "total_time",
}
ERROR_FIELDS = {"success", "error_message", "use_case", "routing_time"}


def test_guide_python_client_verbatim(router: Router) -> None:
    client = AIInfrastructureClient(base_url=router.url)
    first = client.query("Write a Python function to sort a list")
    assert isinstance(first, str) and first.strip()
    session_id = client.session_id
    follow_up = client.query("Add error handling to that function")
    assert isinstance(follow_up, str) and follow_up.strip()
    assert client.session_id == session_id
    info = client.get_session_info()
    assert info["session_id"] == session_id and info["request_count"] == 2
    assert info["use_case"] == "agent" and info["model_id"] == "Qwen/Qwen2.5-7B-Instruct"
    assert {"endpoint", "confidence", "created_at", "last_accessed", "bypass_enabled"} <= set(info)
    client.end_session()
    assert router.get(f"/sessions/{session_id}").status_code == 404


def test_guide_javascript_client_verbatim(router: Router) -> None:
    script = Path(__file__).parent / "guide_clients" / "ai_client.js"
    node = shutil.which("node")
    assert node, "Node.js is needed to run the guide's JavaScript client"
    completed = subprocess.run(
        [node, str(script)], capture_output=True, text=True, timeout=120, env={"ROUTER_URL": router.url}
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""  # the example reports failures with console.error
    assert completed.stdout.count("Response:") == 2
    assert "request_count: 2" in completed.stdout and "use_case: 'agent'" in completed.stdout


def curl(*args: str) -> dict:
    completed = subprocess.run(["curl", "-s", *args], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(completed.stdout)


def test_guide_curl_examples_verbatim(router: Router) -> None:
    url = router.url
    basic = curl("-X", "POST", f"{url}/route", "-H", "Content-Type: application/json", "-d", """{
    "query": "Write a Python function to sort a list",
    "max_tokens": 100,
    "temperature": 0.7
  }""")
    assert set(basic) >= GUIDE_FIELDS and basic["success"] and basic["result"]
    assert basic["new_session"] and not basic["bypass_used"]
    session_id = basic["session_id"]
    follow_up = curl("-X", "POST", f"{url}/route", "-H", "Content-Type: application/json", "-d", f"""{{
    "query": "Add error handling to that function",
    "session_id": "{session_id}",
    "modality": "text"
  }}""")
    assert follow_up["success"] and follow_up["bypass_used"] and not follow_up["new_session"]
    assert follow_up["session_id"] == session_id and follow_up["use_case"] == basic["use_case"]
    assert curl(f"{url}/sessions/{session_id}")["request_count"] == 2
    stats = curl(f"{url}/stats")
    assert stats["total_requests"] >= 2 and stats["bypass_requests"] >= 1
    health = curl(f"{url}/health")
    assert health["bypass_router"] == "connected" and "agent" in health["model_endpoints"]
    hello = curl("-X", "POST", f"{url}/route", "-H", "Content-Type: application/json", "-d", '{"query": "Hello, world!"}')
    assert hello["success"] and hello["result"]


def test_route_response_fields_and_timings(router: Router) -> None:
    body = router.post("/route", {"query": "Explain quantum computing in simple terms", "max_tokens": 16}).json()
    assert set(body) >= GUIDE_FIELDS
    assert body["use_case"] == "agent" and body["selected_model"] == "Qwen/Qwen2.5-7B-Instruct"
    assert 0 < body["routing_time"] < body["total_time"]
    assert body["inference_time"] > 0 and body["total_time"] >= body["inference_time"]
    assert 0 < body["confidence"] <= 1


def test_explicit_nulls_take_the_defaults(router: Router) -> None:
    body = router.post(
        "/route",
        {"query": "Say hi", "session_id": None, "user_id": None, "modality": None, "context": None,
         "max_tokens": None, "temperature": None},
    ).json()
    assert body["success"] and body["new_session"]


def test_dry_run_routes_without_calling_a_model(router: Router) -> None:
    before = router.stats()
    first = router.post("/route", {"query": "Analyze this video and describe the content", "modality": "video", "dry_run": True}).json()
    assert first["success"] and first["result"] is None and first["inference_time"] == 0
    assert first["use_case"] == "video" and first["selected_model"] == "Qwen/Qwen2.5-VL-7B-Instruct"
    second = router.post("/route", {"query": "and the ending?", "session_id": first["session_id"], "dry_run": True}).json()
    assert second["bypass_used"] and second["use_case"] == "video"
    after = router.stats()
    assert after["dry_run_requests"] - before["dry_run_requests"] == 2
    assert after["session_creations"] - before["session_creations"] == 1
    assert router.get(f"/sessions/{first['session_id']}").json()["request_count"] == 2


def test_modality_change_re_routes_and_counts_a_context_change(router: Router) -> None:
    before = router.stats()["context_changes"]
    text = router.post("/route", {"query": "Write a haiku about rain", "dry_run": True}).json()
    image = router.post(
        "/route",
        {"query": "What does this chart show?", "session_id": text["session_id"], "modality": "image", "dry_run": True},
    ).json()
    assert text["use_case"] == "agent" and not image["bypass_used"]
    assert image["use_case"] == "multimodal" and image["selected_model"] == "Qwen/Qwen2.5-VL-7B-Instruct"
    back = router.post(
        "/route",
        {"query": "now read that haiku aloud in a calm voice", "session_id": text["session_id"], "dry_run": True},
    ).json()
    assert back["use_case"] == "tts" and not back["bypass_used"]
    assert router.stats()["context_changes"] == before + 2
    info = router.get(f"/sessions/{text['session_id']}").json()
    assert info["use_case"] == "tts" and info["use_case_history"] == ["agent", "multimodal", "tts"]


def test_realtime_follow_up_bypasses_and_is_counted(router: Router) -> None:
    first = router.post("/route", {"query": "Transcribe this voice note", "modality": "audio", "dry_run": True}).json()
    before = router.stats()
    follow = router.post("/route", {"query": "yes", "session_id": first["session_id"], "dry_run": True}).json()
    assert first["use_case"] == "stt" and follow["bypass_used"] and follow["use_case"] == "stt"
    after = router.stats()
    assert after["bypass_requests"] - before["bypass_requests"] == 1
    assert after["full_routing_requests"] == before["full_routing_requests"]


def test_classify_has_no_side_effects(router: Router) -> None:
    before = router.stats()
    body = router.post("/classify", {"query": "Transcribe this audio file to text", "modality": "audio"}).json()
    assert body["use_case"] == "stt" and body["selected_model"] == "Qwen/Qwen2-Audio-7B-Instruct"
    assert set(body["scores"]) == {"agent", "avatar", "stt", "tts", "multimodal", "video"}
    assert body["scores"]["stt"] == max(body["scores"].values()) and body["routing_time"] > 0
    assert router.stats() == before


def test_use_cases_lists_the_guides_six_from_the_live_config(router: Router) -> None:
    use_cases = {item["id"]: item for item in router.get("/use-cases").json()["use_cases"]}
    assert set(use_cases) == {"agent", "avatar", "stt", "tts", "multimodal", "video"}
    assert use_cases["agent"]["description"] == "Content generation and executing agents"
    assert use_cases["stt"]["model"] == "Qwen/Qwen2-Audio-7B-Instruct"
    assert all(item["endpoint"].startswith("http://127.0.0.1:") for item in use_cases.values())


def test_health_reports_redis_and_model_endpoints(router: Router) -> None:
    deadline = time.monotonic() + 20
    while True:
        health = router.get("/health").json()
        if health["status"] == "healthy" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert health["status"] == "healthy" and health["bypass_router"] == "connected"
    assert set(health["model_endpoints"]) == {"agent", "avatar", "stt", "tts", "multimodal", "video"}
    agent = health["model_endpoints"]["agent"]
    assert agent["status"] == "healthy" and agent["response_time"].endswith("ms")


def test_liveness_readiness_and_litellm_model_health_stay_reachable(router: Router) -> None:
    import requests

    assert requests.get(f"{router.url}/health/liveliness", timeout=10).status_code == 200
    assert requests.get(f"{router.url}/health/readiness", timeout=10).status_code == 200
    litellm_health = router.get("/health/models", params={"model": "Qwen/Qwen2.5-7B-Instruct"})
    assert litellm_health.status_code == 200 and "healthy_endpoints" in litellm_health.json()


def test_router_metrics_are_exported(router: Router) -> None:
    router.post("/route", {"query": "Plan a trip to Goa", "dry_run": True})
    text = router.get("/metrics/").text
    assert 'router_decisions_total{model="Qwen/Qwen2.5-7B-Instruct",path="classified",use_case="agent"}' in text
    assert "router_routing_seconds_bucket" in text and "router_session_creations_total" in text


def test_session_record_in_redis_has_a_ttl_and_no_query_text(router: Router) -> None:
    query = "Compose a limerick about zebras"
    body = router.post("/route", {"query": query, "dry_run": True}).json()
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    key = f"{router.prefix}session:{body['session_id']}"
    assert 1700 < client.ttl(key) <= 1800
    assert "zebras" not in json.dumps(client.hgetall(key))


# Errors: the guide's body and codes.

def assert_guide_error(response, status: int, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_FIELDS and body["success"] is False
    for fragment in fragments:
        assert fragment in body["error_message"]
    return body


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "hi", "max_tokens": 0}, "max_tokens"),
        ({"query": "hi", "temperature": 5}, "temperature"),
        ({"query": "hi", "modality": "smell"}, "modality"),
        ({"query": "hi", "session_id": "../../etc"}, "session_id"),
        ({"query": "hi", "context": "not an object"}, "context"),
        ({"query": "hi", "surprise": 1}, "surprise: unknown field"),
        ({"query": "x" * 40_000}, "query"),
    ],
)
def test_invalid_input_is_400_naming_the_field(router: Router, payload: dict, field: str) -> None:
    assert_guide_error(router.post("/route", payload), 400, field)


def test_a_body_over_the_limit_is_413_whether_declared_or_chunked(router: Router) -> None:
    from router_plugins.api.schemas import MAX_BODY_BYTES

    near_limit = {"query": "Summarise this", "dry_run": True, "context": {"notes": "n" * (MAX_BODY_BYTES - 100)}}
    assert router.post("/route", near_limit).status_code == 200  # context fills what the query leaves
    oversized = json.dumps({"query": "hi", "context": {"notes": "n" * MAX_BODY_BYTES}}).encode()
    declared = router.post("/route", data=oversized, headers={"Content-Type": "application/json"})
    assert_guide_error(declared, 413, f"at most {MAX_BODY_BYTES} bytes")
    # No Content-Length: the body arrives in chunks and is refused once the count passes the limit.
    chunks = (oversized[start:start + 65_536] for start in range(0, len(oversized), 65_536))
    chunked = router.post("/classify", data=chunks, headers={"Content-Type": "application/json"})
    assert_guide_error(chunked, 413, "too large")
    assert router.post("/route", {"query": "hi", "dry_run": True}).status_code == 200


def test_malformed_json_is_400(router: Router) -> None:
    response = router.post("/route", data="{not json", headers={"Content-Type": "application/json"})
    assert_guide_error(response, 400, "not valid JSON")


def test_unknown_session_is_404(router: Router) -> None:
    assert_guide_error(router.post("/route", {"query": "hi", "session_id": "no-such-session-1234"}), 404, "not found")
    assert_guide_error(router.get("/sessions/no-such-session-1234"), 404, "not found")
    assert_guide_error(router.delete("/sessions/no-such-session-1234"), 404, "not found")


def test_sessions_belong_to_their_user(router: Router) -> None:
    body = router.post("/route", {"query": "Write a limerick", "user_id": "alice", "dry_run": True}).json()
    session_id = body["session_id"]
    assert len(session_id) >= 32  # 128 bits of randomness, hex
    other = {"query": "and another", "session_id": session_id, "user_id": "mallory", "dry_run": True}
    assert_guide_error(router.post("/route", other), 404, "not found")
    assert_guide_error(router.get(f"/sessions/{session_id}", params={"user_id": "mallory"}), 404)
    assert router.get(f"/sessions/{session_id}", params={"user_id": "alice"}).status_code == 200
