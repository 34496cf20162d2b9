"""Bounded in-flight model calls per model group: beyond the bound a request is refused at once
(503 + Retry-After) instead of queueing without bound behind a saturated GPU.

/route holds a slot around its model call. The OpenAI path decides its model in a LiteLLM hook but the
call, streamed or not, ends later and elsewhere; so the hook holds a slot for the rest of the HTTP
request, and `released_when_response_ends` (wrapped around the handlers of LiteLLM's completion
routes) gives it back when the response is finished, failed or abandoned by the client."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

RequestHandler = Callable[[Request], Awaitable[Response]]

# Slots the current HTTP request holds; None outside a wrapped route.
_HELD: ContextVar[list[tuple[InFlightLimiter, str]] | None] = ContextVar("router_in_flight_held", default=None)


class Overloaded(RuntimeError):
    def __init__(self, model: str, limit: int) -> None:
        super().__init__(f"{model} already has {limit} requests in flight on this worker; retry shortly")
        self.model = model


class InFlightLimiter:
    """Counts per worker process; no lock needed on one event loop."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._in_flight: Counter[str] = Counter()

    def _acquire(self, model: str) -> None:
        if self._in_flight[model] >= self._limit:
            raise Overloaded(model, self._limit)
        self._in_flight[model] += 1

    def _release(self, model: str) -> None:
        self._in_flight[model] -= 1

    @contextmanager
    def slot(self, model: str) -> Iterator[None]:
        self._acquire(model)
        try:
            yield
        finally:
            self._release(model)

    def hold_for_request(self, model: str) -> None:
        """Take a slot until the current HTTP request's response ends; outside a wrapped route there is
        nobody to give it back, so none is taken."""
        held = _HELD.get()
        if held is None:
            return
        self._acquire(model)
        held.append((self, model))


def released_when_response_ends(handler: RequestHandler) -> RequestHandler:
    """Wraps a route's request handler: the slots its request takes are given back when the handler
    fails or when its response has been sent, streamed or not, finished or abandoned by the client."""

    async def wrapped(request: Request) -> Response:
        held: list[tuple[InFlightLimiter, str]] = []
        token = _HELD.set(held)
        try:
            response = await handler(request)
        except BaseException:
            _release_all(held)
            raise
        finally:
            _HELD.reset(token)
        return _ReleasedWhenSent(response, held)  # type: ignore[return-value]

    return wrapped


class _ReleasedWhenSent:
    """A response that gives back its request's slots once sent. LiteLLM runs a streamed request's
    hooks, routing included, only while the response is being sent, so the slots are open to that too."""

    def __init__(self, response: Response, held: list[tuple[InFlightLimiter, str]]) -> None:
        self._response, self._held = response, held

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _HELD.set(self._held)
        try:
            await self._response(scope, receive, send)
        finally:
            _HELD.reset(token)
            _release_all(self._held)


def _release_all(held: list[tuple[InFlightLimiter, str]]) -> None:
    for limiter, model in held:
        limiter._release(model)
    held.clear()
