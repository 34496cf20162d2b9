"""Routing policies: when a follow-up may stay on its session's model, and the decision for a turn.

A follow-up is judged against its session, not on its own: a standalone classifier reads "और छोटा करो"
or "which quarter was the worst" as a text request (`agent`), though in a video or chart session they
continue the same task. So a turn stays on its session's use case unless
- it attaches media that use case cannot take, or a different kind of media;
- it reads as a request that stands on its own rather than a follow-up (a head fitted on labelled
  conversations: "write a LinkedIn post from it" stands alone, "shorter, and in English" leans on the
  conversation);
- or the n-gram head is sure of another use case: surer when that is the default use case (where short
  follow-ups land when read alone), less sure when it is the use case the session had before its last
  switch (the end of an excursion: a screenshot inside a coding chat).
All three come from one pass over the turn's n-grams (a fraction of a millisecond). A turn that does not
stay is classified in full, with the session as a prior over use cases: its current and previous use
cases weigh more, so a question about the attached chart stays a chart question.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from .catalog import UseCaseCatalog
from .types import Classification, Decision, Modality, RoutingMode, SessionState, TurnReading

HISTORY_LENGTH = 20  # use-case switches a session remembers


class NoModelForUseCase(LookupError):
    def __init__(self, use_case: str) -> None:
        super().__init__(f"no model serves use case {use_case!r}")
        self.use_case = use_case


@dataclass(frozen=True, slots=True)
class Stickiness:
    # A turn that reads as a request on its own (not a follow-up) at least this surely is classified.
    standalone_threshold: float = 0.7
    # How sure the n-gram head (with the modality hint) must be of another use case to leave a session's.
    switch_confidence: float = 0.9
    switch_to_default_confidence: float = 0.99
    return_confidence: float = 0.7
    # The prior over use cases for a turn that is classified (weights; every other use case weighs 1).
    current_weight: float = 3.0
    previous_weight: float = 10.0
    default_weight: float = 1.0

    def needed_to_switch(self, session: SessionState, rival: str, default_use_case: str) -> float:
        if rival == session.previous_use_case:
            return self.return_confidence
        if rival == default_use_case:
            return self.switch_to_default_confidence
        return self.switch_confidence

    def prior(self, session: SessionState, default_use_case: str) -> dict[str, float]:
        weights = {default_use_case: self.default_weight}
        if session.previous_use_case is not None:
            weights[session.previous_use_case] = self.previous_weight
        weights[session.use_case] = self.current_weight
        return weights


class RoutingPolicy(Protocol):
    def prior(self, session: SessionState | None) -> Mapping[str, float] | None:
        """Weights over use cases that classifying this session's turns starts from."""
        ...

    def stays(self, session: SessionState | None, modality: Modality | None, read: Callable[[], TurnReading]) -> bool:
        """True when the turn goes to the session's model without full classification."""
        ...


class StickySessions:
    """ROUTING_MODE=realtime."""

    def __init__(
        self, stickiness: Stickiness, accepted_media: Mapping[str, Sequence[Modality]], default_use_case: str
    ) -> None:
        self._stickiness = stickiness
        self._accepted = {use_case: frozenset(media) for use_case, media in accepted_media.items()}
        self._default = default_use_case

    def prior(self, session: SessionState | None) -> Mapping[str, float] | None:
        return None if session is None else self._stickiness.prior(session, self._default)

    def stays(self, session: SessionState | None, modality: Modality | None, read: Callable[[], TurnReading]) -> bool:
        if session is None:
            return False
        if modality not in (None, Modality.TEXT):
            if modality not in self._accepted.get(session.use_case, ()) or modality is not session.modality:
                return False
        reading = read()
        if reading.standalone >= self._stickiness.standalone_threshold:
            return False
        scores = reading.scores
        rival = max((use_case for use_case in scores if use_case != session.use_case), key=scores.__getitem__)
        return scores[rival] < self._stickiness.needed_to_switch(session, rival, self._default)


class ClassifyEveryTurn:
    """ROUTING_MODE=standard: no bypass, and every turn is read on its own."""

    def prior(self, session: SessionState | None) -> Mapping[str, float] | None:
        return None

    def stays(self, session: SessionState | None, modality: Modality | None, read: Callable[[], TurnReading]) -> bool:
        return False


def policy_for(
    mode: RoutingMode,
    stickiness: Stickiness,
    accepted_media: Mapping[str, Sequence[Modality]],
    default_use_case: str,
) -> RoutingPolicy:
    if mode is RoutingMode.REALTIME:
        return StickySessions(stickiness, accepted_media, default_use_case)
    return ClassifyEveryTurn()


def decide(
    session: SessionState | None,
    modality: Modality | None,
    policy: RoutingPolicy,
    read: Callable[[], TurnReading],
    classify: Callable[[Mapping[str, float] | None], Classification],
    catalog: UseCaseCatalog,
) -> Decision:
    """`read()` and `classify(prior)` read this turn's text with its modality hint."""
    if policy.stays(session, modality, read):
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
    classification = classify(policy.prior(session))
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
    )
