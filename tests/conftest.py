"""Real processes for the tests: the local llama.cpp model server, LiteLLM proxies running
router_plugins, and the Redis on 127.0.0.1:6379. Nothing is mocked."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from router_plugins import embedded
from router_plugins.embedded import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
MASTER_KEY = "sk-test-" + secrets.token_hex(16)


def load_repo_config() -> dict[str, Any]:
    return yaml.safe_load(embedded.DEFAULT_CONFIG.read_text(encoding="utf-8"))


def write_config(
    directory: Path,
    routing_overrides: Mapping[str, Any] | None = None,
    prefix: str | None = None,
    litellm_overrides: Mapping[str, Any] | None = None,
) -> tuple[Path, str]:
    """The repo's litellm_config.yaml with a private Redis key prefix (so tests never share keys), or
    `prefix` for a router that shares another's sessions and stats (`embedded.private_config`)."""
    prefix = prefix or f"test-{uuid.uuid4().hex[:8]}:"
    return embedded.private_config(directory, prefix, routing_overrides, litellm_overrides), prefix


@dataclass
class Router:
    url: str
    key: str
    prefix: str
    process: subprocess.Popen
    log_path: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, headers={**self.auth, **kwargs.pop("headers", {})}, timeout=60, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return requests.post(
            self.url + path, json=json, headers={**self.auth, **kwargs.pop("headers", {})}, timeout=60, **kwargs
        )

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.delete(self.url + path, headers={**self.auth, **kwargs.pop("headers", {})}, timeout=60, **kwargs)

    def stats(self) -> dict[str, Any]:
        return self.get("/stats").json()

    def stats_once(self, ready: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        """/stats as soon as `ready` holds: the OpenAI path counts a turn after its response is sent."""
        deadline = time.monotonic() + timeout
        while not ready(stats := self.stats()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return stats


def start_router(
    directory: Path,
    model_base_url: str,
    *,
    routing: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    prefix: str | None = None,
    litellm: Mapping[str, Any] | None = None,
) -> Router:
    config, prefix = write_config(directory, routing, prefix, litellm)
    port = free_port()
    log_path = directory / f"proxy-{port}.log"
    environment = embedded.proxy_environment(
        model_base_url, {"LITELLM_MASTER_KEY": MASTER_KEY, "REDIS_URL": REDIS_URL, **(env or {})}
    )
    with log_path.open("wb") as log_file:
        process = embedded.start_proxy(config, port, environment, workers=workers, host="127.0.0.1", output=log_file)
    router = Router(f"http://127.0.0.1:{port}", MASTER_KEY, prefix, process, log_path)
    try:
        embedded.wait_until_ready(f"{router.url}/health/readiness", process, timeout=240)
        wait_until_every_worker_is_ready(router.url, workers)
    except Exception:
        embedded.stop(process)
        raise RuntimeError(f"router did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
    return router


def wait_until_every_worker_is_ready(url: str, workers: int, timeout: float = 60.0) -> None:
    """Each worker warms up on its own and answers readiness 503 until it has; a request lands on
    whichever worker accepts it first, so a count of 200s in a row can all come from one worker.
    Ready here means every probe, on a new connection each, answered 200 for a few seconds on end:
    longer than one worker's warm-up takes after another's. One worker: its first 200 is enough."""
    if workers == 1:
        return
    quiet_for, deadline = 5.0, time.monotonic() + timeout
    since = time.monotonic()
    while time.monotonic() - since < quiet_for:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: not every worker became ready")
        if requests.get(url + "/health/readiness", timeout=5).status_code != 200:
            since = time.monotonic()
        time.sleep(0.05)


def stop_router(router: Router) -> None:
    embedded.stop(router.process)
    shutil.rmtree(embedded.metrics_directory(int(router.url.rsplit(":", 1)[1])), ignore_errors=True)
    embedded.forget_keys(REDIS_URL, router.prefix)


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real llama.cpp OpenAI server with SmolLM2-135M, standing in for vLLM."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("model") / "model-server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(embedded.model_server_command(port), stdout=log_file, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        embedded.wait_until_ready(f"{base_url}/models", process, timeout=120)
        yield base_url
    finally:
        embedded.stop(process)


@pytest.fixture(scope="session")
def router(model_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    """The embedded default as `make run` starts it: loopback clients need no key, so the guide's
    examples run verbatim. Sessions and stats in the real Redis."""
    instance = start_router(
        tmp_path_factory.mktemp("router"), model_server, env={"ROUTER_ALLOW_UNAUTHENTICATED_LOOPBACK": "true"}
    )
    yield instance
    stop_router(instance)


DEAD_PORT_BASE = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there


@pytest.fixture(scope="session")
def secured_router(model_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    """Two workers, a key on every route, 3-second sessions, one model in flight per model group,
    and the audio model pointed at a dead endpoint."""
    instance = start_router(
        tmp_path_factory.mktemp("secured"),
        model_server,
        routing={"session_timeout": 3, "max_in_flight_per_model": 1},
        env={"ROUTER_ALLOW_UNAUTHENTICATED_LOOPBACK": "false", "AUDIO_API_BASE": DEAD_PORT_BASE},
        workers=2,
    )
    yield instance
    stop_router(instance)
