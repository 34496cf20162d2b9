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
    """What the n-gram heads read: fitted once with scikit-learn (a union of TfidfVectorizers), then
    applied to one query at a time without it. scikit-learn's transform costs about 3 ms a query, nearly
    all of it sparse-matrix overhead; `features` computes the same numbers in a tenth of that."""

    def __init__(self, union) -> None:
        self._union = union
        self._blocks = self._compile(union)

    def __getstate__(self) -> dict:
        return {"_union": self._union}  # analyzers are closures: rebuilt on load, never pickled

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["_union"])

    @staticmethod
    def _compile(union) -> list:
        blocks = []
        offset = 0
        for _, vectorizer in union.transformer_list:
            blocks.append(
                (vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_.astype(np.float64), offset)
            )
            offset += len(vectorizer.vocabulary_)
        return blocks

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Many texts at once, as a sparse matrix (training)."""
        return self._union.transform([normalise(text) for text in texts]).tocsr()

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text as (column indices, values): sublinear tf × idf, L2-normalised per block."""
        normalised = normalise(text)
        all_indices, all_values = [], []
        for analyzer, vocabulary, idf, offset in self._blocks:
            counts: dict[int, int] = {}
            for gram in analyzer(normalised):
                column = vocabulary.get(gram)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            if not counts:
                continue
            columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[columns]
            values /= np.sqrt(values @ values)
            all_indices.append(columns + offset)
            all_values.append(values)
        if not all_indices:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return np.concatenate(all_indices), np.concatenate(all_values)


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True, slots=True)
class LinearHead:
    """Multinomial logistic regression: logits = X·Wᵀ + b over one or two feature blocks."""

    text_weights: np.ndarray  # (classes, n-gram features)
    bias: np.ndarray  # (classes,)
    embedding_weights: np.ndarray | None = None  # (classes, embedding dimension)

    def probabilities(self, ngrams: tuple[np.ndarray, np.ndarray], embedding: np.ndarray | None = None) -> np.ndarray:
        """`ngrams` as `TextVectorizer.features` gives them."""
        columns, values = ngrams
        logits = self.text_weights[:, columns] @ values + self.bias
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
        ngrams = self._vectorizer.features(text)
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
