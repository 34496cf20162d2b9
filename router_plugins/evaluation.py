"""Accuracy of the classifier on a labelled JSONL file: overall, per language, per use case,
the confusion matrix and decision latency, with and without the modality hint."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .core.classifier import UseCaseClassifier
from .core.training import Example


@dataclass
class Report:
    hint: bool
    total: int = 0
    correct: int = 0
    by_language: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_use_case: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def language_accuracy(self) -> dict[str, float]:
        return {key: right / seen for key, (right, seen) in sorted(self.by_language.items())}

    def use_case_accuracy(self) -> dict[str, float]:
        return {key: right / seen for key, (right, seen) in sorted(self.by_use_case.items())}

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else 0.0


def evaluate(classifier: UseCaseClassifier, examples: Sequence[Example], hint: bool) -> Report:
    report = Report(hint=hint)
    for example in examples:
        started = time.perf_counter()
        predicted = classifier.classify(example.query, example.modality if hint else None).use_case
        report.latencies_ms.append((time.perf_counter() - started) * 1000)
        right = int(predicted == example.use_case)
        report.total += 1
        report.correct += right
        for bucket, key in ((report.by_language, example.language), (report.by_use_case, example.use_case)):
            bucket[key][0] += right
            bucket[key][1] += 1
        report.confusion[(example.use_case, predicted)] += 1
    return report


def format_report(report: Report, use_cases: Sequence[str]) -> str:
    title = "with the modality hint" if report.hint else "text only (no hint)"
    lines = [f"== {title}: accuracy {report.accuracy:.1%} on {report.total} queries"]
    lines.append("per language:  " + "  ".join(f"{k} {v:.1%}" for k, v in report.language_accuracy().items()))
    lines.append("per use case:  " + "  ".join(f"{k} {v:.1%}" for k, v in report.use_case_accuracy().items()))
    width = max(len(name) for name in use_cases) + 2
    lines.append("confusion (rows: expected, columns: predicted)")
    lines.append(" " * width + "".join(name[:9].rjust(10) for name in use_cases))
    for expected in use_cases:
        lines.append(expected.ljust(width) + "".join(str(report.confusion[(expected, p)]).rjust(10) for p in use_cases))
    lines.append(
        f"latency per decision: p50 {report.percentile_ms(50):.2f} ms, p90 {report.percentile_ms(90):.2f} ms, "
        f"p99 {report.percentile_ms(99):.2f} ms"
    )
    return "\n".join(lines)


def shortfalls(report: Report, overall: float, per_language: float, per_use_case: float) -> list[str]:
    """Every floor the report misses, as a readable line."""
    label = "hint" if report.hint else "no hint"
    problems = []
    if report.accuracy < overall:
        problems.append(f"{label}: overall {report.accuracy:.1%} < {overall:.1%}")
    problems += [
        f"{label}: language {k} {v:.1%} < {per_language:.1%}" for k, v in report.language_accuracy().items() if v < per_language
    ]
    problems += [
        f"{label}: use case {k} {v:.1%} < {per_use_case:.1%}" for k, v in report.use_case_accuracy().items() if v < per_use_case
    ]
    return problems
