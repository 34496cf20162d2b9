"""The pure routing core: bypass policy, decisions and the use-case catalog."""

from __future__ import annotations

import pytest

from router_plugins.core.catalog import UseCaseCatalog
from router_plugins.core.policy import NoModelForUseCase, Stickiness, decide, next_session_state, policy_for
from router_plugins.core.types import Classification, Modality, RoutingMode, SessionState, TurnReading

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


ACCEPTED = {
    "agent": (Modality.TEXT,),
    "multimodal": (Modality.TEXT, Modality.IMAGE, Modality.VIDEO),
    "video": (Modality.TEXT, Modality.VIDEO),
    "tts": (Modality.TEXT,),
}
STICKINESS = Stickiness(
    standalone_threshold=0.7, switch_confidence=0.85, switch_to_default_confidence=0.99, return_confidence=0.6
)
REALTIME = policy_for(RoutingMode.REALTIME, STICKINESS, ACCEPTED, "agent")
STANDARD = policy_for(RoutingMode.STANDARD, STICKINESS, ACCEPTED, "agent")


def session(use_case: str = "agent", modality: Modality = Modality.TEXT, history: tuple[str, ...] = ()) -> SessionState:
    return SessionState(
        "s1", use_case, "text-model", "http://a/v1", 0.9, modality, 3, 0.0, 0.0, history=history or (use_case,)
    )


def classifier_returning(use_case: str):
    calls = []

    def classify(prior) -> Classification:
        calls.append(use_case)
        return Classification(use_case, 0.8, {use_case: 0.8})

    return classify, calls


def quick(standalone: float = 0.1, **scores: float):
    """The n-gram read of a turn: the named use cases' scores (the rest zero) and how much it stands alone."""
    return lambda: TurnReading({name: scores.get(name, 0.0) for name in ACCEPTED}, standalone)


def test_catalog_maps_use_cases_to_model_groups_and_ignores_unknown_ones() -> None:
    assert CATALOG.route_for("agent").model == "text-model"
    assert CATALOG.route_for("video").endpoint == "http://b/v1"
    assert CATALOG.route_for("unknown-one") is None
    assert CATALOG.route_for("tts") is None


def test_first_turn_is_classified() -> None:
    classify, calls = classifier_returning("multimodal")
    decision = decide(None, Modality.IMAGE, REALTIME, quick(multimodal=1.0), classify, CATALOG)
    assert calls == ["multimodal"]
    assert (decision.use_case, decision.model, decision.bypass, decision.context_change) == (
        "multimodal", "vision-model", False, False,
    )


@pytest.mark.parametrize("modality", [Modality.TEXT, Modality.IMAGE])
def test_follow_up_stays_when_no_other_use_case_is_clear(modality: Modality) -> None:
    classify, calls = classifier_returning("video")
    # "which quarter was the worst": read alone it looks like a text question (the default use case).
    decision = decide(session("multimodal", Modality.IMAGE), modality, REALTIME, quick(agent=0.95), classify, CATALOG)
    assert calls == []
    assert decision.bypass and decision.use_case == "multimodal" and decision.confidence == 0.9


def test_a_clear_request_for_another_capability_re_routes() -> None:
    classify, calls = classifier_returning("video")
    decision = decide(session("multimodal", Modality.IMAGE), Modality.TEXT, REALTIME, quick(video=0.9), classify, CATALOG)
    assert calls == ["video"] and decision.context_change and not decision.bypass


def test_a_request_that_stands_on_its_own_is_classified_under_the_session_prior() -> None:
    priors = []

    def classify(prior) -> Classification:
        priors.append(prior)
        return Classification("agent", 0.9, {"agent": 0.9})

    excursion = session("multimodal", Modality.IMAGE, history=("agent", "multimodal"))
    decision = decide(excursion, Modality.TEXT, REALTIME, quick(standalone=0.95, multimodal=0.6), classify, CATALOG)
    assert decision.use_case == "agent" and decision.context_change and not decision.bypass
    assert priors == [{"agent": STICKINESS.previous_weight, "multimodal": STICKINESS.current_weight}]


def test_returning_to_the_previous_use_case_needs_less_certainty() -> None:
    classify, calls = classifier_returning("agent")
    excursion = session("multimodal", Modality.IMAGE, history=("agent", "multimodal"))
    decision = decide(excursion, Modality.TEXT, REALTIME, quick(agent=0.7), classify, CATALOG)
    assert calls == ["agent"] and decision.use_case == "agent" and decision.context_change
    decision = decide(session("multimodal", Modality.IMAGE), Modality.TEXT, REALTIME, quick(agent=0.7), classify, CATALOG)
    assert decision.bypass


@pytest.mark.parametrize("modality", [Modality.VIDEO, Modality.IMAGE])
def test_media_the_session_cannot_take_or_a_new_kind_of_media_re_routes(modality: Modality) -> None:
    classify, calls = classifier_returning("video")
    current = session("agent") if modality is Modality.VIDEO else session("multimodal", Modality.VIDEO)
    decision = decide(current, modality, REALTIME, quick(), classify, CATALOG)
    assert calls == ["video"] and not decision.bypass


def test_standard_mode_classifies_every_turn() -> None:
    classify, calls = classifier_returning("agent")
    decision = decide(session("agent"), Modality.TEXT, STANDARD, quick(agent=1.0), classify, CATALOG)
    assert calls == ["agent"] and not decision.bypass and not decision.context_change


def test_use_case_without_a_model_is_an_error() -> None:
    classify, _ = classifier_returning("tts")
    with pytest.raises(NoModelForUseCase, match="tts"):
        decide(None, Modality.TEXT, REALTIME, quick(tts=1.0), classify, CATALOG)


def test_bypass_falls_back_to_classification_when_the_sessions_model_is_gone() -> None:
    classify, calls = classifier_returning("agent")
    decision = decide(session("tts"), Modality.TEXT, REALTIME, quick(tts=1.0), classify, CATALOG)
    assert calls == ["agent"] and decision.use_case == "agent" and decision.context_change


def test_session_history_records_switches_and_keeps_the_last_media() -> None:
    first = decide(None, Modality.IMAGE, REALTIME, quick(multimodal=1.0), classifier_returning("multimodal")[0], CATALOG)
    state = next_session_state(None, "s1", first, Modality.IMAGE, "u1", 1.0)
    assert (state.history, state.modality, state.user_id) == (("multimodal",), Modality.IMAGE, "u1")
    follow_up = decide(state, Modality.TEXT, REALTIME, quick(agent=0.5), classifier_returning("agent")[0], CATALOG)
    state = next_session_state(state, "s1", follow_up, Modality.TEXT, None, 2.0)
    assert (state.history, state.modality, state.last_accessed) == (("multimodal",), Modality.IMAGE, 2.0)
    switch = decide(state, Modality.VIDEO, REALTIME, quick(), classifier_returning("video")[0], CATALOG)
    state = next_session_state(state, "s1", switch, Modality.VIDEO, None, 3.0)
    assert (state.history, state.previous_use_case, state.use_case) == (("multimodal", "video"), "multimodal", "video")
