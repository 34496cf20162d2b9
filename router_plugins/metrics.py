"""The router's Prometheus metrics, served by LiteLLM's /metrics beside its own.

Labels stay low-cardinality: use case, model, path, mode, outcome, store. Never session or user ids.
Times are in seconds. With several workers LiteLLM sets PROMETHEUS_MULTIPROC_DIR and one scrape
sums every worker's counters and histograms; a gauge reports the most recent value any live worker
set (`livemostrecent`), because each worker observes the same Redis and the same endpoints."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PATHS = ("bypass", "classified")
OUTCOMES = ("success", "error", "dry_run")

# Sub-millisecond bypasses to a slow classification.
_DECISION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# A model call. 0.3 is an edge: whether p99 total time is above the guide's 300 ms is then exact, not interpolated.
_CALL_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

DECISIONS = Counter(
    "router_decisions_total",
    "Routing decisions by use case, model and path (bypass or classified)",
    ["use_case", "model", "path"],
)
REQUESTS = Counter(
    "router_requests_total",
    "Finished turns as GET /stats counts them, by routing mode, path and outcome (success, error, dry_run)",
    ["mode", "path", "outcome"],
)
CONTEXT_CHANGES = Counter("router_context_changes_total", "Turns that switched a session to another use case")
SESSION_CREATIONS = Counter("router_session_creations_total", "Sessions created")
STORE_ERRORS = Counter("router_store_unavailable_total", "Requests that found the session store unavailable")
ROUTING_SECONDS = Histogram(
    "router_routing_seconds",
    "Time to decide a route, session read included (the session write runs alongside the model call)",
    ["path"],
    buckets=_DECISION_BUCKETS,
)
CLASSIFICATION_SECONDS = Histogram(
    "router_classification_seconds",
    "Time the classifier took on a turn (the follow-up head alone on a bypass), session I/O excluded",
    ["path"],
    buckets=_DECISION_BUCKETS,
)
INFERENCE_SECONDS = Histogram(
    "router_inference_seconds",
    "Time of a successful model call",
    ["model"],
    buckets=_CALL_BUCKETS,
)
TOTAL_SECONDS = Histogram(
    "router_total_seconds",
    "Time from the start of routing to the end of a successful model call (the guide's total_time)",
    ["path"],
    buckets=_CALL_BUCKETS,
)
# Labelled by store (redis or memory) so that no series exists until a turn has touched the store:
# an unlabelled gauge would read 0, "down", on a router that has seen no traffic yet.
STORE_UP = Gauge(
    "router_session_store_up",
    "1 if the session store answered the last session read or write, 0 if it did not",
    ["store"],
    multiprocess_mode="livemostrecent",
)
ENDPOINT_UP = Gauge(
    "router_model_endpoint_up",
    "1 if the use case's model endpoint answered the last health check (GET /health's view), else 0",
    ["use_case", "model"],
    multiprocess_mode="livemostrecent",
)


def initialise(mode: str) -> None:
    """Create every per-turn series at zero, so rate() sees a turn that comes before the first scrape."""
    for path in PATHS:
        ROUTING_SECONDS.labels(path)
        CLASSIFICATION_SECONDS.labels(path)
        TOTAL_SECONDS.labels(path)
        for outcome in OUTCOMES:
            REQUESTS.labels(mode, path, outcome)


def path_of(bypass: bool) -> str:
    return "bypass" if bypass else "classified"
