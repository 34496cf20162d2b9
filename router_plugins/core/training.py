"""Fits the classifier from labelled examples: the YAML's utterances and the example files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from .classifier import MODALITIES, LinearHead, TextVectorizer, UseCaseClassifier, normalise
from .encoders import Encoder
from .types import Modality


@dataclass(frozen=True, slots=True)
class Example:
    query: str
    use_case: str
    modality: Modality | None = None  # None: not counted for the modality prior (the YAML's utterances)
    language: str = ""


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    regularisation: float = 10.0  # LogisticRegression's C
    embedding_scale: float = 1.0  # weight of the embedding block against the n-grams
    cascade_threshold: float = 0.9
    modality_smoothing: float = 1.0
    # The floor of P(modality | use case) for a modality the use case does not declare.
    undeclared_modality: float = 0.01


def fit_vectorizer(texts: Sequence[str]) -> TextVectorizer:
    union = FeatureUnion(
        [
            # Character n-grams inside word boundaries carry every script and survive misspellings.
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, dtype=np.float32)),
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                      token_pattern=r"(?u)\b\w+\b", dtype=np.float32)),
        ]
    )
    union.fit([normalise(text) for text in texts])
    return TextVectorizer(union)


def modality_likelihood(
    examples: Sequence[Example],
    use_cases: Sequence[str],
    declared: Mapping[str, Sequence[Modality]],
    options: TrainingOptions,
) -> dict[Modality, np.ndarray]:
    """P(modality hint | use case), counted from the examples, smoothed, floored where undeclared."""
    counts = np.full((len(MODALITIES), len(use_cases)), options.modality_smoothing)
    for example in examples:
        if example.modality is not None:
            counts[MODALITIES.index(example.modality), use_cases.index(example.use_case)] += 1
    likelihood = counts / counts.sum(axis=0, keepdims=True)
    for column, use_case in enumerate(use_cases):
        for row, modality in enumerate(MODALITIES):
            if modality not in declared[use_case]:
                likelihood[row, column] = min(likelihood[row, column], options.undeclared_modality)
    return {modality: likelihood[row] for row, modality in enumerate(MODALITIES)}


def fit_classifier(
    examples: Sequence[Example],
    use_cases: Sequence[str],
    declared_modalities: Mapping[str, Sequence[Modality]],
    default_use_case: str,
    min_confidence: float,
    encoder: Encoder | None = None,
    embeddings: np.ndarray | None = None,
    options: TrainingOptions = TrainingOptions(),
) -> UseCaseClassifier:
    """`embeddings` (one row per example, from `encoder`) enable the cascade's second head."""
    texts = [example.query for example in examples]
    labels = np.array([use_cases.index(example.use_case) for example in examples])
    vectorizer = fit_vectorizer(texts)
    ngrams = vectorizer.transform(texts)
    fast = _fit_head(ngrams, labels, options.regularisation)
    full = None
    if encoder is not None and embeddings is not None:
        from scipy import sparse

        features = sparse.hstack([ngrams, sparse.csr_matrix(embeddings * options.embedding_scale)]).tocsr()
        joint = _fit_head(features, labels, options.regularisation)
        width = ngrams.shape[1]
        full = LinearHead(
            text_weights=joint.text_weights[:, :width],
            bias=joint.bias,
            embedding_weights=joint.text_weights[:, width:] * options.embedding_scale,
        )
    return UseCaseClassifier(
        use_cases,
        vectorizer,
        fast,
        modality_likelihood(examples, use_cases, declared_modalities, options),
        default_use_case,
        min_confidence,
        encoder=encoder if full is not None else None,
        full_head=full,
        cascade_threshold=options.cascade_threshold,
    )


def _fit_head(features, labels: np.ndarray, regularisation: float) -> LinearHead:
    model = LogisticRegression(C=regularisation, max_iter=5000)
    model.fit(features, labels)
    return LinearHead(text_weights=np.asarray(model.coef_, dtype=np.float32), bias=model.intercept_.astype(np.float32))
