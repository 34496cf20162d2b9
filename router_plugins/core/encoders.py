"""Text encoders behind one protocol, so another model is a YAML change."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

PACKAGE_PREFIX = "package:"


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one L2-normalised float32 row per text."""
        ...


def resolve_model_path(model: str) -> str:
    """`package:NAME` names a Python package that ships a sentence-transformers model and exposes
    `get_model_path()`; anything else is a hub id or a local path, passed through unchanged."""
    if not model.startswith(PACKAGE_PREFIX):
        return model
    package = model.removeprefix(PACKAGE_PREFIX)
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ValueError(f"encoder package {package!r} is not installed") from exc
    get_model_path = getattr(module, "get_model_path", None)
    if get_model_path is None:
        raise ValueError(f"encoder package {package!r} has no get_model_path()")
    return str(get_model_path())


def build_encoder(backend: str, model: str, cache_dir: Path, threads: int = 1) -> Encoder:
    if backend == "e5-onnx":
        from .e5_onnx import OnnxE5Encoder

        return OnnxE5Encoder(cache_dir, threads)
    if backend == "sentence-transformers":
        return SentenceTransformerEncoder(model, threads)
    raise ValueError(f"unknown encoder backend {backend!r}; use 'e5-onnx' or 'sentence-transformers'")


class SentenceTransformerEncoder:
    def __init__(self, model: str, threads: int = 1) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        # Two cores collapse under load when an encoder takes both; one thread keeps latency flat.
        torch.set_num_threads(threads)
        self.name = model
        self._model = SentenceTransformer(resolve_model_path(model), device="cpu")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)
