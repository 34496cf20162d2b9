"""The router's Prometheus metrics, served by LiteLLM's /metrics beside its own.

Labels stay low-cardinality: use case, model, path. Never session or user ids."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DECISIONS = Counter(
    "router_decisions_total",
    "Routing decisions by use case, model and path (bypass or classified)",
    ["use_case", "model", "path"],
)
CONTEXT_CHANGES = Counter("router_context_changes_total", "Turns that switched a session to another use case")
SESSION_CREATIONS = Counter("router_session_creations_total", "Sessions created")
ROUTING_SECONDS = Histogram(
    "router_routing_seconds",
    "Time to decide a route, session read and write included",
    ["path"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
STORE_ERRORS = Counter("router_store_unavailable_total", "Requests that found the session store unavailable")
