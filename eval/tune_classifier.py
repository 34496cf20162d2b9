"""Fits the classifier's free parameters by cross-validation on the training examples only
(the YAML's utterances, eval/queries_dev.jsonl, router_plugins/data/examples): never on the held-out split.

    .venv/bin/python eval/tune_classifier.py [--folds 5]

Prints accuracy (with the modality hint, and without) for each setting, and for the cascade the share
of queries the n-gram head settles alone at each threshold."""

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
    for regularisation, scale in itertools.product((10.0, 30.0), (3.0, 4.0, 6.0)):
        options = TrainingOptions(regularisation=regularisation, embedding_scale=scale, cascade_threshold=1.1)
        results = {"fast+hint": [], "full+hint": [], "fast": [], "full": []}
        fast_confidence = []
        for fold in range(args.folds):
            train = [i for i in range(len(examples)) if fold_of[i] != fold or not scored[i]]
            test = [i for i in range(len(examples)) if fold_of[i] == fold and scored[i]]
            model = fit_classifier(
                [examples[i] for i in train], use_cases, declared, config.default_use_case, 0.0,
                encoder=encoder, embeddings=embeddings[train], options=options,
            )
            for i in test:
                example = examples[i]
                ngrams = model._vectorizer.features(example.query)
                fast = model._fast.probabilities(ngrams)
                full = model._full.probabilities(ngrams, embeddings[i])
                label = use_cases.index(example.use_case)
                for name, p in (("fast", fast), ("full", full)):
                    results[name].append(p.argmax() == label)
                    hinted = model._with_prior(p, example.modality)
                    results[name + "+hint"].append(hinted.argmax() == label)
                hinted_fast = model._with_prior(fast, example.modality)
                hinted_full = model._with_prior(full, example.modality)
                fast_confidence.append((hinted_fast.max(), hinted_fast.argmax() == label, hinted_full.argmax() == label))
        summary = "  ".join(f"{name} {np.mean(values):.3f}" for name, values in results.items())
        cascade = []
        for threshold in (0.7, 0.8, 0.9, 0.95):
            alone = [c >= threshold for c, _, _ in fast_confidence]
            accuracy = np.mean([fast_ok if a else full_ok for a, (_, fast_ok, full_ok) in zip(alone, fast_confidence)])
            cascade.append(f"t{threshold}: {accuracy:.3f} ({np.mean(alone):.0%} fast)")
        print(f"C={regularisation:<5} scale={scale:<4} {summary} | cascade+hint " + "  ".join(cascade))


if __name__ == "__main__":
    main()
