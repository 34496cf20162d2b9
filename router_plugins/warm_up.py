"""Pays the proxy's first-request costs at startup instead of on a user's first request.

LiteLLM loads its provider code, builds its HTTP clients and opens its connection to a model server
on the first completion through each deployment, and FastAPI, auth and the pre-call pipeline build
their own state on the first request: together about 300-400 ms, where a warm request takes 15. Right
after startup the router sends, in process (no socket), one-token chat completions for every model
group through the proxy's own app, so the first real request finds everything loaded and connected.
A model server that is down or slow only leaves that deployment's first request cold: the warm-up
never fails startup, stops at the first failure of a group (so it cannot push a deployment into
cooldown) and gives up after `budget` seconds. Model groups are named, never `auto`: the warm-up
creates no session and counts in no routing statistics. The proxy's readiness probe answers 503 while
it runs, so a load balancer sends no traffic to a cold router."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

import httpx

log = logging.getLogger(__name__)

WARM_UP_TAG = "router-warm-up"  # on the warm-up's requests in LiteLLM's logs and spend tracking
CALLS_PER_GROUP = 2  # the second call still finds lazily built state; the third does not


class WarmUp:
    def __init__(self) -> None:
        self._task: asyncio.Task | None = None  # held: the event loop keeps only a weak reference

    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        deployments: Callable[[], Iterable[Mapping]],
        connect_store: Callable[[], Awaitable[object]],
        budget: float,
    ) -> None:
        self._task = loop.create_task(
            asyncio.wait_for(warm_up(deployments, connect_store, budget), budget), name="warm-up"
        )
        self._task.add_done_callback(_report)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()


def _report(task: asyncio.Task) -> None:
    if not task.cancelled() and isinstance(task.exception(), TimeoutError):
        log.info("warm-up stopped after its time budget")


async def warm_up(
    deployments: Callable[[], Iterable[Mapping]],
    connect_store: Callable[[], Awaitable[object]],
    timeout: float,
    wait_for_router: float = 60.0,
) -> None:
    """`deployments()` lists the live router's deployments (`runtime.live_deployments`);
    `connect_store()` opens the session store's first connection (`Runtime.redis_state`)."""
    from litellm.proxy import proxy_server

    await connect_store()

    deadline = time.monotonic() + wait_for_router
    while proxy_server.llm_router is None:
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)
    headers = {"Authorization": f"Bearer {proxy_server.master_key}"} if proxy_server.master_key else {}
    transport = httpx.ASGITransport(app=proxy_server.app)
    started = time.perf_counter()
    async with httpx.AsyncClient(transport=transport, base_url="http://warm-up", timeout=timeout) as client:
        for group in dict.fromkeys(deployment["model_name"] for deployment in deployments()):
            # No retries: a model server that is down fails at once instead of after LiteLLM's backoff.
            body = {"model": group, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1,
                    "num_retries": 0, "metadata": {"tags": [WARM_UP_TAG]}}
            for _ in range(CALLS_PER_GROUP):
                try:
                    response = await client.post("/v1/chat/completions", json=body, headers=headers)
                except Exception as exc:  # a cold first request beats a failed startup
                    log.info("warm-up of %s skipped: %s", group, exc)
                    break
                if response.status_code != 200:
                    log.info("warm-up of %s skipped: HTTP %d", group, response.status_code)
                    break
    log.info("warm-up done in %.2f s", time.perf_counter() - started)
