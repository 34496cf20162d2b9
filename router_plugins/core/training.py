"""Fits the classifier from labelled examples: the YAML's utterances and the example files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from .classifier import FollowUpHead, LinearHead, TextVectorizer, UseCaseClassifier, views
from .follow_ups import FollowUp
from .encoders import Encoder
from .types import MODALITIES, Modality


@dataclass(frozen=True, slots=True)
class Example:
    query: str
    use_case: str
    modality: Modality | None = None  # None: not counted for the modality prior (the YAML's utterances)
    language: str = ""


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    regularisation: float = 30.0  # LogisticRegression's C, for both heads
    embedding_weight: float = 1.0  # exponent of the embedding head's vote against the n-gram head's
    cascade_threshold: float = 0.9
    follow_up_regularisation: float = 30.0  # C of the follow-up head
    switch_weight: float = 4.0  # how much a follow-up that switches use case counts in the follow-up head's fit
    modality_smoothing: float = 1.0


def fit_vectorizer(texts: Sequence[str]) -> TextVectorizer:
    return TextVectorizer(*(_fit_union(column) for column in zip(*(views(text) for text in texts))))


def _fit_union(texts: Sequence[str]) -> FeatureUnion:
    union = FeatureUnion(
        [
            # Character n-grams inside word boundaries carry every script and survive misspellings.
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, dtype=np.float32)),
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                      token_pattern=r"(?u)\b\w+\b", dtype=np.float32)),
        ]
    )
    return union.fit(texts)


def modality_likelihood(
    examples: Sequence[Example],
    use_cases: Sequence[str],
    declared: Mapping[str, Sequence[Modality]],
    options: TrainingOptions,
) -> dict[Modality, np.ndarray]:
    """P(modality hint | use case), counted from the examples and smoothed; zero for attached media the
    use case does not declare: its models cannot take that media, so it is never chosen for it. (The
    `text` hint attaches nothing and excludes no use case.)"""
    counts = np.full((len(MODALITIES), len(use_cases)), options.modality_smoothing)
    for example in examples:
        if example.modality is not None:
            counts[MODALITIES.index(example.modality), use_cases.index(example.use_case)] += 1
    likelihood = counts / counts.sum(axis=0, keepdims=True)
    for column, use_case in enumerate(use_cases):
        for row, modality in enumerate(MODALITIES):
            if modality is not Modality.TEXT and modality not in declared[use_case]:
                likelihood[row, column] = 0.0
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
    follow_ups: Sequence[FollowUp] = (),
) -> UseCaseClassifier:
    """`embeddings` (one row per example, from `encoder`) enable the cascade's embedding head.
    `follow_ups` (labelled turns of conversations, with their sessions) fit the follow-up head."""
    texts = [example.query for example in examples]
    labels = np.array([use_cases.index(example.use_case) for example in examples])
    vectorizer = fit_vectorizer(texts)
    ngram_head = _fit_head(vectorizer.transform(texts), labels, len(use_cases), options.regularisation)
    embedding_head = None
    if encoder is not None and embeddings is not None:
        embedding_head = _fit_head(embeddings, labels, len(use_cases), options.regularisation)
    classifier = UseCaseClassifier(
        use_cases,
        vectorizer,
        ngram_head,
        modality_likelihood(examples, use_cases, declared_modalities, options),
        default_use_case,
        min_confidence,
        encoder=encoder if embedding_head is not None else None,
        embedding_head=embedding_head,
        embedding_weight=options.embedding_weight,
        cascade_threshold=options.cascade_threshold,
    )
    if follow_ups:
        classifier.attach_follow_up_head(
            fit_follow_up_head(classifier, follow_ups, options.follow_up_regularisation, options.switch_weight)
        )
    return classifier


def _fit_head(
    features, labels: np.ndarray, classes: int, regularisation: float, sample_weight: np.ndarray | None = None
) -> LinearHead:
    """Softmax weights for labels 0..classes-1; a class no row has gets a bias that keeps it out."""
    model = LogisticRegression(C=regularisation, max_iter=5000)
    model.fit(features, labels, sample_weight=sample_weight)
    coef, intercept = np.asarray(model.coef_), np.asarray(model.intercept_)
    if len(model.classes_) == 2:  # scikit-learn fits one logit for two classes: softmax over (0, it)
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    weights = np.zeros((coef.shape[1], classes), dtype=np.float32)  # LinearHead's layout
    bias = np.full(classes, -50.0, dtype=np.float32)
    weights[:, model.classes_], bias[model.classes_] = coef.T, intercept
    return LinearHead(weights=weights, bias=bias)


def fit_follow_up_head(
    classifier: UseCaseClassifier, follow_ups: Sequence[FollowUp], regularisation: float, switch_weight: float
) -> FollowUpHead:
    """Two multinomial logistic regressions from a turn in its session (features: `follow_up_features`),
    fitted on labelled conversations with their true session state: one to the turn's use case, one to
    "stays" or the use case it leaves for (`FollowUpHead`). Switches are rarer (one follow-up in four or
    five) and missing one costs more than a needless re-classification: they count `switch_weight` times."""
    from scipy import sparse

    use_cases = list(classifier.use_cases)
    rows = [classifier.follow_up_features(turn.text, turn.modality, turn.session) for turn in follow_ups]
    pointers = np.cumsum([0] + [len(columns) for columns, _ in rows])
    features = sparse.csr_matrix(
        (np.concatenate([values for _, values in rows]), np.concatenate([columns for columns, _ in rows]), pointers),
        shape=(len(rows), classifier.follow_up_width),
    )
    labels = np.array([use_cases.index(turn.use_case) for turn in follow_ups])
    stays = np.array([turn.use_case == turn.session.current for turn in follow_ups])
    weights = np.where(stays, 1.0, switch_weight)
    moves = np.where(stays, len(use_cases), labels)  # the last class: stays
    return FollowUpHead(
        use_cases=_fit_head(features, labels, len(use_cases), regularisation, weights),
        moves=_fit_head(features, moves, len(use_cases) + 1, regularisation, weights),
    )
