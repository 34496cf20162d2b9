"""The pure routing core: bypass policy, decisions and the use-case catalog."""

from __future__ import annotations

import pytest

from router_plugins.core.catalog import UseCaseCatalog
from router_plugins.core.direction import SPEECH_TO_TEXT, TEXT_TO_SPEECH, direction_marker
from router_plugins.core.passages import instruction
from router_plugins.core.policy import NoModelForUseCase, decide, next_session_state, policy_for
from router_plugins.core.types import Classification, Modality, RoutingMode, SessionContext, SessionState

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
REALTIME = policy_for(RoutingMode.REALTIME, 0.7, ACCEPTED)
STANDARD = policy_for(RoutingMode.STANDARD, 0.7, ACCEPTED)


def session(use_case: str = "agent", modality: Modality = Modality.TEXT, history: tuple[str, ...] = ()) -> SessionState:
    return SessionState(
        "s1", use_case, "text-model", "http://a/v1", 0.9, modality, 3, 0.0, 0.0, history=history or (use_case,)
    )


def classifier_returning(use_case: str):
    calls = []

    def classify(prior) -> Classification:
        calls.append((use_case, prior))
        return Classification(use_case, 0.8, {use_case: 0.8})

    return classify, calls


def quick(**probabilities: float):
    """The follow-up head's read of a turn: the named use cases' probabilities, the rest zero."""
    return lambda session: {name: probabilities.get(name, 0.0) for name in ACCEPTED}


def no_head(session: SessionState) -> None:
    return None


def test_catalog_maps_use_cases_to_model_groups_and_ignores_unknown_ones() -> None:
    assert CATALOG.route_for("agent").model == "text-model"
    assert CATALOG.route_for("video").endpoint == "http://b/v1"
    assert CATALOG.route_for("unknown-one") is None
    assert CATALOG.route_for("tts") is None


def test_first_turn_is_classified() -> None:
    classify, calls = classifier_returning("multimodal")
    decision = decide(None, Modality.IMAGE, REALTIME, quick(multimodal=1.0), classify, CATALOG)
    assert calls == [("multimodal", None)]
    assert (decision.use_case, decision.model, decision.bypass, decision.context_change) == (
        "multimodal", "vision-model", False, False,
    )


@pytest.mark.parametrize("modality", [Modality.TEXT, Modality.IMAGE])
def test_follow_up_stays_when_the_head_keeps_the_sessions_use_case(modality: Modality) -> None:
    classify, calls = classifier_returning("video")
    decision = decide(
        session("multimodal", Modality.IMAGE), modality, REALTIME, quick(multimodal=0.75, agent=0.25), classify, CATALOG
    )
    assert calls == []
    assert decision.bypass and decision.use_case == "multimodal" and decision.confidence == 0.9


def test_a_follow_up_that_leaves_is_classified_under_the_heads_view() -> None:
    classify, calls = classifier_returning("video")
    decision = decide(
        session("multimodal", Modality.IMAGE), Modality.TEXT, REALTIME, quick(multimodal=0.4, video=0.6), classify, CATALOG
    )
    assert decision.context_change and not decision.bypass and decision.use_case == "video"
    # The session's own use case is out of the prior: the head said the turn leaves it.
    assert calls == [("video", {"agent": 0.0, "multimodal": 0.0, "video": 0.6, "tts": 0.0})]


@pytest.mark.parametrize("modality", [Modality.VIDEO, Modality.IMAGE])
def test_media_the_session_cannot_take_re_routes(modality: Modality) -> None:
    classify, calls = classifier_returning("multimodal")
    decision = decide(session("agent"), modality, REALTIME, quick(agent=1.0), classify, CATALOG)
    assert calls == [("multimodal", None)] and not decision.bypass


def test_media_is_masked_from_use_cases_that_cannot_take_it() -> None:
    classify, calls = classifier_returning("video")
    # Video attached in a chart session: the head leans to agent, which cannot take video.
    decision = decide(
        session("multimodal", Modality.IMAGE), Modality.VIDEO, REALTIME, quick(agent=0.9, video=0.1), classify, CATALOG
    )
    assert calls == [("video", {"agent": 0.0, "multimodal": 0.0, "video": 0.1, "tts": 0.0})]
    assert decision.use_case == "video"


