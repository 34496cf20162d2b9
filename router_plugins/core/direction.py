"""Which way a conversion goes: "text to speech" and "speech to text" share every word, and n-grams
without order cannot tell them apart. The source is usually named first: in English ("text to audio",
though "an mp3 of this text" names it last) and in the Indian languages' object-first sentences
("टेक्स्ट को ऑडियो बना दो", "ಧ್ವನಿಯನ್ನು ಪಠ್ಯವಾಗಿ ಪರಿವರ್ತಿಸಿ"). The order of the first speech word and
the first text word is one cue, shared by every language, that the classifier learns to weigh."""

from __future__ import annotations

import unicodedata


def _decomposed(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(unicodedata.normalize("NFD", word) for word in words)


# Word stems, matched at the start of a word. Users type "ਆਵਾਜ਼" and "आवाज़" with the nukta as its own
# sign or precomposed: stems and text are both read decomposed.
_SPEECH = _decomposed((
    "audio", "voice", "speech", "spoken", "sound", "mp3", "wav", "awaaz", "awaz", "aawaz", "awaj",
    "ऑडियो", "ओडियो", "आवाज", "ध्वनि", "वॉइस", "वॉयस", "स्पीच", "बोल",
    "ஆடியோ", "குரல்", "பேச்ச", "பேசி", "ஒலி", "வாய்ஸ்",
    "ఆడియో", "గొంతు", "స్వర", "వాయిస్", "ధ్వని",
    "অডিও", "গলা", "কণ্ঠ", "আওয়াজ", "ভয়েস", "ভয়েজ",
    "ઓડિયો", "અવાજ", "વોઇસ", "વૉઇસ", "બોલ",
    "ಆಡಿಯೋ", "ಆಡಿಯೊ", "ಧ್ವನಿ", "ವಾಯ್ಸ್", "ಸ್ವರ", "ದನಿ",
    "ഓഡിയോ", "ശബ്ദ", "വോയ്സ്", "സംസാര",
    "ਆਡੀਓ", "ਆਵਾਜ", "ਅਵਾਜ", "ਵੌਇਸ", "ਬੋਲ",
))
_TEXT = _decomposed((
    "text", "written", "transcript", "subtitle", "caption", "typed",
    "टेक्स्ट", "लिख", "लेख", "मजकूर", "लिहू", "लिहि",
    "எழுத்", "உரை", "டெக்ஸ்ட்",
    "టెక్స్ట్", "అక్షర", "రాత", "రాసి",
    "লেখা", "টেক্সট", "লিখ",
    "લખાણ", "ટેક્સ્ટ", "લખ",
    "ಪಠ್ಯ", "ಬರಹ", "ಟೆಕ್ಸ್ಟ್", "ಬರೆ",
    "ടെക്സ്റ്റ്", "എഴുത്ത", "എഴുതി",
    "ਟੈਕਸਟ", "ਲਿਖ",
    "likh", "lekh",
))
_SOURCE_FOLLOWS = frozenset({"of", "from"})
TEXT_TO_SPEECH = "ǂǂ"
SPEECH_TO_TEXT = "ǁǁ"


def _first(words: list[str], stems: tuple[str, ...]) -> int | None:
    for position, word in enumerate(words):
        if word.startswith(stems):
            return position
    return None


def direction_marker(normalised: str) -> str:
    """A token naming the direction, or "" when the text lacks a speech word or a text word."""
    words = unicodedata.normalize("NFD", normalised).split()
    speech, text = _first(words, _SPEECH), _first(words, _TEXT)
    if speech is None or text is None or speech == text:
        return ""
    text_first = text < speech
    # "of" or "from" between them puts the source second: "an mp3 of this text", "subtitles from this audio".
    if any(word in _SOURCE_FOLLOWS for word in words[min(speech, text) + 1 : max(speech, text)]):
        text_first = not text_first
    return TEXT_TO_SPEECH if text_first else SPEECH_TO_TEXT
