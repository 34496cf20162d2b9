"""The OpenAI path: `model="auto"` on /v1/chat/completions is routed by the same service as /route."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from .core.policy import NoModelForUseCase
from .core.types import Modality
from .runtime import current_runtime
from .service import SESSION_ID_PATTERN, UnknownSession

log = logging.getLogger(__name__)

DECISION_KEY = "use_case_router"
SESSION_HEADERS = ("x-session-id", "x-litellm-session-id")
# Content part types that carry media, strongest signal first.
_PART_MODALITIES: Sequence[tuple[Modality, frozenset[str]]] = (
    (Modality.VIDEO, frozenset({"video_url", "video", "input_video"})),
    (Modality.AUDIO, frozenset({"input_audio", "audio_url", "audio"})),
    (Modality.IMAGE, frozenset({"image_url", "image", "input_image"})),
)


def latest_user_turn(messages: Sequence[Mapping[str, Any]]) -> tuple[str, Modality]:
    """The text and media kind of the last user message: the turn being routed."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content, Modality.TEXT
        parts = [part for part in content or () if isinstance(part, Mapping)]
        text = " ".join(str(part.get("text", "")) for part in parts if part.get("type") == "text").strip()
        kinds = {part.get("type") for part in parts}
        for modality, types in _PART_MODALITIES:
            if kinds & types:
                return text, modality
        return text, Modality.TEXT
    return "", Modality.TEXT


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
        text, modality = latest_user_turn(data.get("messages") or [])
        session_id = session_id_from(data)
        if session_id is not None and not SESSION_ID_PATTERN.match(session_id):
            raise HTTPException(
                status_code=400, detail="x-session-id: use 1-128 characters of letters, digits and . _ : -"
            )
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
        data["model"] = decision.model
        data["extra_headers"] = {**(data.get("extra_headers") or {}), "X-Session-ID": routed.session_id}
        metadata = data.setdefault("metadata", {})
        metadata[DECISION_KEY] = {
            "use_case": decision.use_case,
            "model": decision.model,
            "bypass": decision.bypass,
            "session_id": routed.session_id,
            "routing_started": routed.started_at,
        }
        await runtime.service.record(routed, dry_run=False, failed=False, inference_time=None)
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
        }

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time) -> None:
        runtime = current_runtime()
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        decision = metadata.get(DECISION_KEY)
        if runtime is None or not decision:
            return
        inference_time = (end_time - start_time).total_seconds()
        total_time = time.perf_counter() - decision["routing_started"]
        await runtime.service.stats.record_inference(inference_time, total_time)
