"""A bad routing config or a guessable master key stops the proxy at startup with a message naming
the key; a good one starts only once every model group is warm."""

from __future__ import annotations

import subprocess

import pytest

from router_plugins import embedded

from .conftest import MASTER_KEY, free_port, load_repo_config, start_router, stop_router, write_config


@pytest.mark.parametrize(
    ("routing", "message"),
    [
        ({"classifier": {"k": 3, "min_confidnce": 0.2}}, "routing.classifier.min_confidnce: unknown key"),
        ({"default_use_case": "painting"}, "routing.default_use_case: unknown use case 'painting'"),
    ],
)
def test_bad_routing_config_stops_startup_naming_the_key(tmp_path, model_server: str, routing: dict, message: str) -> None:
    config, _ = write_config(tmp_path, routing)
    completed = subprocess.run(
        embedded.proxy_command(config, free_port(), host="127.0.0.1"),
        env=embedded.proxy_environment(model_server, {"LITELLM_MASTER_KEY": MASTER_KEY}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode != 0
    assert message in completed.stdout + completed.stderr


def test_a_well_known_master_key_stops_startup(tmp_path, model_server: str) -> None:
    config, _ = write_config(tmp_path, None)
    completed = subprocess.run(
        embedded.proxy_command(config, free_port(), host="127.0.0.1"),
        env=embedded.proxy_environment(model_server, {"LITELLM_MASTER_KEY": "sk-1234"}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode != 0
    assert "LITELLM_MASTER_KEY: the master key is a well-known example" in completed.stdout + completed.stderr


def test_router_is_ready_only_once_every_model_group_is_warm(tmp_path, model_server: str) -> None:
    # The warm-up sends each model group one-token completions through the proxy's own app before the
    # readiness probe says 200, so no user's first request pays for LiteLLM's lazy initialisation.
    router = start_router(tmp_path, model_server)
    try:
        metrics = router.get("/metrics/").text
        served = [line for line in metrics.splitlines() if line.startswith("litellm_deployment_success_responses_total{")]
        for group in {deployment["model_name"] for deployment in load_repo_config()["model_list"]}:
            assert any(f'"{group}"' in line for line in served), (group, served)
        # It is invisible to routing: no session, no routed request in /stats.
        assert router.stats()["total_requests"] == 0 and router.stats()["session_creations"] == 0
    finally:
        stop_router(router)
