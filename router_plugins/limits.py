"""Bounded in-flight model calls per model group: beyond the bound a request is refused at once
(503 + Retry-After) instead of queueing without bound behind a saturated GPU.

/route holds a slot around its model call. The OpenAI path decides its model in a LiteLLM hook but the
call, streamed or not, ends later and elsewhere; so the hook holds a slot for the rest of the HTTP
request, and `released_when_response_ends` (wrapped around the handlers of LiteLLM's completion
routes) gives it back when the response is finished, failed or abandoned by the client."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

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
    """Wraps a route's request handler: the slots its request took are given back when the handler
    fails, when its response is returned, or, for a streamed response, when the stream ends or the
    client goes away."""

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
        if held and isinstance(response, StreamingResponse):
            response.body_iterator = _released_after(response.body_iterator, held)
        else:
            _release_all(held)
        return response

    return wrapped


async def _released_after(chunks: AsyncIterable[Any], held: list[tuple[InFlightLimiter, str]]) -> AsyncIterator[Any]:
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        _release_all(held)


def _release_all(held: list[tuple[InFlightLimiter, str]]) -> None:
    for limiter, model in held:
        limiter._release(model)
    held.clear()
