"""Labelled examples for the classifier: the YAML's utterances plus the example files it names."""

from __future__ import annotations

import glob
import json
from pathlib import Path

from .config import ConfigError, RoutingConfig
from .core.training import Example
from .core.types import Modality


def read_examples_file(path: Path, use_cases: set[str]) -> list[Example]:
    """JSONL rows `{"query", "use_case", "language", "modality"}`; errors name the file and line."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if row["use_case"] not in use_cases:
                raise ValueError(f"unknown use case {row['use_case']!r}")
            examples.append(
                Example(
                    query=str(row["query"]),
                    use_case=row["use_case"],
                    modality=Modality(row.get("modality") or "text"),
                    language=str(row.get("language", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: {exc}") from exc
    return examples


def load_examples(config: RoutingConfig, base_dir: Path) -> list[Example]:
    examples = [
        Example(query=utterance, use_case=name)
        for name, spec in config.use_cases.items()
        for utterance in spec.utterances
    ]
    for pattern in config.classifier.examples:
        paths = sorted(Path(match) for match in glob.glob(str(base_dir / pattern)))
        if not paths:
            raise ConfigError(f"routing.classifier.examples: {pattern!r} matches no file under {base_dir}")
        for path in paths:
            examples.extend(read_examples_file(path, set(config.use_cases)))
    return examples
