"""Routing policies: when a turn may skip classification, and the decision for a turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .catalog import UseCaseCatalog
from .types import Classification, Decision, Modality, RoutingMode, SessionState


class NoModelForUseCase(LookupError):
    def __init__(self, use_case: str) -> None:
        super().__init__(f"no model serves use case {use_case!r}")
        self.use_case = use_case


class BypassPolicy(Protocol):
    def should_bypass(self, session: SessionState | None, modality: Modality | None) -> bool: ...


class RealtimeBypass:
    """A follow-up stays on the session's model unless it attaches a different kind of media.
    A plain-text follow-up in an image or audio session relies on the session: it attaches nothing new."""

    def should_bypass(self, session: SessionState | None, modality: Modality | None) -> bool:
        if session is None:
            return False
        return modality in (None, Modality.TEXT) or modality is session.modality


class NeverBypass:
    def should_bypass(self, session: SessionState | None, modality: Modality | None) -> bool:
        return False


def policy_for(mode: RoutingMode) -> BypassPolicy:
    return RealtimeBypass() if mode is RoutingMode.REALTIME else NeverBypass()


def decide(
    session: SessionState | None,
    modality: Modality | None,
    policy: BypassPolicy,
    classify: Callable[[], Classification],
    catalog: UseCaseCatalog,
) -> Decision:
    if policy.should_bypass(session, modality):
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
    classification = classify()
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
