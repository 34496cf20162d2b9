"""Embedding classifier: example utterances per use case in, calibrated use-case scores out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .encoders import Encoder
from .types import Classification, Modality

# Sharpens cosine-similarity gaps into a probability-like confidence.
_SOFTMAX_SCALE = 20.0


class UseCaseClassifier:
    """k-nearest-utterance scoring: a use case scores the mean cosine similarity of its k closest
    examples. A non-text modality hint restricts the candidates to the use cases that accept it."""

    def __init__(
        self,
        encoder: Encoder,
        utterances: Mapping[str, Sequence[str]],
        modalities: Mapping[str, Sequence[Modality]],
        default_use_case: str,
        k: int,
        min_confidence: float,
    ) -> None:
        self.encoder = encoder
        self.use_cases: tuple[str, ...] = tuple(utterances)
        self._default = default_use_case
        self._k = k
        self._min_confidence = min_confidence
        texts = [text for use_case in self.use_cases for text in utterances[use_case]]
        self._labels = np.array(
            [index for index, use_case in enumerate(self.use_cases) for _ in utterances[use_case]]
        )
        self._examples = encoder.encode(texts)
        self._example_rows = [np.flatnonzero(self._labels == index) for index in range(len(self.use_cases))]
        # Candidate masks per modality hint, computed once.
        self._candidates = {
            modality: np.array(
                [modality is Modality.TEXT or modality in modalities[use_case] for use_case in self.use_cases]
            )
            for modality in Modality
        }

    def classify(self, text: str, modality: Modality = Modality.TEXT) -> Classification:
        query = self.encoder.encode([text])[0]
        similarities = self._examples @ query
        scores = np.array(
            [self._top_k_mean(similarities[rows]) for rows in self._example_rows], dtype=np.float64
        )
        candidates = self._candidates[modality]
        if not candidates.any():
            candidates = self._candidates[Modality.TEXT]
        logits = np.where(candidates, scores * _SOFTMAX_SCALE, -np.inf)
        logits -= logits.max()
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum()
        best = int(probabilities.argmax())
        confidence = float(probabilities[best])
        score_map = {use_case: float(p) for use_case, p in zip(self.use_cases, probabilities)}
        if confidence < self._min_confidence:
            return Classification(self._default, confidence, score_map, used_default=True)
        return Classification(self.use_cases[best], confidence, score_map)

    def _top_k_mean(self, similarities: np.ndarray) -> float:
        k = min(self._k, similarities.size)
        return float(np.partition(similarities, -k)[-k:].mean())
