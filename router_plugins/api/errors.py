"""Every error of the guide's routes uses the guide's body: {success: false, error_message, use_case, routing_time}."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import litellm
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

from ..limits import Overloaded
from ..store import StoreUnavailable
from ..store.rate_limits import RateLimited
from .auth import Unauthorized
from .schemas import MAX_BODY_BYTES


def error_response(
    status: int,
    message: str,
    *,
    use_case: str | None = None,
    routing_time: float = 0.0,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"success": False, "error_message": message, "use_case": use_case, "routing_time": round(routing_time, 6)}
    return JSONResponse(body, status_code=status, headers=headers)


def describe_validation_error(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        field = ".".join(location) or "body"
        if error.get("type") == "json_invalid":
            problems.append("the body is not valid JSON")
        elif error.get("type") == "extra_forbidden":
            problems.append(f"{field}: unknown field")
        else:
            problems.append(f"{field}: {error.get('msg')}")
    return "Invalid request: " + "; ".join(problems)


def model_error_response(exc: Exception, use_case: str, routing_time: float) -> JSONResponse:
    """Map a LiteLLM router failure onto the guide's codes; a message the caller can act on."""
    if isinstance(exc, Overloaded):
        return error_response(503, str(exc), use_case=use_case, routing_time=routing_time,
                              headers={"Retry-After": "1"})
    if isinstance(exc, litellm.Timeout):
        return error_response(504, f"Model timed out: {exc.message}", use_case=use_case, routing_time=routing_time)
    if isinstance(exc, (litellm.RateLimitError, litellm.RouterRateLimitError)):
        return error_response(
            503,
            "Model overloaded or cooling down; retry shortly",
            use_case=use_case,
            routing_time=routing_time,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, litellm.BadRequestError):
        return error_response(400, f"The model rejected the request: {exc.message}", use_case=use_case,
                              routing_time=routing_time)
    return error_response(500, "Model not available", use_case=use_case, routing_time=routing_time)


class BodyTooLarge(Exception):
    pass


def _capped(receive: Receive, limit: int) -> Receive:
    """A chunked body declares no length: count it as it arrives and stop reading past the limit."""
    received = 0

    async def capped_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return capped_receive


TOO_LARGE = f"Request body too large: at most {MAX_BODY_BYTES} bytes (query and context included)"


class GuideErrorRoute(APIRoute):
    """Turns validation and auth failures into the guide's error body (400/401) instead of FastAPI's 422,
    and refuses a body over MAX_BODY_BYTES (413) before it is held in memory."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                return error_response(413, TOO_LARGE)
            request = Request(request.scope, _capped(request.receive, MAX_BODY_BYTES))
            try:
                await request.body()  # cached on the request, so the handler reads it from there
            except BodyTooLarge:
                return error_response(413, TOO_LARGE)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return error_response(400, describe_validation_error(exc))
            except Unauthorized as exc:
                return error_response(401, exc.message, headers={"WWW-Authenticate": "Bearer"})
            except RateLimited as exc:
                return error_response(429, str(exc), headers={"Retry-After": str(exc.retry_after)})
            except StoreUnavailable:
                return error_response(503, "Session store unavailable; retry shortly", headers={"Retry-After": "5"})

        return guarded
