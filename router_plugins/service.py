"""One routing service for /route and the OpenAI path: session I/O and statistics around the pure core."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from . import metrics
from .config import RoutingConfig
from .core.catalog import UseCaseCatalog
from .core.classifier import UseCaseClassifier
from .core.policy import RoutingPolicy, decide_turn, next_session_state, policy_for
from .core.types import Classification, Decision, Modality, RoutingMode, SessionState
from .limits import InFlightLimiter
from .store import StoreUnavailable
from .store.rate_limits import RateLimiter
from .store.sessions import SessionStore
from .store.stats import StatsStore, TurnRecord

log = logging.getLogger(__name__)

# Session ids become Redis key suffixes: a closed alphabet and a bounded length.
SESSION_ID_REGEX = r"^[A-Za-z0-9._:-]{1,128}$"
SESSION_ID_PATTERN = re.compile(SESSION_ID_REGEX)


class UnknownSession(LookupError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"Session {session_id} not found (it may have expired); omit session_id to start one")
        self.session_id = session_id


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """What the statistics need of a routed turn; plain values, so the OpenAI path can carry them in the
    request's metadata from the pre-call hook to the success or failure callback."""

    bypass: bool
    new_session: bool
    context_change: bool
    routing_time: float
    started_at: float  # perf_counter() when routing began
    model: str  # the model group called: a metric label
    turn_id: str  # finds the turn's session write, which runs alongside the model call


@dataclass(frozen=True, slots=True)
class Routed:
    decision: Decision
    session_id: str
    new_session: bool
    routing_time: float
    started_at: float  # perf_counter() when routing began
    turn_id: str

    @property
    def facts(self) -> TurnFacts:
        return TurnFacts(
            self.decision.bypass,
            self.new_session,
            self.decision.context_change,
            self.routing_time,
            self.started_at,
            self.decision.model,
            self.turn_id,
        )


def routing_policy(config: RoutingConfig, mode: RoutingMode | None = None) -> RoutingPolicy:
    """The policy the YAML configures (`mode`, `session`); `mode` overrides the configured one."""
    return policy_for(
        mode or config.mode,
        config.session.stay_threshold,
        {name: spec.modalities for name, spec in config.use_cases.items()},
    )


def new_session_id() -> str:
    return secrets.token_hex(16)  # 128 bits: unguessable


class RouterService:
    def __init__(
        self,
        config: RoutingConfig,
        classifier: UseCaseClassifier,
        sessions: SessionStore,
        stats: StatsStore,
        rate_limiter: RateLimiter,
        deployments: Callable[[], Iterable[Mapping]],
    ) -> None:
        self.config = config
        self.classifier = classifier
        self.sessions = sessions
        self.stats = stats
        self.rate_limiter = rate_limiter
        self._deployments = deployments
        self._policy = routing_policy(config)
        self.in_flight = InFlightLimiter(config.max_in_flight_per_model)
        self._store_kind = "redis" if config.redis_url else "memory"
        self._saving: dict[str, asyncio.Task[None]] = {}  # session writes still in flight, by turn id
        metrics.initialise(str(config.mode))

    def catalog(self) -> UseCaseCatalog:
        """Read from the live LiteLLM router on every call: models added at runtime are routable at once."""
        return UseCaseCatalog.from_deployments(self._deployments(), self.config.use_cases)

    def classify(self, query: str, modality: Modality | None) -> Classification:
        return self.classifier.classify(query, modality)

    async def route(
        self,
        query: str,
        modality: Modality | None,
        session_id: str | None,
        user_id: str | None,
        *,
        create_unknown: bool,
    ) -> Routed:
        """Decide the model for one turn and record it in the session.

        `create_unknown` starts a session under a client-chosen id (the OpenAI path's convention);
        without it an unknown id is a 404, as the integration guide specifies for /route."""
        started = time.perf_counter()
        session = await self._load_session(session_id, user_id, create_unknown)
        deciding = time.perf_counter()
        decision = decide_turn(self.classifier, query, modality, session, self._policy, self.catalog())
        classification_time = time.perf_counter() - deciding
        state = next_session_state(
            session, session_id or new_session_id(), decision, modality, user_id, time.time()
        )
        # The write goes on while the model answers: the decision does not wait for a Redis round trip.
        # record() waits for it, so a turn is counted only once its session is saved.
        turn_id = secrets.token_hex(8)
        saving = asyncio.get_running_loop().create_task(self._save(state))
        self._saving[turn_id] = saving
        saving.add_done_callback(lambda _: self._saving.pop(turn_id, None))
        routing_time = time.perf_counter() - started
        path = metrics.path_of(decision.bypass)
        metrics.DECISIONS.labels(decision.use_case, decision.model, path).inc()
        metrics.ROUTING_SECONDS.labels(path).observe(routing_time)
        metrics.CLASSIFICATION_SECONDS.labels(path).observe(classification_time)
        if session is None:
            metrics.SESSION_CREATIONS.inc()
        if decision.context_change:
            metrics.CONTEXT_CHANGES.inc()
        return Routed(decision, state.session_id, session is None, routing_time, started, turn_id)

    async def _save(self, state: SessionState) -> None:
        try:
            await self.sessions.record_turn(state)
        except StoreUnavailable as exc:
            self._store_answered(False)
            log.warning("session not saved, store unavailable: %s", exc)
        else:
            self._store_answered(True)

    async def record(
        self, turn: TurnFacts, *, dry_run: bool, failed: bool, inference_time: float | None
    ) -> None:
        """Count a finished turn in the statistics: once, after its model call (or its dry run) and
        its session write."""
        if (saving := self._saving.get(turn.turn_id)) is not None:
            await saving
        total_time = time.perf_counter() - turn.started_at
        path = metrics.path_of(turn.bypass)
        outcome = "error" if failed else "dry_run" if dry_run else "success"
        metrics.REQUESTS.labels(str(self.config.mode), path, outcome).inc()
        # Like /stats' averages: only turns whose model answered, so dry runs do not pull the times down.
        if inference_time is not None:
            metrics.INFERENCE_SECONDS.labels(turn.model).observe(inference_time)
            metrics.TOTAL_SECONDS.labels(path).observe(total_time)
        await self.stats.record(
            TurnRecord(
                bypass=turn.bypass,
                new_session=turn.new_session,
                context_change=turn.context_change,
                dry_run=dry_run,
                failed=failed,
                routing_time=turn.routing_time,
                inference_time=inference_time,
                total_time=total_time,
            )
        )

    def _store_answered(self, answered: bool) -> None:
        metrics.STORE_UP.labels(self._store_kind).set(1 if answered else 0)
        if not answered:
            metrics.STORE_ERRORS.inc()

    async def _load_session(
        self, session_id: str | None, user_id: str | None, create_unknown: bool
    ) -> SessionState | None:
        if session_id is None:
            return None
        try:
            session = await self.sessions.get(session_id)
        except StoreUnavailable as exc:
            # Degrade: classify this turn rather than fail it.
            self._store_answered(False)
            log.warning("session lookup skipped, store unavailable: %s", exc)
            return None
        self._store_answered(True)
        if session is not None and not session.visible_to(user_id):
            raise UnknownSession(session_id)
        if session is None and not create_unknown:
            raise UnknownSession(session_id)
        return session
