"""What MediaPipe Tasks' SentencePiece preprocessing feeds the model, and how often it differs from ALBERT's.

MediaPipe's BERT-style preprocessor (what `TextClassifier` runs for a model
with a SentencePiece process unit) lowercases the text, encodes it with the
SentencePiece model (whose own normalizer, `nmt_nfkc` for the released ALBERT
vocabulary, still applies) and packs `[CLS] pieces[:L-2] [SEP]`. It does not
do ALBERT's other steps: NFKD + dropping combining marks ("café" -> "cafe"),
the LaTeX-quote replacement, or the digit-comma re-split ("1990," ->
"1990", ","). `mediapipe_encode` reproduces that pipeline so the
difference can be measured without a phone; the test suite checks it against
MediaPipe's own scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from albert_tf.backbone import INPUT_NAMES


def mediapipe_ids(tokenizer, text: str) -> list[int]:
    """Piece ids as MediaPipe computes them: lowercase, then SentencePiece (no ALBERT normalization)."""
    # `_sp` is the tokenizer's SentencePiece processor; MediaPipe uses the same model file.
    return list(tokenizer._sp.encode(text.lower()))


def mediapipe_encode(tokenizer, texts: list[str], seq_length: int) -> dict[str, np.ndarray]:
    """int32 `[len(texts), L]` inputs as MediaPipe builds them: `[CLS] ids[:L-2] [SEP]`, pad 0."""
    rows = [tokenizer.pack_ids(mediapipe_ids(tokenizer, text), None, seq_length) for text in texts]
    return {name: np.asarray([row[name] for row in rows], np.int32) for name in INPUT_NAMES}


@dataclass(frozen=True)
class Disagreement:
    """How often MediaPipe's tokenization differs from ALBERT's on a set of texts."""

    texts: int
    differing_texts: int
    differing_after_truncation: int  # differ in the model's [1, L] inputs
    tokens: int
    differing_examples: tuple[tuple[str, list[str], list[str]], ...]

    @property
    def rate(self) -> float:
        return self.differing_texts / max(self.texts, 1)

    @property
    def rate_after_truncation(self) -> float:
        return self.differing_after_truncation / max(self.texts, 1)


def measure_disagreement(tokenizer, texts: list[str], seq_length: int = 128, examples: int = 5) -> Disagreement:
    """Counts texts whose ALBERT ids differ from MediaPipe's (whole text, and within the first L-2 tokens)."""
    differing = truncated = tokens = 0
    shown: list[tuple[str, list[str], list[str]]] = []
    for text in texts:
        albert, mediapipe = tokenizer.encode(text), mediapipe_ids(tokenizer, text)
        tokens += len(albert)
        if albert != mediapipe:
            differing += 1
            if len(shown) < examples:
                shown.append((text, [tokenizer.id_to_piece(i) for i in albert],
                              [tokenizer.id_to_piece(i) for i in mediapipe]))
        if albert[: seq_length - 2] != mediapipe[: seq_length - 2]:
            truncated += 1
    return Disagreement(len(texts), differing, truncated, tokens, tuple(shown))
