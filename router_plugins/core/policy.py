"""Routing policies: whether a follow-up stays on its session's model, and the decision for a turn.

In realtime mode a follow-up is judged against its session, never on its own (`follow_ups.py`): the
follow-up head gives the turn's use case from its text and the session's current and previous use cases,
in one pass over the turn's n-grams. The turn stays on the session's model (no classification) when that
head gives the session's use case at least `stay_threshold` of its probability and the turn attaches no
media the use case cannot take. Otherwise the turn is classified in full, with the head's view of the
other use cases as the prior: the standalone classifier and the session's context vote together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from .catalog import UseCaseCatalog
from .types import Classification, Decision, Modality, RoutingMode, SessionState

if TYPE_CHECKING:
    from .classifier import UseCaseClassifier

HISTORY_LENGTH = 20  # use-case switches a session remembers

# Reads a turn in a session: P(use case) from the follow-up head, or None when there is none.
FollowUpReader = Callable[[SessionState], Mapping[str, float] | None]


class NoModelForUseCase(LookupError):
    def __init__(self, use_case: str) -> None:
        super().__init__(f"no model serves use case {use_case!r}")
        self.use_case = use_case


@dataclass(frozen=True, slots=True)
class Review:
    """A policy's verdict on a turn: stay on the session's model, or classify under `prior`."""

    stays: bool
    prior: Mapping[str, float] | None = None


class RoutingPolicy(Protocol):
    def review(self, session: SessionState | None, modality: Modality | None, read: FollowUpReader) -> Review: ...


class StickySessions:
    """ROUTING_MODE=realtime."""

    def __init__(self, stay_threshold: float, accepted_media: Mapping[str, Sequence[Modality]]) -> None:
        self._stay_threshold = stay_threshold
        self._accepted = {use_case: frozenset(media) for use_case, media in accepted_media.items()}

    def review(self, session: SessionState | None, modality: Modality | None, read: FollowUpReader) -> Review:
        if session is None:
            return Review(stays=False)
        attached = modality not in (None, Modality.TEXT)
        if attached and modality not in self._accepted.get(session.use_case, ()):
            return Review(stays=False)
        probabilities = read(session)
        if probabilities is None:
            # No follow-up head (no labelled conversations configured): a follow-up stays unless it
            # attaches a new kind of media.
            return Review(stays=not attached or modality is session.modality)
        if attached:
            probabilities = {
                use_case: p if modality in self._accepted.get(use_case, ()) else 0.0
                for use_case, p in probabilities.items()
            }
        total = sum(probabilities.values())
        if total > 0 and probabilities.get(session.use_case, 0.0) >= self._stay_threshold * total:
            return Review(stays=True)
        # The turn leaves: the head's view of where it goes weighs the full classification.
        others = {**probabilities, session.use_case: 0.0}
        return Review(stays=False, prior=others if sum(others.values()) > 0 else None)


class ClassifyEveryTurn:
    """ROUTING_MODE=standard: no bypass, and every turn is read on its own."""

    def review(self, session: SessionState | None, modality: Modality | None, read: FollowUpReader) -> Review:
        return Review(stays=False)


def policy_for(
    mode: RoutingMode, stay_threshold: float, accepted_media: Mapping[str, Sequence[Modality]]
) -> RoutingPolicy:
    if mode is RoutingMode.REALTIME:
        return StickySessions(stay_threshold, accepted_media)
    return ClassifyEveryTurn()


def decide(
    session: SessionState | None,
    modality: Modality | None,
    policy: RoutingPolicy,
    read: FollowUpReader,
    classify: Callable[[Mapping[str, float] | None], Classification],
    catalog: UseCaseCatalog,
) -> Decision:
    """`read(session)` and `classify(prior)` read this turn's text with its modality hint."""
    review = policy.review(session, modality, read)
    if review.stays:
        assert session is not None
        route = catalog.route_for(session.use_case)
        if route is not None:
            return Decision(
                use_case=session.use_case,
                model=route.model,
                endpoint=route.endpoint,
                confidence=session.confidence,
                bypass=True,
                context_change=False,
                classification=None,
            )
    classification = classify(review.prior)
    route = catalog.route_for(classification.use_case)
    if route is None:
        raise NoModelForUseCase(classification.use_case)
    return Decision(
        use_case=classification.use_case,
        model=route.model,
        endpoint=route.endpoint,
        confidence=classification.confidence,
        bypass=False,
        context_change=session is not None and session.use_case != classification.use_case,
        classification=classification,
    )


def decide_turn(
    classifier: UseCaseClassifier,
    text: str,
    modality: Modality | None,
    session: SessionState | None,
    policy: RoutingPolicy,
    catalog: UseCaseCatalog,
) -> Decision:
    """`decide` with the classifier reading the turn: the follow-up head in a session, in full otherwise."""
    return decide(
        session,
        modality,
        policy,
        lambda state: classifier.read_follow_up(text, modality, state.context),
        lambda prior: classifier.classify(text, modality, prior),
        catalog,
    )


def next_session_state(
    session: SessionState | None,
    session_id: str,
    decision: Decision,
    modality: Modality | None,
    user_id: str | None,
    now: float,
) -> SessionState:
    """The session after this turn: its use case, the last media it received, and its switch history."""
    attached = modality not in (None, Modality.TEXT)
    if session is None:
        return SessionState(
            session_id=session_id,
            use_case=decision.use_case,
            model=decision.model,
            endpoint=decision.endpoint,
            confidence=decision.confidence,
            modality=modality if attached else Modality.TEXT,
            request_count=0,
            created_at=now,
            last_accessed=now,
            user_id=user_id,
            history=(decision.use_case,),
            turns_on_use_case=1,
        )
    history = session.history
    if decision.use_case != session.use_case:
        history = (*history, decision.use_case)[-HISTORY_LENGTH:]
    return replace(
        session,
        use_case=decision.use_case,
        model=decision.model,
        endpoint=decision.endpoint,
        confidence=decision.confidence,
        modality=modality if attached else session.modality,
        last_accessed=now,
        history=history,
        turns_on_use_case=session.context.followed_by(decision.use_case).turns_on_current,
    )
