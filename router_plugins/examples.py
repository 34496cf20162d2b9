"""Labelled data the router learns from: the YAML's utterances, the example files it names (single
queries) and labelled conversations (multi-turn)."""

from __future__ import annotations

import glob
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .config import ConfigError, RoutingConfig
from .core.follow_ups import FollowUp
from .core.training import Example
from .core.types import Modality, SessionContext

T = TypeVar("T")


def _read_jsonl(path: Path, parse: Callable[[dict], T]) -> list[T]:
    """One `parse(row)` per non-blank line; any malformed row is an error naming the file and line."""
    parsed = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parsed.append(parse(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: {exc}") from exc
    return parsed


def _known(use_case: str, use_cases: set[str]) -> str:
    if use_case not in use_cases:
        raise ValueError(f"unknown use case {use_case!r}")
    return use_case


def read_examples_file(path: Path, use_cases: set[str]) -> list[Example]:
    """JSONL rows `{"query", "use_case", "language", "modality"}`."""
    return _read_jsonl(
        path,
        lambda row: Example(
            query=str(row["query"]),
            use_case=_known(row["use_case"], use_cases),
            modality=Modality(row.get("modality") or "text"),
            language=str(row.get("language", "")),
        ),
    )


@dataclass(frozen=True, slots=True)
class LabelledTurn:
    query: str
    use_case: str
    modality: Modality
    context_change: bool


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    language: str
    turns: tuple[LabelledTurn, ...]


def read_conversations(path: Path, use_cases: set[str]) -> list[Conversation]:
    """JSONL rows `{"id", "language", "turns": [{"query", "use_case", "modality", "context_change"}]}`."""

    def conversation(row: dict) -> Conversation:
        turns = tuple(
            LabelledTurn(
                query=str(turn["query"]),
                use_case=_known(turn["use_case"], use_cases),
                modality=Modality(turn.get("modality") or "text"),
                context_change=bool(turn["context_change"]),
            )
            for turn in row["turns"]
        )
        return Conversation(str(row["id"]), str(row.get("language", "")), turns)

    return _read_jsonl(path, conversation)


def load_examples(config: RoutingConfig, base_dir: Path) -> list[Example]:
    examples = [
        Example(query=utterance, use_case=name)
        for name, spec in config.use_cases.items()
        for utterance in spec.utterances
    ]
    for path in _matching(config.classifier.examples, base_dir, "routing.classifier.examples"):
        examples.extend(read_examples_file(path, set(config.use_cases)))
    return examples


def load_follow_ups(config: RoutingConfig, base_dir: Path) -> list[FollowUp]:
    """Every follow-up turn of the conversations `session.conversations` names, with the session it
    arrived in (the labelled use cases before it)."""
    follow_ups = []
    for path in _matching(config.session.conversations, base_dir, "routing.session.conversations"):
        follow_ups.extend(follow_ups_of(read_conversations(path, set(config.use_cases))))
    return follow_ups


def follow_ups_of(conversations: list[Conversation]) -> list[FollowUp]:
    follow_ups = []
    for conversation in conversations:
        session = SessionContext(conversation.turns[0].use_case, None, 1)
        for turn in conversation.turns[1:]:
            follow_ups.append(FollowUp(turn.query, turn.modality, session, turn.use_case))
            session = session.followed_by(turn.use_case)
    return follow_ups


def _matching(patterns: tuple[str, ...], base_dir: Path, key: str) -> list[Path]:
    paths = []
    for pattern in patterns:
        matches = sorted(Path(match) for match in glob.glob(str(base_dir / pattern)))
        if not matches:
            raise ConfigError(f"{key}: {pattern!r} matches no file under {base_dir}")
        paths.extend(matches)
    return paths
