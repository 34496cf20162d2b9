"""Session routing on labelled conversations: each conversation is replayed turn by turn through the
same policy, classifier and session update the router runs, the session evolving with the router's own
decisions (never the labels). Reports per-turn accuracy, the bypass rate of follow-ups that stay in
their use case, and context-change recall (a real switch re-routed to the right use case)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .core.catalog import UseCaseCatalog
from .core.classifier import UseCaseClassifier
from .core.policy import RoutingPolicy, decide_turn, next_session_state
from .examples import Conversation


@dataclass
class Tally:
    turns: int = 0
    correct: int = 0
    staying_follow_ups: int = 0
    bypassed: int = 0
    switches: int = 0
    switches_caught: int = 0

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def accuracy(self) -> float:
        return self.correct / self.turns if self.turns else 0.0

    @property
    def bypass_rate(self) -> float:
        return self.bypassed / self.staying_follow_ups if self.staying_follow_ups else 1.0

    @property
    def switch_recall(self) -> float:
        return self.switches_caught / self.switches if self.switches else 1.0


@dataclass
class SessionReport:
    mode: str
    by_language: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    bypass_decision_ms: list[float] = field(default_factory=list)

    @property
    def overall(self) -> Tally:
        total = Tally()
        for tally in self.by_language.values():
            total.add(tally)
        return total


def replay(
    conversations: Iterable[Conversation],
    classifier: UseCaseClassifier,
    policy: RoutingPolicy,
    catalog: UseCaseCatalog,
    mode: str,
) -> SessionReport:
    report = SessionReport(mode)
    for conversation in conversations:
        tally = report.by_language[conversation.language]
        session = None
        for turn in conversation.turns:
            started = time.perf_counter()
            decision = decide_turn(classifier, turn.query, turn.modality, session, policy, catalog)
            if decision.bypass:
                report.bypass_decision_ms.append((time.perf_counter() - started) * 1000)
            right = decision.use_case == turn.use_case
            tally.turns += 1
            tally.correct += right
            if session is not None and not turn.context_change:
                tally.staying_follow_ups += 1
                tally.bypassed += decision.bypass
            if turn.context_change:
                tally.switches += 1
                tally.switches_caught += (not decision.bypass) and right
            session = next_session_state(session, conversation.id, decision, turn.modality, None, 0.0)
    return report


def format_session_reports(reports: Sequence[SessionReport]) -> str:
    languages = sorted({language for report in reports for language in report.by_language})
    lines = []
    for report in reports:
        overall = report.overall
        lines.append(
            f"== ROUTING_MODE={report.mode}: per-turn accuracy {overall.accuracy:.1%} over {overall.turns} turns, "
            f"bypass {overall.bypass_rate:.1%} of {overall.staying_follow_ups} staying follow-ups, "
            f"context-change recall {overall.switch_recall:.1%} of {overall.switches}"
        )
        lines.append(f"{'language':10s}{'accuracy':>10s}{'bypass':>10s}{'recall':>10s}")
        for language in languages:
            tally = report.by_language[language]
            lines.append(
                f"{language:10s}{tally.accuracy:>10.1%}{tally.bypass_rate:>10.1%}{tally.switch_recall:>10.1%}"
            )
        if report.bypass_decision_ms:
            p50, p99 = np.percentile(report.bypass_decision_ms, [50, 99])
            lines.append(f"bypass decision (drift check, in process): p50 {p50:.3f} ms, p99 {p99:.3f} ms")
        lines.append("")
    return "\n".join(lines)


def session_shortfalls(report: SessionReport, accuracy: float, bypass: float, recall: float) -> list[str]:
    overall = report.overall
    problems = []
    for name, value, floor in (
        ("per-turn accuracy", overall.accuracy, accuracy),
        ("bypass rate", overall.bypass_rate, bypass),
        ("context-change recall", overall.switch_recall, recall),
    ):
        if value < floor:
            problems.append(f"{report.mode}: {name} {value:.1%} < {floor:.1%}")
    return problems
