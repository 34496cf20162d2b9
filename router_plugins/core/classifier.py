"""Use-case classifier: a linear head over character and word n-grams, backed in a cascade by a
linear head that also reads a multilingual sentence embedding, with the modality hint as a prior.

The n-gram head is sub-millisecond and settles most queries; the encoder runs only when it is unsure.
All parameters are fitted from labelled examples (`training.fit_classifier`); this module only predicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .encoders import Encoder
from .types import Classification, Modality

MODALITIES: tuple[Modality, ...] = tuple(Modality)


class TextVectorizer:
    """What the n-gram head reads; fitted once (sklearn's TfidfVectorizer union underneath)."""

    def __init__(self, union) -> None:
        self._union = union

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self._union.transform([normalise(text) for text in texts]).tocsr()


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True, slots=True)
class LinearHead:
    """Multinomial logistic regression: logits = X·Wᵀ + b over one or two feature blocks."""

    text_weights: np.ndarray  # (classes, n-gram features)
    bias: np.ndarray  # (classes,)
    embedding_weights: np.ndarray | None = None  # (classes, embedding dimension)

    def probabilities(self, ngrams: sparse.csr_matrix, embedding: np.ndarray | None = None) -> np.ndarray:
        logits = np.asarray(ngrams @ self.text_weights.T).ravel() + self.bias
        if self.embedding_weights is not None and embedding is not None:
            logits = logits + self.embedding_weights @ embedding
        return _softmax(logits)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


class UseCaseClassifier:
    def __init__(
        self,
        use_cases: Sequence[str],
        vectorizer: TextVectorizer,
        fast_head: LinearHead,
        modality_likelihood: Mapping[Modality, np.ndarray],
        default_use_case: str,
        min_confidence: float,
        encoder: Encoder | None = None,
        full_head: LinearHead | None = None,
        cascade_threshold: float = 1.0,
    ) -> None:
        self.use_cases = tuple(use_cases)
        self.encoder = encoder
        self._vectorizer = vectorizer
        self._fast = fast_head
        self._full = full_head if encoder is not None else None
        self._likelihood = {modality: np.asarray(modality_likelihood[modality]) for modality in MODALITIES}
        self._default = default_use_case
        self._min_confidence = min_confidence
        self._cascade_threshold = cascade_threshold

    def __getstate__(self) -> dict:
        # The encoder holds a native model: it is attached again after unpickling, never stored.
        return {**self.__dict__, "encoder": None}

    def attach_encoder(self, encoder: Encoder | None) -> None:
        self.encoder = encoder
        if encoder is None:
            self._full = None

    def classify(self, text: str, modality: Modality | None = None) -> Classification:
        """`modality` is the client's hint; None means no hint (the text alone decides)."""
        ngrams = self._vectorizer.transform([text])
        probabilities = self._with_prior(self._fast.probabilities(ngrams), modality)
        if self._full is not None and probabilities.max() < self._cascade_threshold:
            embedding = self.encoder.encode([text])[0]
            probabilities = self._with_prior(self._full.probabilities(ngrams, embedding), modality)
        best = int(probabilities.argmax())
        confidence = float(probabilities[best])
        scores = {use_case: float(p) for use_case, p in zip(self.use_cases, probabilities)}
        if confidence < self._min_confidence:
            return Classification(self._default, confidence, scores, used_default=True)
        return Classification(self.use_cases[best], confidence, scores)

    def _with_prior(self, probabilities: np.ndarray, modality: Modality | None) -> np.ndarray:
        if modality is None:
            return probabilities
        posterior = probabilities * self._likelihood[modality]
        return posterior / posterior.sum()
