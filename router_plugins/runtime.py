"""Builds the router once per worker process from litellm_config.yaml and holds it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

from .config import load_config_file, parse_routing_config
from .core.classifier import UseCaseClassifier
from .core.encoders import SentenceTransformerEncoder
from .health import EndpointHealthMonitor
from .service import RouterService
from .store import connect
from .store.sessions import MemorySessionStore, RedisSessionStore
from .store.stats import MemoryStatsStore, RedisStatsStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    service: RouterService
    health: EndpointHealthMonitor
    redis: aioredis.Redis | None

    async def redis_state(self) -> str:
        """The guide's `bypass_router` field: where sessions live and whether it answers."""
        if self.redis is None:
            return "in-process"
        return "connected" if await self.service.sessions.ping() else "disconnected"


_runtime: Runtime | None = None


def live_deployments() -> Iterable[Mapping]:
    # Read at call time: the proxy replaces llm_router at startup and on model changes.
    from litellm.proxy import proxy_server

    router = proxy_server.llm_router
    return router.registry().all() if router is not None else ()


def build_runtime(config_path: str | Path) -> Runtime:
    document = load_config_file(config_path)
    config = parse_routing_config(document)
    encoder = SentenceTransformerEncoder(config.encoder.model, threads=config.encoder.threads)
    classifier = UseCaseClassifier(
        encoder,
        utterances={name: spec.utterances for name, spec in config.use_cases.items()},
        modalities={name: spec.modalities for name, spec in config.use_cases.items()},
        default_use_case=config.default_use_case,
        k=config.classifier.k,
        min_confidence=config.classifier.min_confidence,
    )
    # Warm the encoder so the first request pays no lazy initialisation.
    classifier.classify("warm up")
    redis_client = connect(config.redis_url) if config.redis_url else None
    if redis_client is not None:
        sessions = RedisSessionStore(redis_client, config.session_timeout, config.key_prefix)
        stats = RedisStatsStore(redis_client, config.key_prefix)
    else:
        sessions, stats = MemorySessionStore(config.session_timeout), MemoryStatsStore()
    service = RouterService(config, classifier, sessions, stats, live_deployments)
    health = EndpointHealthMonitor(service.catalog, config.health_check_interval)
    log.info(
        "use-case router ready: mode=%s, sessions=%s, encoder=%s",
        config.mode,
        "redis" if redis_client else "in-process",
        encoder.name,
    )
    return Runtime(service, health, redis_client)


def config_path_from_proxy() -> str:
    from litellm.proxy import proxy_server

    path = proxy_server.user_config_file_path or os.environ.get("CONFIG_FILE_PATH")
    if not path:
        raise RuntimeError("router_plugins needs the proxy's config file: start it with --config")
    return path


def install_runtime(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def current_runtime() -> Runtime | None:
    return _runtime


def get_runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("router_plugins is not initialised: list it in litellm_settings.callbacks")
    return _runtime
