"""Value types shared by the routing core and the edges."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Modality(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"


MODALITIES: tuple[Modality, ...] = tuple(Modality)  # a fixed order, for feature and prior vectors


class RoutingMode(enum.StrEnum):
    REALTIME = "realtime"  # follow-ups in a live session skip classification
    STANDARD = "standard"  # every request is classified


@dataclass(frozen=True, slots=True)
class Classification:
    use_case: str
    confidence: float
    scores: Mapping[str, float]
    # True when the classifier was not confident enough and the default use case was chosen.
    used_default: bool = False


@dataclass(frozen=True, slots=True)
class SessionContext:
    """Where a session stands when a turn arrives: what the follow-up head reads besides the turn."""

    current: str  # the session's use case
    previous: str | None  # the one before its last switch
    turns_on_current: int  # turns the session has spent on `current`, the one that switched to it included

    def followed_by(self, use_case: str) -> SessionContext:
        """Where the session stands after a turn on `use_case`: the one rule for training and serving."""
        if use_case == self.current:
            return SessionContext(self.current, self.previous, self.turns_on_current + 1)
        return SessionContext(use_case, self.current, 1)


@dataclass(frozen=True, slots=True)
class SessionState:
    """What a session remembers between turns. Never holds query or answer text."""

    session_id: str
    use_case: str
    model: str
    endpoint: str
    confidence: float
    modality: Modality
    request_count: int
    created_at: float
    last_accessed: float
    user_id: str | None = None
    # The session's use cases in the order it switched to them (bounded): never any text.
    history: tuple[str, ...] = ()
    turns_on_use_case: int = 1  # turns since the last switch (or the first turn), that turn included

    @property
    def previous_use_case(self) -> str | None:
        """The use case before the latest switch: where the end of an excursion returns."""
        return self.history[-2] if len(self.history) >= 2 else None

    @property
    def context(self) -> SessionContext:
        return SessionContext(self.use_case, self.previous_use_case, self.turns_on_use_case)

    def visible_to(self, user_id: str | None) -> bool:
        """A session created with a user_id belongs to that user; to anyone else it does not exist."""
        return self.user_id is None or self.user_id == user_id


@dataclass(frozen=True, slots=True)
class Decision:
    use_case: str
    model: str
    endpoint: str
    confidence: float
    bypass: bool
    context_change: bool
    classification: Classification | None
