"""The OpenAI path: `model="auto"` on /v1/chat/completions is routed by the same service as /route."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from .core.policy import NoModelForUseCase
from .core.types import Modality
from .limits import Overloaded
from .runtime import current_runtime
from .service import SESSION_ID_PATTERN, TurnFacts, UnknownSession
from .store.rate_limits import RateLimited, rate_limit_caller

log = logging.getLogger(__name__)

DECISION_KEY = "use_case_router"
SESSION_HEADERS = ("x-session-id", "x-litellm-session-id")
# Content part types that carry media, strongest signal first.
_PART_MODALITIES: Sequence[tuple[Modality, frozenset[str]]] = (
    (Modality.VIDEO, frozenset({"video_url", "video", "input_video"})),
    (Modality.AUDIO, frozenset({"input_audio", "audio_url", "audio"})),
    (Modality.IMAGE, frozenset({"image_url", "image", "input_image"})),
)


# Blocks that agent harnesses inject into user messages: context for the model, not the person's request.
_INJECTED_BLOCK = re.compile(
    r"<(system-reminder|system|environment_details|context|instructions|tool_result|tool_output|"
    r"function_results|search_results|documents?|file|attachments?)\b[^>]*>.*?</\1\s*>",
    re.DOTALL | re.IGNORECASE,
)
_TAG = re.compile(r"</?[A-Za-z][\w:-]*(\s[^<>]*)?>")


def human_text(text: str) -> str:
    """The person's words in a user message: injected blocks dropped, wrapper tags (<user_query>) unwrapped."""
    return " ".join(_TAG.sub(" ", _INJECTED_BLOCK.sub(" ", text)).split())


def _message_text(message: Mapping[str, Any]) -> tuple[str, Modality]:
    content = message.get("content")
    if isinstance(content, str):
        return human_text(content), Modality.TEXT
    parts = [part for part in content or () if isinstance(part, Mapping)]
    # Only "text" parts: tool results and other structured parts are not the person's request.
    text = human_text(" ".join(str(part.get("text", "")) for part in parts if part.get("type") == "text"))
    kinds = {part.get("type") for part in parts}
    for modality, types in _PART_MODALITIES:
        if kinds & types:
            return text, modality
    return text, Modality.TEXT


def latest_user_turn(messages: Sequence[Mapping[str, Any]]) -> tuple[str, Modality]:
    """The human text and media kind of the last user message: the turn being routed. System prompts,
    assistant and tool messages, and blocks a harness injects are never classified."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return _message_text(message)
    return "", Modality.TEXT


def derived_session_id(messages: Sequence[Mapping[str, Any]], caller: str) -> str | None:
    """A stable session id for a client that sends the conversation but no session id: the caller (API
    key and `user`) and the conversation's opening (system prompt and first user message), hashed.
    Every turn of the conversation carries the same opening, so stickiness never silently turns off."""
    opening = [message for message in messages if message.get("role") in ("system", "developer")][:1]
    first_user = next((message for message in messages if message.get("role") == "user"), None)
    if first_user is None:
        return None
    digest = hashlib.sha256(caller.encode("utf-8"))
    for message in (*opening, first_user):
        digest.update(b"\0" + str(message.get("content")).encode("utf-8"))
    return "conv-" + digest.hexdigest()[:32]


def session_id_from(data: Mapping[str, Any]) -> str | None:
    headers = {str(k).lower(): v for k, v in ((data.get("proxy_server_request") or {}).get("headers") or {}).items()}
    for header in SESSION_HEADERS:
        if value := headers.get(header):
            return str(value)
    metadata = data.get("metadata") or {}
    return data.get("litellm_session_id") or metadata.get("session_id") or None


class UseCaseRouterHook(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data: dict, call_type) -> dict:
        runtime = current_runtime()
        if runtime is None or data.get("model") != runtime.service.config.auto_model:
            return data  # a concrete model group passes through untouched
        messages = data.get("messages") or []
        text, modality = latest_user_turn(messages)
        session_id = session_id_from(data)
        source = "client"
        if session_id is not None and not SESSION_ID_PATTERN.match(session_id):
            raise HTTPException(
                status_code=400, detail="x-session-id: use 1-128 characters of letters, digits and . _ : -"
            )
        if session_id is None:
            caller = f"{getattr(user_api_key_dict, 'token', None) or ''}\0{data.get('user') or ''}"
            session_id = derived_session_id(messages, caller)
            source = "derived" if session_id else "new"
        key = getattr(user_api_key_dict, "api_key", None) or getattr(user_api_key_dict, "token", None)
        address = (data.get("metadata") or {}).get("requester_ip_address")
        try:
            await runtime.service.rate_limiter.admit(rate_limit_caller(data.get("user"), key, address))
        except RateLimited as exc:
            raise HTTPException(status_code=429, detail=str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc
        try:
            routed = await runtime.service.route(
                text or " ",
                modality,
                session_id,
                data.get("user"),
                create_unknown=True,
            )
        except UnknownSession as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        except NoModelForUseCase as exc:
            raise HTTPException(status_code=500, detail=f"Model not available: {exc}") from exc
        decision = routed.decision
        try:
            runtime.service.in_flight.hold_for_request(decision.model)
        except Overloaded as exc:
            raise HTTPException(status_code=503, detail=str(exc), headers={"Retry-After": "1"}) from exc
        data["model"] = decision.model
        data["extra_headers"] = {**(data.get("extra_headers") or {}), "X-Session-ID": routed.session_id}
        metadata = data.setdefault("metadata", {})
        metadata[DECISION_KEY] = {
            "use_case": decision.use_case,
            "model": decision.model,
            "bypass": decision.bypass,
            "session_id": routed.session_id,
            "session_source": source,
            "turn": asdict(routed.facts),
        }
        return data

    async def async_post_call_response_headers_hook(
        self, data: dict, user_api_key_dict, response, request_headers=None, litellm_call_info=None
    ) -> dict[str, str] | None:
        decision = (data.get("metadata") or {}).get(DECISION_KEY)
        if not decision:
            return None
        return {
            "x-route-use-case": decision["use_case"],
            "x-route-model": decision["model"],
            "x-route-bypass": "true" if decision["bypass"] else "false",
            "x-route-session-id": decision["session_id"],
            # client: the request named its session; derived: keyed on the conversation's opening.
            "x-route-session-source": decision["session_source"],
        }

    # The turn is counted once its model call has finished, in one write: the request does not wait for it.
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time) -> None:
        await self._record(kwargs, failed=False, inference_time=(end_time - start_time).total_seconds())

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time) -> None:
        await self._record(kwargs, failed=True, inference_time=None)

    async def _record(self, kwargs: dict, *, failed: bool, inference_time: float | None) -> None:
        runtime = current_runtime()
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        decision = metadata.get(DECISION_KEY)
        if runtime is None or not decision:
            return
        await runtime.service.record(
            TurnFacts(**decision["turn"]), dry_run=False, failed=failed, inference_time=inference_time
        )
