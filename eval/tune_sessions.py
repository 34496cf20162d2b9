"""Fits the session prior's weights (routing.session) on eval/conversations_dev.jsonl only: never on
eval/conversations_holdout.jsonl.

    .venv/bin/python eval/tune_sessions.py

Prints per-turn accuracy, bypass rate and context-change recall in realtime mode for each setting,
best first."""

from __future__ import annotations

import itertools
from pathlib import Path

from router_plugins.config import load_config_file, parse_routing_config
from router_plugins.core.catalog import UseCaseCatalog
from router_plugins.core.policy import StickySessions, Stickiness
from router_plugins.runtime import build_classifier
from router_plugins.session_evaluation import read_conversations, replay

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    document = load_config_file(ROOT / "litellm_config.yaml")
    config = parse_routing_config(document)
    classifier = build_classifier(config, ROOT)
    catalog = UseCaseCatalog.from_deployments(document["model_list"], config.use_cases)
    conversations = read_conversations(ROOT / "eval" / "conversations_dev.jsonl", set(config.use_cases))
    accepted = {name: spec.modalities for name, spec in config.use_cases.items()}
    results = []
    grid = itertools.product(
        (0.8, 0.85, 0.9), (0.97, 0.99), (0.5, 0.6, 0.7), (1.0, 3.0, 10.0), (1.0, 3.0), (0.3, 1.0)
    )
    for setting in grid:
        stickiness = Stickiness(*setting)
        policy = StickySessions(stickiness, accepted, config.default_use_case)
        overall = replay(conversations, classifier, policy, catalog, "realtime").overall
        # The three goals weigh alike: the worst of accuracy, bypass and recall, measured against each goal.
        margin = min(overall.accuracy - 0.97, overall.bypass_rate - 0.85, overall.switch_recall - 0.95)
        results.append((margin, stickiness, overall))
    for margin, stickiness, overall in sorted(results, key=lambda row: -row[0])[:15]:
        print(
            f"{stickiness}\n    accuracy {overall.accuracy:.3f}  bypass {overall.bypass_rate:.3f}  "
            f"recall {overall.switch_recall:.3f}  (worst margin {margin:+.3f})"
        )


if __name__ == "__main__":
    main()
