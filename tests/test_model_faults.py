"""Model-server faults never hang a client or take the router down: a model slower than
MODEL_SWITCH_TIMEOUT is a 504 within it, an answer that is not JSON a clear 500, a configured fallback
deployment answers when the first one is down, and a backend that comes back is used again within
LiteLLM's cooldown, not minutes later. The faults come from bench/stub_backend.py (delay, garbage) and
from killing it; the fallback is the real local model server."""

from __future__ import annotations

import concurrent.futures
import copy
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from router_plugins import embedded

from .conftest import DEAD_PORT_BASE, Router, free_port, load_repo_config, start_router, stop_router

STUB = embedded.REPO_ROOT / "bench" / "stub_backend.py"
AGENT_QUERY = {"query": "Write a Python function to sort a list", "max_tokens": 8}


def start_stub(port: int, *flags: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, str(STUB), "--port", str(port), *flags])
    embedded.wait_until_ready(f"http://127.0.0.1:{port}/v1/models", process, timeout=20)
    return process


@pytest.fixture()
def stubs() -> Iterator[list[subprocess.Popen]]:
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        embedded.stop(process)


def agent_at(tmp_path: Path, model_server: str, agent_base: str, **kwargs) -> Router:
    return start_router(tmp_path, model_server, env={"AGENT_API_BASE": agent_base}, **kwargs)


def timed_route(router: Router) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = router.post("/route", AGENT_QUERY)
    return response.status_code, response.json(), time.monotonic() - started


def test_a_model_slower_than_the_timeout_is_a_504_within_it(model_server, tmp_path, stubs) -> None:
    port = free_port()
    stubs.append(start_stub(port, "--delay", "30"))
    router = agent_at(tmp_path, model_server, f"http://127.0.0.1:{port}/v1", routing={"model_timeout": 2})
    try:
        status, body, elapsed = timed_route(router)
        assert status == 504 and "timed out" in body["error_message"] and body["use_case"] == "agent"
        assert elapsed < 10  # two attempts of 2 s (num_retries 1), never the model's 30 s
    finally:
        stop_router(router)


def test_an_answer_that_is_not_json_is_a_clear_500(model_server, tmp_path, stubs) -> None:
    port = free_port()
    stubs.append(start_stub(port, "--garbage"))
    router = agent_at(tmp_path, model_server, f"http://127.0.0.1:{port}/v1")
    try:
        status, body, elapsed = timed_route(router)
        assert status == 500 and body["error_message"] == "Model not available" and body["success"] is False
        assert elapsed < 10
        assert router.get("/health").status_code == 200  # the router itself is fine
    finally:
        stop_router(router)


def test_a_configured_fallback_deployment_answers_when_the_first_is_down(model_server, tmp_path) -> None:
    document = load_repo_config()
    model_list = copy.deepcopy(document["model_list"])
    model_list.append({
        "model_name": "agent-fallback",
        "litellm_params": {"model": "hosted_vllm/Qwen/Qwen2.5-7B-Instruct", "api_base": model_server},
    })
    router_settings = {**document["router_settings"], "fallbacks": [{"Qwen/Qwen2.5-7B-Instruct": ["agent-fallback"]}]}
    router = agent_at(tmp_path, model_server, DEAD_PORT_BASE,
                      litellm={"model_list": model_list, "router_settings": router_settings})
    try:
        response = router.post("/route", AGENT_QUERY)
        assert response.status_code == 200, response.text
        assert response.json()["use_case"] == "agent" and response.json()["result"]
    finally:
        stop_router(router)


def test_a_backend_that_comes_back_is_used_again_within_the_cooldown(model_server, tmp_path, stubs) -> None:
    port = free_port()
    stubs.append(start_stub(port))
    router = agent_at(tmp_path, model_server, f"http://127.0.0.1:{port}/v1")
    try:
        assert router.post("/route", AGENT_QUERY).status_code == 200
        embedded.stop(stubs.pop())
        # Failures enough to put the deployment into cooldown (allowed_fails 3).
        assert [router.post("/route", AGENT_QUERY).status_code for _ in range(4)] == [500] * 4
        stubs.append(start_stub(port))
        back = time.monotonic()
        while router.post("/route", AGENT_QUERY).status_code != 200:
            assert time.monotonic() - back < 20, "still refused long after the backend returned"
            time.sleep(0.5)
        # cooldown_time is 5 s in the YAML: recovery takes that, not minutes.
        assert time.monotonic() - back < 20
    finally:
        stop_router(router)


