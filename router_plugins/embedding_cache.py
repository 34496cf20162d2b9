"""Embeddings of the training examples, kept on disk per encoder so a restart does not re-encode them."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .core.encoders import Encoder

log = logging.getLogger(__name__)


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def cached_embeddings(encoder: Encoder, texts: Sequence[str], cache_dir: Path) -> np.ndarray:
    path = cache_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", encoder.name) + ".npz")
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as stored:
            known = dict(zip(stored["keys"].tolist(), stored["vectors"]))
    keys = [_key(text) for text in texts]
    missing = sorted({key: text for key, text in zip(keys, texts) if key not in known}.items())
    if missing:
        log.info("encoding %d training examples with %s (cached in %s)", len(missing), encoder.name, path)
        vectors = encoder.encode([text for _, text in missing])
        known.update(zip((key for key, _ in missing), vectors))
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
        temporary.replace(path)  # atomic: concurrent workers never read half a file
    return np.stack([known[key] for key in keys])
