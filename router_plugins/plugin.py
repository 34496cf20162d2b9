"""Wires the router into a running LiteLLM proxy: one runtime, the guide's routes, the OpenAI hook."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator

from fastapi import FastAPI, Response
from fastapi.routing import APIRoute, request_response
from starlette.routing import BaseRoute

from . import runtime as runtime_module
from .config import ConfigError
from .limits import released_when_response_ends
from .api.routes import router as guide_router
from .openai_hook import UseCaseRouterHook
from .warm_up import WarmUp

log = logging.getLogger(__name__)

_hook: UseCaseRouterHook | None = None
_warm_up = WarmUp()

# LiteLLM's own model health check (real model calls), displaced from /health by the guide's route.
LITELLM_HEALTH_PATH = "/health/models"


def install() -> UseCaseRouterHook:
    """Idempotent: the proxy may import the callbacks module more than once per process."""
    global _hook
    if _hook is not None:
        return _hook
    from litellm.proxy.proxy_server import app

    try:
        runtime = runtime_module.build_runtime(runtime_module.config_path_from_proxy())
    except ConfigError as exc:
        # One readable line before the proxy's long traceback; the error stops startup.
        log.critical("router_plugins cannot start: %s", exc)
        raise
    runtime_module.install_runtime(runtime)
    add_routes(app)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        pass  # imported outside the proxy's event loop (a script): no background checks
    else:
        runtime.health.start()
        _warm_up.start(loop, runtime_module.live_deployments, runtime.redis_state, runtime.service.config.model_timeout)
    _hook = UseCaseRouterHook()
    return _hook


def add_routes(app: FastAPI) -> None:
    """Put the guide's routes ahead of the proxy's: its GET /health (real model calls) moves to
    /health/models, and its readiness probe waits for the warm-up. The OpenAI completion routes give
    back the in-flight slot their `auto` requests hold when the response ends."""
    routes = app.router.routes
    litellm_health = _find_get_route(routes, "/health")
    first_new = len(routes)
    app.add_api_route("/health/readiness", readiness, methods=["GET"], tags=["health"], include_in_schema=False)
    app.include_router(guide_router)
    if litellm_health is not None:
        app.add_api_route(
            LITELLM_HEALTH_PATH,
            litellm_health.endpoint,
            methods=["GET"],
            dependencies=litellm_health.dependencies,
            tags=["health"],
            summary="LiteLLM's model health check (calls every model)",
        )
    added = routes[first_new:]
    del routes[first_new:]
    routes[0:0] = added
    for route in _api_routes(routes):
        if route.path.endswith("/completions"):
            _release_slots_when_response_ends(route)
    app.openapi_schema = None  # regenerate the schema with the new routes


async def readiness(response: Response) -> object:
    """LiteLLM's readiness probe, held at 503 while the warm-up runs."""
    from litellm.proxy.health_endpoints._health_endpoints import health_readiness

    if _warm_up.running:
        response.status_code = 503
        return {"status": "warming up"}
    return await health_readiness(response)


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every endpoint, in included routers too: FastAPI keeps each included router as one nested route."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(getattr(route, "original_router", None), "routes", None)
        if nested:
            yield from _api_routes(nested)


def _release_slots_when_response_ends(route: APIRoute) -> None:
    # FastAPI builds an included route's ASGI app from get_route_handler() when it first dispatches,
    # and a direct route's app here; both must see the wrapped handler.
    build_handler = route.get_route_handler
    route.get_route_handler = lambda: released_when_response_ends(build_handler())  # type: ignore[method-assign]
    route.app = request_response(route.get_route_handler())


def _find_get_route(routes: Iterable[BaseRoute], path: str) -> APIRoute | None:
    return next((route for route in _api_routes(routes) if route.path == path and "GET" in route.methods), None)
