"""Request and response bodies of the guide's routes; these also document the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.types import Modality
from ..service import SESSION_ID_REGEX

MAX_QUERY_CHARS = 32_000
# A full-length query in a four-byte script is 128 KB; the rest is room for `context`.
MAX_BODY_BYTES = 1_048_576

SessionId = Annotated[str, Field(pattern=SESSION_ID_REGEX, description="From an earlier response")]


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)]
    session_id: SessionId | None = None
    user_id: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    modality: Modality | None = None
    context: dict[str, Any] | None = None
    # None (the guide's clients send explicit nulls) means the default.
    max_tokens: Annotated[int, Field(ge=1, le=32_768)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    dry_run: bool = False


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)]
    modality: Modality | None = None


class RouteResponse(BaseModel):
    success: bool
    result: str | None
    use_case: str
    selected_model: str
    confidence: float
    routing_time: float
    bypass_used: bool
    session_id: str
    new_session: bool
    inference_time: float
    total_time: float
    used_default: bool = Field(False, description="The classifier was unsure and chose the default use case")
    dry_run: bool = False


class ErrorResponse(BaseModel):
    success: bool = False
    error_message: str
    use_case: str | None = None
    routing_time: float = 0.0


class ClassifyResponse(BaseModel):
    use_case: str
    confidence: float
    scores: dict[str, float]
    selected_model: str | None
    routing_time: float
    used_default: bool


class SessionResponse(BaseModel):
    session_id: str
    use_case: str
    model_id: str
    endpoint: str
    confidence: float
    request_count: int
    created_at: str
    last_accessed: str
    bypass_enabled: bool
    # The use cases the session has been routed to, in order, one entry per switch (the last 20).
    use_case_history: list[str]


class EndSessionResponse(BaseModel):
    success: bool
    message: str


class StatsResponse(BaseModel):
    total_requests: int
    bypass_requests: int
    full_routing_requests: int
    session_creations: int
    context_changes: int
    dry_run_requests: int
    failed_requests: int
    bypass_rate_percent: float
    average_routing_time: float
    average_bypass_time: float
    average_inference_time: float
    average_total_time: float


class UseCaseInfo(BaseModel):
    id: str
    description: str
    endpoint: str | None
    model: str | None
    capabilities: list[str]
    languages: list[str]
    performance: int


class UseCasesResponse(BaseModel):
    use_cases: list[UseCaseInfo]


class EndpointStatus(BaseModel):
    status: str
    endpoint: str
    response_time: str | None
    model: str


class HealthResponse(BaseModel):
    status: str
    timestamp: float
    bypass_router: str
    routing_mode: str
    model_endpoints: dict[str, EndpointStatus]
