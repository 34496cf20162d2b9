"""A bad routing config stops the proxy at startup with a message naming the key."""

from __future__ import annotations

import subprocess

from router_plugins import embedded

from .conftest import MASTER_KEY, free_port, write_config


def test_bad_yaml_key_stops_startup_naming_the_key(tmp_path, model_server: str) -> None:
    config, _ = write_config(tmp_path, {"classifier": {"k": 3, "min_confidnce": 0.2}})
    completed = subprocess.run(
        embedded.proxy_command(config, free_port(), host="127.0.0.1"),
        env=embedded.proxy_environment(model_server, {"LITELLM_MASTER_KEY": MASTER_KEY}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode != 0
    assert "routing.classifier.min_confidnce: unknown key" in completed.stdout + completed.stderr


def test_unknown_use_case_stops_startup(tmp_path, model_server: str) -> None:
    config, _ = write_config(tmp_path, {"default_use_case": "painting"})
    completed = subprocess.run(
        embedded.proxy_command(config, free_port(), host="127.0.0.1"),
        env=embedded.proxy_environment(model_server, {"LITELLM_MASTER_KEY": MASTER_KEY}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode != 0
    assert "routing.default_use_case: unknown use case 'painting'" in completed.stdout + completed.stderr