def test_without_a_follow_up_head_only_new_media_re_routes() -> None:
    classify, calls = classifier_returning("video")
    assert decide(session("multimodal", Modality.IMAGE), Modality.TEXT, REALTIME, no_head, classify, CATALOG).bypass
    assert not decide(session("multimodal", Modality.IMAGE), Modality.VIDEO, REALTIME, no_head, classify, CATALOG).bypass


def test_standard_mode_classifies_every_turn() -> None:
    classify, calls = classifier_returning("agent")
    decision = decide(session("agent"), Modality.TEXT, STANDARD, quick(agent=1.0), classify, CATALOG)
    assert calls == [("agent", None)] and not decision.bypass and not decision.context_change


def test_use_case_without_a_model_is_an_error() -> None:
    classify, _ = classifier_returning("tts")
    with pytest.raises(NoModelForUseCase, match="tts"):
        decide(None, Modality.TEXT, REALTIME, quick(tts=1.0), classify, CATALOG)


def test_bypass_falls_back_to_classification_when_the_sessions_model_is_gone() -> None:
    classify, calls = classifier_returning("agent")
    decision = decide(session("tts"), Modality.TEXT, REALTIME, quick(tts=1.0), classify, CATALOG)
    assert calls and decision.use_case == "agent" and decision.context_change


def test_session_history_records_switches_and_keeps_the_last_media() -> None:
    first = decide(None, Modality.IMAGE, REALTIME, quick(), classifier_returning("multimodal")[0], CATALOG)
    state = next_session_state(None, "s1", first, Modality.IMAGE, "u1", 1.0)
    assert (state.history, state.modality, state.user_id) == (("multimodal",), Modality.IMAGE, "u1")
    follow_up = decide(state, Modality.TEXT, REALTIME, quick(multimodal=1.0), classifier_returning("agent")[0], CATALOG)
    state = next_session_state(state, "s1", follow_up, Modality.TEXT, None, 2.0)
    assert (state.history, state.modality, state.last_accessed) == (("multimodal",), Modality.IMAGE, 2.0)
    assert state.context == SessionContext("multimodal", None, 2)
    switch = decide(state, Modality.VIDEO, REALTIME, quick(video=1.0), classifier_returning("video")[0], CATALOG)
    state = next_session_state(state, "s1", switch, Modality.VIDEO, None, 3.0)
    assert (state.history, state.previous_use_case, state.use_case) == (("multimodal", "video"), "multimodal", "video")
    # The follow-up head reads the switch as the start of the session's time on its new use case.
    assert state.context == SessionContext("video", "multimodal", 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("narrate this for my youtube intro: 'Hey guys, welcome back to Budget Bites'", "narrate this for my youtube intro:"),
        ('ये शायरी सुना दो: "मंज़िल उन्हीं को मिलती है" प्यार से', "ये शायरी सुना दो: प्यार से"),
        ("make this face say “welcome to the tour” with a smile", "make this face say with a smile"),
        ("ही गोष्ट मोठ्याने वाच: एका गावात एक हुशार कावळा होता.", "ही गोष्ट मोठ्याने वाच"),
        # No passage: apostrophes are not quotes, and a colon before one or two words is part of the request.
        ("don't stop, it's the users' favourite", "don't stop, it's the users' favourite"),
        ("Debug this code: KeyError", "Debug this code: KeyError"),
        ("read it 'slowly'", "read it 'slowly'"),
    ],
)
def test_the_instruction_leaves_out_a_quoted_or_after_colon_passage(text: str, expected: str) -> None:
    assert " ".join(instruction(text).split()) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("convert this text to speech", TEXT_TO_SPEECH),
        ("टेक्स्ट को ऑडियो बना दो", TEXT_TO_SPEECH),
        ("kannada text voice aagi beku", TEXT_TO_SPEECH),
        ("i'll send a voice note, write it out as text", SPEECH_TO_TEXT),
        ("ಧ್ವನಿಯನ್ನು ಪಠ್ಯವಾಗಿ ಪರಿವರ್ತಿಸಿ", SPEECH_TO_TEXT),
        ("ऑडियो को टेक्स्ट में बदलो", SPEECH_TO_TEXT),
        # "of" or "from" between the two names the source second.
        ("make an mp3 of this text", TEXT_TO_SPEECH),
        ("generate subtitles from this audio", SPEECH_TO_TEXT),
        # Only one side named: no direction to read.
        ("write a poem about the sea", ""),
        ("read this aloud in a deep voice", ""),
    ],
)
def test_the_direction_marker_follows_which_side_is_named_first(text: str, expected: str) -> None:
    assert direction_marker(text) == expected
