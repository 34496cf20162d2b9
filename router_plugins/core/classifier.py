"""Use-case classifier: a linear head over character and word n-grams, backed in a cascade by a
linear head over a multilingual sentence embedding, with the modality hint as a prior.

The n-gram head is sub-millisecond and settles most queries; when it is unsure the encoder runs and the
two heads vote as a product of experts (their probabilities multiplied, the embedding's raised to
`embedding_weight`). All parameters are fitted from labelled examples (`training.fit_classifier`); this
module only predicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .direction import direction_marker
from .encoders import Encoder
from .follow_ups import context_width, follow_up_features
from .passages import instruction
from .types import MODALITIES, Classification, Modality, SessionContext


class TextVectorizer:
    """What the n-gram heads read: two views of the query, the whole text and its instruction alone
    (`passages.instruction`), each a union of character and word TfidfVectorizers fitted once with
    scikit-learn, then applied to one query at a time without it. scikit-learn's transform costs about
    3 ms a query, nearly all of it sparse-matrix overhead; `features` computes the same numbers in a
    tenth of that."""

    def __init__(self, whole, instruction) -> None:
        self._unions = (whole, instruction)
        self._blocks = self._compile(self._unions)
        self.width = sum(len(vocabulary) for _, _, vocabulary, _, _ in self._blocks)  # feature columns

    def __getstate__(self) -> dict:
        return {"_unions": self._unions}  # analyzers are closures: rebuilt on load, never pickled

    def __setstate__(self, state: dict) -> None:
        self.__init__(*state["_unions"])

    @staticmethod
    def _compile(unions) -> list:
        blocks = []
        offset = 0
        for view, union in enumerate(unions):
            for _, vectorizer in union.transformer_list:
                idf = vectorizer.idf_.astype(np.float64)
                blocks.append((view, vectorizer.build_analyzer(), vectorizer.vocabulary_, idf, offset))
                offset += len(vectorizer.vocabulary_)
        return blocks

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Many texts at once, as a sparse matrix (training)."""
        columns = list(zip(*(views(text) for text in texts)))
        return sparse.hstack([union.transform(columns[view]) for view, union in enumerate(self._unions)], format="csr")

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text as (column indices, values): sublinear tf × idf, L2-normalised per block."""
        texts = views(text)
        all_indices, all_values = [], []
        for view, analyzer, vocabulary, idf, offset in self._blocks:
            counts: dict[int, int] = {}
            for gram in analyzer(texts[view]):
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


def views(text: str) -> tuple[str, str]:
    """What each of `TextVectorizer`'s unions reads: the whole text with its direction marker
    (`direction.direction_marker`), and its instruction."""
    whole = normalise(text)
    marker = direction_marker(whole)
    return (f"{whole} {marker}" if marker else whole), normalise(instruction(text))


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True, slots=True)
class LinearHead:
    """Multinomial logistic regression: probabilities = softmax(x·W + b)."""

    # (features, classes): a query's few n-grams gather one contiguous row each, a cache line or two,
    # where a (classes, features) layout would touch one line per class for every n-gram.
    weights: np.ndarray
    bias: np.ndarray  # (classes,)

    def ngram_probabilities(self, ngrams: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """`ngrams` as `TextVectorizer.features` gives them: sparse columns and values."""
        columns, values = ngrams
        return _softmax(values @ self.weights[columns] + self.bias)

    def dense_probabilities(self, features: np.ndarray) -> np.ndarray:
        return _softmax(features @ self.weights + self.bias)


@dataclass(frozen=True, slots=True)
class FollowUpHead:
    """Two readings of a follow-up from the same features, combined by their geometric mean.
    `use_cases` gives the turn's use case; its weights belong to one use case each, so a word that
    keeps any session ("again", "shorter") is learnt once per use case. `moves` gives "stays" (its
    last class) or the use case the turn leaves for; its weights for staying are shared by every use
    case, so such a word is learnt once for all of them."""

    use_cases: LinearHead  # (n classes)
    moves: LinearHead  # (n + 1 classes: leaves for each use case, then stays)

    def probabilities(self, features: tuple[np.ndarray, np.ndarray], current: int) -> np.ndarray:
        by_use_case = self.use_cases.ngram_probabilities(features)
        moves = self.moves.ngram_probabilities(features)
        # "Leaves for the current use case" is never a label: its mass is dropped, and staying takes its place.
        by_move = moves[:-1].copy()
        by_move[current] = moves[-1]
        combined = np.sqrt(by_use_case * by_move / by_move.sum())
        return combined / combined.sum()


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


class UseCaseClassifier:
    def __init__(
        self,
        use_cases: Sequence[str],
        vectorizer: TextVectorizer,
        ngram_head: LinearHead,
        modality_likelihood: Mapping[Modality, np.ndarray],
        default_use_case: str,
        min_confidence: float,
        encoder: Encoder | None = None,
        embedding_head: LinearHead | None = None,
        embedding_weight: float = 1.0,
        cascade_threshold: float = 1.0,
        follow_up_head: FollowUpHead | None = None,
    ) -> None:
        self.use_cases = tuple(use_cases)
        self.encoder = encoder
        # The n-gram head answers alone when at least this sure (with the hint); above 1, never.
        self.cascade_threshold = cascade_threshold
        self._vectorizer = vectorizer
        self._ngram_head = ngram_head
        self._embedding_head = embedding_head if encoder is not None else None
        self._embedding_weight = embedding_weight
        self._follow_up_head = follow_up_head
        self._likelihood = {modality: np.asarray(modality_likelihood[modality]) for modality in MODALITIES}
        self._default = default_use_case
        self._min_confidence = min_confidence

    def __getstate__(self) -> dict:
        # The encoder holds a native model: it is attached again after unpickling, never stored.
        return {**self.__dict__, "encoder": None}

    def attach_encoder(self, encoder: Encoder | None) -> None:
        self.encoder = encoder
        if encoder is None:
            self._embedding_head = None

    def classify(
        self, text: str, modality: Modality | None = None, prior: Mapping[str, float] | None = None
    ) -> Classification:
        """`modality` is the client's hint; None means no hint (the text alone decides). `prior` weighs
        use cases by what is already known, e.g. a session's running context."""
        from_ngrams = self.ngram_probabilities(text)
        probabilities = self._weigh(self.with_prior(from_ngrams, modality), prior)
        if self._embedding_head is not None and probabilities.max() < self.cascade_threshold:
            embedding = self.encoder.encode([text])[0]
            probabilities = self._weigh(self.with_prior(self.with_embedding(from_ngrams, embedding), modality), prior)
        best = int(probabilities.argmax())
        confidence = float(probabilities[best])
        scores = {use_case: float(p) for use_case, p in zip(self.use_cases, probabilities)}
        if confidence < self._min_confidence:
            return Classification(self._default, confidence, scores, used_default=True)
        return Classification(self.use_cases[best], confidence, scores)

    def read_follow_up(
        self, text: str, modality: Modality | None, session: SessionContext
    ) -> dict[str, float] | None:
        """P(use case) of a turn in `session`, from the follow-up head: one pass over the n-grams. None
        without a follow-up head."""
        if self._follow_up_head is None:
            return None
        features = self.follow_up_features(text, modality, session)
        current = self.use_cases.index(session.current)
        return dict(zip(self.use_cases, self._follow_up_head.probabilities(features, current).tolist()))

    def follow_up_features(
        self, text: str, modality: Modality | None, session: SessionContext
    ) -> tuple[np.ndarray, np.ndarray]:
        """What the follow-up head reads (`follow_ups.follow_up_features`), as sparse columns and values."""
        ngrams = self._vectorizer.features(text)
        scores = self.with_prior(self._ngram_head.ngram_probabilities(ngrams), modality)
        return follow_up_features(
            ngrams, self._vectorizer.width, scores, self.use_cases, session, modality, text
        )

    @property
    def follow_up_width(self) -> int:
        return self._vectorizer.width + context_width(self.use_cases)

    def attach_follow_up_head(self, head: FollowUpHead) -> None:
        self._follow_up_head = head

    def ngram_probabilities(self, text: str) -> np.ndarray:
        """The n-gram head alone, before the modality prior."""
        return self._ngram_head.ngram_probabilities(self._vectorizer.features(text))

    def with_embedding(self, ngram_probabilities: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """Both heads' vote on a query whose embedding is known, before the modality prior."""
        if self._embedding_head is None:
            return ngram_probabilities
        votes = ngram_probabilities * self._embedding_head.dense_probabilities(embedding) ** self._embedding_weight
        return votes / votes.sum()

    def _weigh(self, probabilities: np.ndarray, prior: Mapping[str, float] | None) -> np.ndarray:
        if not prior:
            return probabilities
        weighted = probabilities * np.array([prior.get(use_case, 1.0) for use_case in self.use_cases])
        total = weighted.sum()
        return weighted / total if total > 0 else probabilities

    def with_prior(self, probabilities: np.ndarray, modality: Modality | None) -> np.ndarray:
        if modality is None:
            return probabilities
        posterior = probabilities * self._likelihood[modality]
        total = posterior.sum()
        # No use case declares this media: the hint cannot help, the text decides.
        return posterior / total if total > 0 else probabilities