def test_the_openai_path_to_a_slow_model_ends_within_litellms_timeout(model_server, tmp_path, stubs) -> None:
    # The OpenAI path keeps LiteLLM's own per-call bound (litellm_settings.request_timeout): a
    # non-streamed answer of a thousand tokens can legitimately take longer than MODEL_SWITCH_TIMEOUT.
    port = free_port()
    stubs.append(start_stub(port, "--delay", "30"))
    litellm_settings = {**load_repo_config()["litellm_settings"], "request_timeout": 2}
    router = agent_at(tmp_path, model_server, f"http://127.0.0.1:{port}/v1",
                      litellm={"litellm_settings": litellm_settings})
    try:
        started = time.monotonic()
        response = router.post("/v1/chat/completions", {
            "model": "auto", "max_tokens": 8, "messages": [{"role": "user", "content": AGENT_QUERY["query"]}],
        })
        elapsed = time.monotonic() - started
        assert response.status_code == 408 and "Timeout" in response.text
        assert elapsed < 10  # two attempts of 2 s (num_retries 1), never the model's 30 s
        assert router.get("/health").status_code == 200
    finally:
        stop_router(router)


def test_routed_calls_beyond_the_in_flight_bound_get_503_at_once_and_slots_come_back(
    model_server, tmp_path, stubs
) -> None:
    port = free_port()
    stubs.append(start_stub(port, "--delay", "3"))
    router = agent_at(tmp_path, model_server, f"http://127.0.0.1:{port}/v1",
                      routing={"max_in_flight_per_model": 1})
    openai_body = {"model": "auto", "max_tokens": 8,
                   "messages": [{"role": "user", "content": AGENT_QUERY["query"]}]}
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            holder = pool.submit(router.post, "/v1/chat/completions", openai_body)
            time.sleep(1)  # the first call is waiting on the slow model
            started = time.monotonic()
            refused_openai = router.post("/v1/chat/completions", openai_body)
            refused_route = router.post("/route", AGENT_QUERY)
            refusing = time.monotonic() - started
            assert holder.result().status_code == 200
        assert refused_openai.status_code == 503 and "in flight" in refused_openai.text
        assert refused_openai.headers["Retry-After"] == "1"
        assert refused_route.status_code == 503 and refused_route.headers["Retry-After"] == "1"
        assert refusing < 1.5  # refused at once, not queued behind the model's 3 s
        # The slot came back when the first response ended, streamed or not.
        streamed = router.post("/v1/chat/completions", {**openai_body, "stream": True})
        assert streamed.status_code == 200 and "[DONE]" in streamed.text
        assert router.post("/v1/chat/completions", openai_body).status_code == 200
        assert router.post("/route", AGENT_QUERY).status_code == 200
    finally:
        stop_router(router)


def test_a_stream_the_client_abandons_gives_its_slot_back(model_server, tmp_path) -> None:
    router = start_router(tmp_path, model_server, routing={"max_in_flight_per_model": 1})
    body = {"model": "auto", "messages": [{"role": "user", "content": AGENT_QUERY["query"]}]}
    try:
        with requests.post(router.url + "/v1/chat/completions", json={**body, "max_tokens": 400, "stream": True},
                           headers=router.auth, stream=True, timeout=60) as abandoned:
            assert abandoned.status_code == 200
            next(abandoned.iter_lines())  # the model is generating
            assert router.post("/v1/chat/completions", {**body, "max_tokens": 4}).status_code == 503  # slot held
        # The client hung up mid-stream.
        hung_up = time.monotonic()
        while (status := router.post("/v1/chat/completions", {**body, "max_tokens": 4}).status_code) == 503:
            assert time.monotonic() - hung_up < 30, "the abandoned stream kept its slot"
            time.sleep(0.5)
        assert status == 200
    finally:
        stop_router(router)
