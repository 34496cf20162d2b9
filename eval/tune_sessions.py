"""Fits routing.session on the development conversations only (never eval/conversations_holdout.jsonl),
by cross-validation across the dev files (eval/conversations_dev*.jsonl, written separately): the
follow-up head is fitted on all files but one and the settings are scored on that one, each file in turn.

    .venv/bin/python eval/tune_sessions.py

Prints per-turn accuracy, bypass rate and context-change recall (realtime mode) per setting."""

from __future__ import annotations

import copy
from pathlib import Path

from router_plugins.config import load_config_file, parse_routing_config
from router_plugins.core.catalog import UseCaseCatalog
from router_plugins.core.encoders import build_encoder
from router_plugins.core.policy import StickySessions
from router_plugins.core.training import TrainingOptions, fit_classifier, fit_follow_up_head
from router_plugins.embedding_cache import cached_embeddings
from router_plugins.examples import follow_ups_of, load_examples, read_conversations
from router_plugins.session_evaluation import Tally, replay

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    document = load_config_file(ROOT / "litellm_config.yaml")
    config = parse_routing_config(document)
    use_cases = list(config.use_cases)
    examples = load_examples(config, ROOT)
    cache_dir = Path(config.cache_dir).expanduser()
    encoder = build_encoder(config.encoder.backend, config.encoder.model, cache_dir)
    embeddings = cached_embeddings(encoder, [example.query for example in examples], cache_dir)
    catalog = UseCaseCatalog.from_deployments(document["model_list"], use_cases)
    files = sorted((ROOT / "eval").glob("conversations_dev*.jsonl"))
    conversations = {path.name: read_conversations(path, set(use_cases)) for path in files}
    options = TrainingOptions(
        regularisation=config.classifier.regularisation,
        embedding_weight=config.classifier.embedding_weight,
        cascade_threshold=config.classifier.cascade_threshold,
    )
    accepted = {name: spec.modalities for name, spec in config.use_cases.items()}
    # The standalone classifier does not depend on the conversations: fitted once, its follow-up head per fold.
    base = fit_classifier(
        examples, use_cases, accepted, config.default_use_case, config.classifier.min_confidence,
        encoder=encoder, embeddings=embeddings, options=options,
    )
    thresholds = (0.6, 0.7, 0.8, 0.9)
    regularisation = 30.0
    for switch_weight in (1.0, 2.0, 4.0, 8.0):
        totals = {threshold: Tally() for threshold in thresholds}
        for test in conversations:
            follow_ups = [turn for name, held in conversations.items() if name != test for turn in follow_ups_of(held)]
            classifier = copy.copy(base)  # the copy, like a pickle, leaves the encoder behind
            classifier.attach_encoder(encoder)
            classifier.attach_follow_up_head(fit_follow_up_head(classifier, follow_ups, regularisation, switch_weight))
            for threshold in thresholds:
                policy = StickySessions(threshold, accepted)
                totals[threshold].add(replay(conversations[test], classifier, policy, catalog, "realtime").overall)
        for threshold, total in totals.items():
            print(
                f"switch_weight={switch_weight:<4} stay_threshold={threshold}: accuracy {total.accuracy:.3f}  "
                f"bypass {total.bypass_rate:.3f}  recall {total.switch_recall:.3f}"
            )


if __name__ == "__main__":
    main()
