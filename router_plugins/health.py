"""Background checks of each model endpoint, so GET /health answers from a cache, not a model call."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from . import metrics
from .core.catalog import UseCaseCatalog

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    healthy: bool
    response_time: float | None  # seconds
    checked_at: float
    error: str | None = None


class EndpointHealthMonitor:
    """Probes `GET {api_base}/models` (served by vLLM and llama.cpp alike) every `interval` seconds."""

    def __init__(
        self,
        catalog: Callable[[], UseCaseCatalog],
        interval: float,
        timeout: float = 2.0,
        redis_ping: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._catalog = catalog
        # Turns keep router_session_store_up current under traffic; this keeps it current when idle.
        self._redis_ping = redis_ping
        self._interval = interval
        self._timeout = timeout
        self._results: dict[str, EndpointHealth] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="endpoint-health")

    def result(self, endpoint: str) -> EndpointHealth | None:
        return self._results.get(endpoint)

    async def check_now(self) -> None:
        routes = [(use_case, route) for use_case, route in self._catalog().items() if route.endpoint]
        endpoints = {route.endpoint for _, route in routes}
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            results = await asyncio.gather(*(self._probe(client, endpoint) for endpoint in endpoints))
        self._results = dict(zip(endpoints, results))
        for use_case, route in routes:
            metrics.ENDPOINT_UP.labels(use_case, route.model).set(1 if self._results[route.endpoint].healthy else 0)
        if self._redis_ping is not None:
            metrics.STORE_UP.labels("redis").set(1 if await self._redis_ping() else 0)

    async def _run(self) -> None:
        while True:
            try:
                await self.check_now()
            except Exception:  # a broken check must not end the loop
                log.exception("endpoint health check failed")
            # Until the proxy has built its model router there is nothing to check yet: look again soon.
            await asyncio.sleep(self._interval if self._results else 1.0)

    async def _probe(self, client: httpx.AsyncClient, endpoint: str) -> EndpointHealth:
        started = time.perf_counter()
        try:
            response = await client.get(endpoint.rstrip("/") + "/models")
        except httpx.HTTPError as exc:
            return EndpointHealth(False, None, time.time(), error=type(exc).__name__)
        elapsed = time.perf_counter() - started
        if response.status_code >= 400:
            return EndpointHealth(False, elapsed, time.time(), error=f"HTTP {response.status_code}")
        return EndpointHealth(True, elapsed, time.time())
