"""No query or answer text in Redis or in the router's log at the default log level, after a
conversation that goes through every path: /route with model calls, a follow-up, a model failure,
rejected input, and the OpenAI path answered and failed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from .conftest import DEAD_PORT_BASE, REDIS_URL, Router, start_router, stop_router

# Words no log line or stored field has any other reason to contain.
PRIVATE_WORDS = ("quokkas", "marzipan", "zeppelins", "okapis")
IMAGE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def private_router(model_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    # The vision model is down, so image turns exercise the failure paths.
    instance = start_router(tmp_path_factory.mktemp("privacy"), model_server, env={"VISION_API_BASE": DEAD_PORT_BASE})
    yield instance
    stop_router(instance)


def drive_a_conversation(router: Router) -> list[str]:
    """Every answer the router gave, so the test can also look for the model's own words."""
    first = router.post("/route", {"query": "Write a short poem about quokkas eating marzipan", "max_tokens": 24})
    assert first.status_code == 200, first.text
    session_id = first.json()["session_id"]
    follow_up = router.post("/route", {"query": "Now add zeppelins to it", "session_id": session_id,
                                       "max_tokens": 24})
    assert follow_up.status_code == 200, follow_up.text
    failed = router.post("/route", {"query": "What do the okapis in this photo eat?", "modality": "image",
                                    "session_id": session_id})
    assert failed.status_code == 500
    rejected = router.post("/route", {"query": "quokkas " * 5000, "temperature": 9})
    assert rejected.status_code == 400
    answered = router.post("/v1/chat/completions", {
        "model": "auto", "max_tokens": 24, "user": "privacy-test",
        "messages": [{"role": "user", "content": "Tell me a fact about quokkas and marzipan"}],
    })
    assert answered.status_code == 200, answered.text
    vision_failed = router.post("/v1/chat/completions", {
        "model": "auto", "max_tokens": 24,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "How many zeppelins and okapis are in this picture?"},
            {"type": "image_url", "image_url": {"url": IMAGE}},
        ]}],
    })
    assert vision_failed.status_code >= 500
    return [first.json()["result"], follow_up.json()["result"], answered.json()["choices"][0]["message"]["content"]]


def test_no_query_or_answer_text_in_redis_or_the_log(private_router: Router) -> None:
    answers = drive_a_conversation(private_router)
    # A stretch of each answer, so an answer echoed into a log or a record is found too.
    forbidden = set(PRIVATE_WORDS) | {answer.strip()[:30].lower() for answer in answers if len(answer.strip()) >= 30}
    assert len(forbidden) > len(PRIVATE_WORDS)  # at least one answer long enough to look for

    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    keys = list(client.scan_iter(f"{private_router.prefix}*"))
    assert any(":session:" in key for key in keys)  # the conversation was stored, without its text
    stored = " ".join(f"{key} {client.hgetall(key) if client.type(key) == 'hash' else client.get(key)}"
                      for key in keys).lower()
    log = private_router.log_path.read_text(errors="replace").lower()
    assert "500" in log or "error" in log  # the failures were logged, as they should be
    for word in sorted(forbidden):
        assert word not in stored, f"{word!r} stored in Redis"
        assert word not in log, f"{word!r} in the router's log"
