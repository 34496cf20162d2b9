"""Reading a follow-up against its session.

A classifier of standalone requests reads "और छोटा करो" or "which quarter was the worst" as a text
request (`agent`), though in a video or chart session they continue the same task; and it cannot tell
"write a LinkedIn post from it" (a new task) from "shorter, and in English" (a follow-up). The follow-up
head (`classifier.FollowUpHead`) is fitted on labelled conversations: it reads the turn's n-grams and
length, the standalone classifier's n-gram scores, the session's current and previous use cases (and
their interaction with the scores) and how many turns it has spent on the current one, and gives the
turn's use case. It reuses the features the n-gram head already computed, so reading a follow-up
costs a fraction of a millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .types import MODALITIES, Modality, SessionContext

_SCORE_SCALE = 5.0  # log-probabilities span about [-9, 0]: brought near the n-grams' scale
# Turns on the current use case, one-hot in 1, 2, 3, 4 and more: right after a switch (or at the start)
# a session moves again more often ("now one for Priya too" after a single voice message) than deep
# into a task.
_TENURE_BUCKETS = 4


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One labelled follow-up turn, with the session it arrived in (training data)."""

    text: str
    modality: Modality
    session: SessionContext  # the session before this turn
    use_case: str  # the label


def context_width(use_cases: Sequence[str]) -> int:
    n = len(use_cases)
    return 3 * n + n * n + len(MODALITIES) + _TENURE_BUCKETS + 1


def follow_up_features(
    ngrams: tuple[np.ndarray, np.ndarray],
    ngram_width: int,
    scores: np.ndarray,
    use_cases: Sequence[str],
    session: SessionContext,
    modality: Modality | None,
    text: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The turn's n-gram features, then a dense block describing the turn in its session."""
    n = len(use_cases)
    context = np.zeros(context_width(use_cases))
    at = use_cases.index(session.current)
    context[at] = 1.0
    if session.previous is not None and session.previous in use_cases:
        context[n + use_cases.index(session.previous)] = 1.0
    log_scores = np.log(np.asarray(scores) + 1e-4) / _SCORE_SCALE
    context[2 * n : 3 * n] = log_scores
    # What the scores mean depends on where the session is: "shorter" reads as text in a video session.
    context[3 * n + at * n : 3 * n + (at + 1) * n] = log_scores
    context[3 * n + n * n + MODALITIES.index(modality or Modality.TEXT)] = 1.0
    tenure = min(max(session.turns_on_current, 1), _TENURE_BUCKETS) - 1
    context[3 * n + n * n + len(MODALITIES) + tenure] = 1.0
    context[-1] = np.log1p(len(text.split()))
    columns, values = ngrams
    return (
        np.concatenate([columns, ngram_width + np.arange(len(context))]),
        np.concatenate([values, context]),
    )
