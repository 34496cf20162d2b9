"""The instruction of a request that carries a passage: "narrate this for my podcast intro: 'Welcome back
to Night Shift…'" asks for speech, whatever the passage says. In the whole text the passage's words
(an ad, an announcement, a story) outnumber the instruction's and pull the request towards `agent`; the
classifier also reads the instruction alone, with the passage taken out."""

from __future__ import annotations

import re

# A quoted span of 8 or more characters, opened at the start or after a space, colon or dash (so "don't"
# and "it's" are not quotes) and closed before a space or punctuation. Every script's users type ASCII
# or typographic quotes.
_QUOTED = re.compile(r"""(?:^|(?<=[\s:：(\-—]))['"‘“«„](?=\S)[^"“”«»„]{8,}?['"’”»](?=$|[\s.,!?;:)।\-—])""")
# Otherwise, three or more words after a colon: "ही गोष्ट मोठ्याने वाच: एका गावात एक हुशार कावळा होता."
_AFTER_COLON = re.compile(r"[:：]\s*\S+(?:\s+\S+){2,}.*$", re.S)


def instruction(text: str) -> str:
    """`text` without its quoted passages, else without what follows its colon; a request without a
    passage is its own instruction."""
    stripped = _QUOTED.sub(" ", text)
    if stripped != text:
        return stripped
    after_colon = _AFTER_COLON.search(text)
    if after_colon is not None and after_colon.start() > 0:
        return text[: after_colon.start()]
    return text
