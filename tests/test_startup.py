"""A bad routing config stops the proxy at startup with a message naming the key."""

from __future__ import annotations

import subprocess

import pytest

from router_plugins import embedded

from .conftest import MASTER_KEY, free_port, write_config


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
