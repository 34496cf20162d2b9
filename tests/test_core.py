"""The pure routing core: bypass policy, decisions and the use-case catalog."""

from __future__ import annotations

import pytest

from router_plugins.core.catalog import UseCaseCatalog
from router_plugins.core.policy import NoModelForUseCase, decide, policy_for
from router_plugins.core.types import Classification, Modality, RoutingMode, SessionState

DEPLOYMENTS = [
    {"model_name": "text-model", "litellm_params": {"api_base": "http://a/v1"}, "model_info": {"use_cases": ["agent"]}},
    {
        "model_name": "vision-model",
        "litellm_params": {"api_base": "http://b/v1"},
        "model_info": {"use_cases": ["multimodal", "video", "unknown-one"]},
    },
    {"model_name": "plain-model", "litellm_params": {}, "model_info": {}},
]
CATALOG = UseCaseCatalog.from_deployments(DEPLOYMENTS, ["agent", "multimodal", "video", "tts"])


def session(use_case: str = "agent", modality: Modality = Modality.TEXT) -> SessionState:
    return SessionState("s1", use_case, "text-model", "http://a/v1", 0.9, modality, 3, 0.0, 0.0)


def classifier_returning(use_case: str):
    calls = []

    def classify() -> Classification:
        calls.append(use_case)
        return Classification(use_case, 0.8, {use_case: 0.8})

    return classify, calls


def test_catalog_maps_use_cases_to_model_groups_and_ignores_unknown_ones() -> None:
    assert CATALOG.route_for("agent").model == "text-model"
    assert CATALOG.route_for("video").endpoint == "http://b/v1"
    assert CATALOG.route_for("unknown-one") is None
    assert CATALOG.route_for("tts") is None


def test_first_turn_is_classified() -> None:
    classify, calls = classifier_returning("multimodal")
    decision = decide(None, Modality.IMAGE, policy_for(RoutingMode.REALTIME), classify, CATALOG)
    assert calls == ["multimodal"]
    assert (decision.use_case, decision.model, decision.bypass, decision.context_change) == (
        "multimodal", "vision-model", False, False,
    )


@pytest.mark.parametrize("modality", [Modality.TEXT, Modality.IMAGE])
def test_realtime_follow_up_bypasses_the_classifier(modality: Modality) -> None:
    classify, calls = classifier_returning("video")
    decision = decide(session("multimodal", Modality.IMAGE), modality, policy_for(RoutingMode.REALTIME), classify, CATALOG)
    assert calls == []
    assert decision.bypass and decision.use_case == "multimodal" and decision.confidence == 0.9


def test_new_media_kind_re_routes_and_counts_a_context_change() -> None:
    classify, calls = classifier_returning("video")
    decision = decide(session("agent"), Modality.VIDEO, policy_for(RoutingMode.REALTIME), classify, CATALOG)
    assert calls == ["video"]
    assert not decision.bypass and decision.context_change and decision.model == "vision-model"


def test_standard_mode_classifies_every_turn() -> None:
    classify, calls = classifier_returning("agent")
    decision = decide(session("agent"), Modality.TEXT, policy_for(RoutingMode.STANDARD), classify, CATALOG)
    assert calls == ["agent"] and not decision.bypass and not decision.context_change


def test_use_case_without_a_model_is_an_error() -> None:
    classify, _ = classifier_returning("tts")
    with pytest.raises(NoModelForUseCase, match="tts"):
        decide(None, Modality.TEXT, policy_for(RoutingMode.REALTIME), classify, CATALOG)


def test_bypass_falls_back_to_classification_when_the_sessions_model_is_gone() -> None:
    classify, calls = classifier_returning("agent")
    decision = decide(session("tts"), Modality.TEXT, policy_for(RoutingMode.REALTIME), classify, CATALOG)
    assert calls == ["agent"] and decision.use_case == "agent" and decision.context_change
