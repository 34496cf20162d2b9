"""The router's own routes fuzzed from their OpenAPI schema (schemathesis): whatever a client sends,
no 5xx, and every response matches the documented schema. The model is never called (dry runs only:
the fuzzer would otherwise spend minutes of the local model's time)."""

from __future__ import annotations

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import Router

GUIDE_PATHS = ("/route", "/classify", "/sessions/{session_id}", "/stats", "/use-cases", "/health")


def test_guide_routes_never_answer_5xx_and_match_their_schema(router: Router) -> None:
    document = requests.get(router.url + "/openapi.json", headers=router.auth, timeout=60).json()
    document["paths"] = {path: spec for path, spec in document["paths"].items() if path in GUIDE_PATHS}
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {operation.path for operation in operations} == set(GUIDE_PATHS)
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            if case.path == "/route" and isinstance(case.body, dict):
                case.body["dry_run"] = True
            statuses.append(case.call_and_validate(base_url=router.url, headers=router.auth).status_code)

        check()
    # Both accepted and rejected input were tried, on every operation.
    assert len(statuses) >= 10 * len(operations)
    assert any(200 <= status < 300 for status in statuses) and any(400 <= status < 500 for status in statuses)
