"""Builds the router once per worker process from litellm_config.yaml and holds it."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

from .config import RoutingConfig, check_master_key, load_config_file, parse_routing_config
from .core import classifier as classifier_module
from .core import follow_ups, passages, training
from .core.classifier import UseCaseClassifier
from .core.encoders import Encoder, build_encoder
from .core.training import TrainingOptions, fit_classifier
from .core.types import SessionContext
from .embedding_cache import cached_embeddings
from .examples import load_examples, load_follow_ups
from .health import EndpointHealthMonitor
from .service import RouterService
from .store import connect
from .store.sessions import MemorySessionStore, RedisSessionStore
from .store.rate_limits import MemoryRateLimiter, RateLimiter, RedisRateLimiter, Unlimited
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


def build_classifier(config: RoutingConfig, base_dir: Path) -> UseCaseClassifier:
    """Fitted from the examples on the first start, then loaded from the cache: a restart takes seconds."""
    examples = load_examples(config, base_dir)
    follow_ups = load_follow_ups(config, base_dir)
    cache_dir = Path(config.cache_dir).expanduser()
    encoder = None
    if config.encoder.backend != "none":
        encoder = build_encoder(config.encoder.backend, config.encoder.model, cache_dir, config.encoder.threads)
    options = TrainingOptions(
        regularisation=config.classifier.regularisation,
        embedding_weight=config.classifier.embedding_weight,
        cascade_threshold=config.classifier.cascade_threshold,
        follow_up_regularisation=config.session.regularisation,
        switch_weight=config.session.switch_weight,
    )
    fingerprint = _fingerprint(config, [examples, follow_ups], options, encoder)
    path = cache_dir / f"classifier-{fingerprint}.pickle"
    if path.exists():
        with path.open("rb") as file:
            classifier: UseCaseClassifier = pickle.load(file)  # our own cache file, keyed by content
        classifier.attach_encoder(encoder)
    else:
        embeddings = None
        if encoder is not None:
            embeddings = cached_embeddings(encoder, [example.query for example in examples], cache_dir)
        classifier = fit_classifier(
            examples,
            use_cases=list(config.use_cases),
            declared_modalities={name: spec.modalities for name, spec in config.use_cases.items()},
            default_use_case=config.default_use_case,
            min_confidence=config.classifier.min_confidence,
            encoder=encoder,
            embeddings=embeddings,
            options=options,
            follow_ups=follow_ups,
        )
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        with temporary.open("wb") as file:
            pickle.dump(classifier, file)
        temporary.replace(path)  # atomic: workers starting together never read half a file
    # Warm every head so the first request pays no lazy initialisation.
    classifier.classify("warm up")
    classifier.read_follow_up("warm up", None, SessionContext(config.default_use_case, None, 1))
    if encoder is not None:
        encoder.encode(["warm up"])
    return classifier


def _fingerprint(config: RoutingConfig, data: list, options: TrainingOptions, encoder: Encoder | None) -> str:
    import sklearn

    digest = hashlib.sha256()
    for part in (
        repr(data),
        repr(options),
        encoder.name if encoder else "none",
        repr({name: spec.modalities for name, spec in config.use_cases.items()}),
        config.default_use_case,
        repr(config.classifier.min_confidence),
        sklearn.__version__,
        # A change to the fitting or prediction code invalidates what it fitted.
        *(
            Path(module.__file__).read_text(encoding="utf-8")
            for module in (training, classifier_module, follow_ups, passages)
        ),
    ):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def build_runtime(config_path: str | Path) -> Runtime:
    document = load_config_file(config_path)
    check_master_key(document)
    config = parse_routing_config(document)
    classifier = build_classifier(config, Path(config_path).resolve().parent)
    redis_client = connect(config.redis_url) if config.redis_url else None
    limit = config.rate_limit
    rate_limiter: RateLimiter = Unlimited()
    if redis_client is not None:
        sessions = RedisSessionStore(redis_client, config.session_timeout, config.key_prefix)
        stats = RedisStatsStore(redis_client, config.key_prefix)
        if limit.requests:
            rate_limiter = RedisRateLimiter(redis_client, config.key_prefix, limit.requests, limit.window_seconds)
    else:
        sessions, stats = MemorySessionStore(config.session_timeout), MemoryStatsStore()
        if limit.requests:
            rate_limiter = MemoryRateLimiter(limit.requests, limit.window_seconds)
    service = RouterService(config, classifier, sessions, stats, rate_limiter, live_deployments)
    health = EndpointHealthMonitor(
        service.catalog, config.health_check_interval, redis_ping=sessions.ping if redis_client is not None else None
    )
    log.info(
        "use-case router ready: mode=%s, sessions=%s, encoder=%s",
        config.mode,
        "redis" if redis_client else "in-process",
        classifier.encoder.name if classifier.encoder else "none",
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
