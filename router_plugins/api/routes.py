"""POST /route, POST /classify, /sessions/{id}, /stats, /use-cases and /health."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from ..core.policy import NoModelForUseCase
from ..core.types import RoutingMode, SessionState
from ..runtime import Runtime, get_runtime
from ..service import SESSION_ID_REGEX, UnknownSession
from ..store.rate_limits import rate_limit_caller
from . import schemas
from .auth import presented_key, require_api_key
from .errors import GuideErrorRoute, error_response, model_error_response

DEFAULT_MAX_TOKENS = 100
DEFAULT_TEMPERATURE = 0.7

ERRORS = {
    status: {"model": schemas.ErrorResponse, "description": description}
    for status, description in {
        400: "Invalid input: the message names the field",
        401: "Missing or invalid API key",
        404: "Unknown session",
        429: "Rate limit exceeded: retry after Retry-After seconds",
        500: "Model unavailable",
        503: "Overloaded: retry after Retry-After seconds",
        504: "The model did not answer within MODEL_SWITCH_TIMEOUT",
    }.items()
}

router = APIRouter(route_class=GuideErrorRoute, dependencies=[Depends(require_api_key)], tags=["use-case router"])

SessionIdPath = Annotated[str, Path(pattern=SESSION_ID_REGEX)]


@router.post("/route", response_model=schemas.RouteResponse, responses=ERRORS)
async def route(
    request: schemas.RouteRequest, http: Request, runtime: Runtime = Depends(get_runtime)
) -> JSONResponse:
    from litellm.proxy import proxy_server

    service = runtime.service
    await service.rate_limiter.admit(_caller(http, request.user_id))
    try:
        routed = await service.route(
            request.query,
            request.modality,
            request.session_id,
            request.user_id,
            create_unknown=False,
        )
    except UnknownSession as exc:
        return error_response(404, str(exc))
    except NoModelForUseCase as exc:
        return error_response(500, f"Model not available: {exc}", use_case=exc.use_case)
    decision = routed.decision
    result: str | None = None
    inference_time = 0.0
    if not request.dry_run:
        llm_router = proxy_server.llm_router
        started = time.perf_counter()
        try:
            if llm_router is None:
                raise RuntimeError("the proxy has no model router")
            with service.in_flight.slot(decision.model):
                response = await llm_router.acompletion(
                    model=decision.model,
                    messages=[{"role": "user", "content": request.query}],
                    max_tokens=request.max_tokens or DEFAULT_MAX_TOKENS,
                    temperature=DEFAULT_TEMPERATURE if request.temperature is None else request.temperature,
                    timeout=service.config.model_timeout,
                    # Lets the model server keep this conversation's KV cache warm.
                    extra_headers={"X-Session-ID": routed.session_id},
                    metadata={"use_case": decision.use_case, "session_id": routed.session_id},
                )
        except Exception as exc:  # every model failure maps onto the guide's codes
            await service.record(routed.facts, dry_run=False, failed=True, inference_time=None)
            return model_error_response(exc, decision.use_case, routed.routing_time)
        inference_time = time.perf_counter() - started
        result = response.choices[0].message.content
    await service.record(routed.facts, dry_run=request.dry_run, failed=False,
                         inference_time=None if request.dry_run else inference_time)
    body = schemas.RouteResponse(
        success=True,
        result=result,
        use_case=decision.use_case,
        selected_model=decision.model,
        confidence=round(decision.confidence, 4),
        routing_time=round(routed.routing_time, 6),
        bypass_used=decision.bypass,
        session_id=routed.session_id,
        new_session=routed.new_session,
        inference_time=round(inference_time, 6),
        total_time=round(time.perf_counter() - routed.started_at, 6),
        used_default=bool(decision.classification and decision.classification.used_default),
        dry_run=request.dry_run,
    )
    return JSONResponse(body.model_dump())


@router.post("/classify", response_model=schemas.ClassifyResponse, responses=ERRORS)
async def classify(
    request: schemas.ClassifyRequest, http: Request, runtime: Runtime = Depends(get_runtime)
) -> schemas.ClassifyResponse:
    await runtime.service.rate_limiter.admit(_caller(http, None))
    started = time.perf_counter()
    classification = runtime.service.classify(request.query, request.modality)
    route = runtime.service.catalog().route_for(classification.use_case)
    return schemas.ClassifyResponse(
        use_case=classification.use_case,
        confidence=round(classification.confidence, 4),
        scores={name: round(score, 4) for name, score in classification.scores.items()},
        selected_model=route.model if route else None,
        routing_time=round(time.perf_counter() - started, 6),
        used_default=classification.used_default,
    )


def _caller(http: Request, user_id: str | None) -> str:
    return rate_limit_caller(user_id, presented_key(http), http.client.host if http.client else None)


async def _owned_session(runtime: Runtime, session_id: str, user_id: str | None) -> SessionState | None:
    session = await runtime.service.sessions.get(session_id)
    return session if session is not None and session.visible_to(user_id) else None


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


@router.get("/sessions/{session_id}", response_model=schemas.SessionResponse, responses=ERRORS)
async def get_session(
    session_id: SessionIdPath,
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    runtime: Runtime = Depends(get_runtime),
) -> JSONResponse:
    session = await _owned_session(runtime, session_id, user_id)
    if session is None:
        return error_response(404, f"Session {session_id} not found")
    body = schemas.SessionResponse(
        session_id=session.session_id,
        use_case=session.use_case,
        model_id=session.model,
        endpoint=session.endpoint,
        confidence=round(session.confidence, 4),
        request_count=session.request_count,
        created_at=_iso(session.created_at),
        last_accessed=_iso(session.last_accessed),
        bypass_enabled=runtime.service.config.mode is RoutingMode.REALTIME,
        use_case_history=list(session.history),
    )
    return JSONResponse(body.model_dump())


@router.delete("/sessions/{session_id}", response_model=schemas.EndSessionResponse, responses=ERRORS)
async def end_session(
    session_id: SessionIdPath,
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    runtime: Runtime = Depends(get_runtime),
) -> JSONResponse:
    if await _owned_session(runtime, session_id, user_id) is None:
        return error_response(404, f"Session {session_id} not found")
    await runtime.service.sessions.delete(session_id)
    return JSONResponse({"success": True, "message": f"Session {session_id} ended"})


@router.get("/stats", response_model=schemas.StatsResponse, responses=ERRORS)
async def stats(runtime: Runtime = Depends(get_runtime)) -> dict:
    return await runtime.service.stats.snapshot()


@router.get("/use-cases", response_model=schemas.UseCasesResponse, responses=ERRORS)
async def use_cases(runtime: Runtime = Depends(get_runtime)) -> schemas.UseCasesResponse:
    catalog = runtime.service.catalog()
    infos = []
    for name, spec in runtime.service.config.use_cases.items():
        route = catalog.route_for(name)
        infos.append(
            schemas.UseCaseInfo(
                id=name,
                description=spec.description,
                endpoint=route.endpoint if route else None,
                model=route.model if route else None,
                capabilities=list(spec.capabilities),
                languages=list(spec.languages),
                performance=spec.performance,
            )
        )
    return schemas.UseCasesResponse(use_cases=infos)


@router.get("/health", response_model=schemas.HealthResponse, responses=ERRORS)
async def health(runtime: Runtime = Depends(get_runtime)) -> schemas.HealthResponse:
    endpoints: dict[str, schemas.EndpointStatus] = {}
    for name, route in runtime.service.catalog().items():
        result = runtime.health.result(route.endpoint)
        if result is None:
            status, response_time = "unknown", None
        else:
            status = "healthy" if result.healthy else "unhealthy"
            response_time = f"{result.response_time * 1000:.0f}ms" if result.response_time is not None else None
        endpoints[name] = schemas.EndpointStatus(
            status=status, endpoint=route.endpoint, response_time=response_time, model=route.model
        )
    store = await runtime.redis_state()
    healthy = store != "disconnected" and all(e.status == "healthy" for e in endpoints.values())
    return schemas.HealthResponse(
        status="healthy" if healthy else "degraded",
        timestamp=time.time(),
        bypass_router=store,
        routing_mode=str(runtime.service.config.mode),
        model_endpoints=endpoints,
    )
