"""Fits the classifier's free parameters by cross-validation on the training examples only
(the YAML's utterances, eval/queries_dev.jsonl, router_plugins/data/examples): never on the held-out split.

    .venv/bin/python eval/tune_classifier.py [--folds 5]

Prints, for each setting (C, embedding weight) and cascade threshold, accuracy with the modality hint
and without, and the share of queries the n-gram head settles alone."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from router_plugins.config import load_config_file, parse_routing_config
from router_plugins.core.encoders import build_encoder
from router_plugins.core.training import TrainingOptions, fit_classifier
from router_plugins.embedding_cache import cached_embeddings
from router_plugins.examples import load_examples

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    config = parse_routing_config(load_config_file(ROOT / "litellm_config.yaml"))
    examples = load_examples(config, ROOT)
    encoder = build_encoder(config.encoder.backend, config.encoder.model, Path(config.cache_dir).expanduser())
    embeddings = cached_embeddings(encoder, [e.query for e in examples], Path(config.cache_dir).expanduser())
    use_cases = list(config.use_cases)
    declared = {name: spec.modalities for name, spec in config.use_cases.items()}
    rng = np.random.default_rng(0)
    fold_of = rng.integers(0, args.folds, len(examples))
    # Only labelled rows with a language are scored (the YAML's utterances always train).
    scored = np.array([bool(e.language) for e in examples])
    print(f"{len(examples)} examples, {scored.sum()} scored by {args.folds}-fold cross-validation")
    thresholds = (0.8, 0.9, 0.95, 1.1)  # 1.1: the encoder on every query
    for regularisation, weight in itertools.product((10.0, 30.0, 100.0), (0.5, 1.0, 1.5)):
        options = TrainingOptions(regularisation=regularisation, embedding_weight=weight)
        correct = {(hint, threshold): [] for hint in (True, False) for threshold in thresholds}
        settled_alone = {threshold: [] for threshold in thresholds}
        for fold in range(args.folds):
            train = [i for i in range(len(examples)) if fold_of[i] != fold or not scored[i]]
            test = [i for i in range(len(examples)) if fold_of[i] == fold and scored[i]]
            model = fit_classifier(
                [examples[i] for i in train], use_cases, declared, config.default_use_case, 0.0,
                encoder=encoder, embeddings=embeddings[train], options=options,
            )
            for i in test:
                example = examples[i]
                label = use_cases.index(example.use_case)
                ngrams = model.ngram_probabilities(example.query)
                both = model.with_embedding(ngrams, embeddings[i])
                for hint in (True, False):
                    modality = example.modality if hint else None
                    alone = model.with_prior(ngrams, modality)
                    voted = model.with_prior(both, modality)
                    for threshold in thresholds:
                        chosen = alone if alone.max() >= threshold else voted
                        correct[hint, threshold].append(chosen.argmax() == label)
                        if hint:
                            settled_alone[threshold].append(alone.max() >= threshold)
        cells = "  ".join(
            f"t{threshold}: {np.mean(correct[True, threshold]):.3f}/{np.mean(correct[False, threshold]):.3f}"
            f" ({np.mean(settled_alone[threshold]):.0%} n-gram only)"
            for threshold in thresholds
        )
        print(f"C={regularisation:<5} weight={weight:<4} hint/text-only  {cells}")


if __name__ == "__main__":
    main()
