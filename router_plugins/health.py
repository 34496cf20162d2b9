"""Background checks of each model endpoint, so GET /health answers from a cache, not a model call."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

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

    def __init__(self, catalog: Callable[[], UseCaseCatalog], interval: float, timeout: float = 2.0) -> None:
        self._catalog = catalog
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
        endpoints = {route.endpoint for _, route in self._catalog().items() if route.endpoint}
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            results = await asyncio.gather(*(self._probe(client, endpoint) for endpoint in endpoints))
        self._results = dict(zip(endpoints, results))

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
