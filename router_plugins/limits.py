"""Bounded in-flight model calls per model group: beyond the bound a request is refused at once
(503 + Retry-After) instead of queueing without bound behind a saturated GPU."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class Overloaded(RuntimeError):
    def __init__(self, model: str, limit: int) -> None:
        super().__init__(f"{model} already has {limit} requests in flight on this worker; retry shortly")
        self.model = model


class InFlightLimiter:
    """Counts per worker process; no lock needed on one event loop."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._in_flight: Counter[str] = Counter()

    @contextmanager
    def slot(self, model: str) -> Iterator[None]:
        if self._in_flight[model] >= self._limit:
            raise Overloaded(model, self._limit)
        self._in_flight[model] += 1
        try:
            yield
        finally:
            self._in_flight[model] -= 1
