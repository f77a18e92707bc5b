"""Sentence-order prediction (SOP) pairs from one document.

Two consecutive segments A, B of the same document; with probability 0.5
they are swapped. Label 1 = swapped (B then A), 0 = in order. Negatives never
come from another document: that would be BERT's next-sentence prediction,
which ALBERT replaces because topic cues make it too easy.

Differences from the original `create_instances_from_document`, both so that
no pair ever mixes documents:

* a chunk is closed only once it holds two sentences (the original closed a
  one-sentence chunk and took B from a random document);
* a single sentence left at the end of a document (or a one-sentence document)
  is split at a word boundary into A and B; a one-word remainder is dropped.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from albert_tf.tokenizer import truncated_pair_lengths

SOP_LABEL_MEANING = {0: "in order (A then B)", 1: "swapped (B then A)"}


@dataclasses.dataclass(frozen=True)
class SegmentPair:
    """Token ids of the two segments and whether they were swapped."""

    tokens_a: np.ndarray
    tokens_b: np.ndarray
    is_swapped: bool

    @property
    def label(self) -> int:
        """The record label: 1 = swapped, 0 = in order."""
        return int(self.is_swapped)


def sentence_order_pairs(
    document: Sequence[np.ndarray],
    max_num_tokens: int,
    short_seq_prob: float,
    word_starts: np.ndarray,
    rng: np.random.Generator,
) -> list[SegmentPair]:
    """Cuts one tokenized document (a list of sentences' ids) into SOP pairs.

    Args:
        document: each sentence's token ids (no specials).
        max_num_tokens: room for A + B (the sequence length minus 3 specials).
        short_seq_prob: probability of a shorter random target length, so
            that the model also sees short sequences.
        word_starts: bool per vocabulary id, used to split a lone sentence at
            a word boundary.
        rng: the source of randomness.
    """
    target_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_length = int(rng.integers(2, max_num_tokens + 1))

    pairs: list[SegmentPair] = []
    chunk: list[np.ndarray] = []
    chunk_length = 0
    for index, sentence in enumerate(document):
        if sentence.size == 0:
            continue
        chunk.append(sentence)
        chunk_length += sentence.size
        is_last = index == len(document) - 1
        if not (is_last or (chunk_length >= target_length and len(chunk) >= 2)):
            continue
        segments = split_chunk(chunk, word_starts, rng)
        if segments is not None:
            tokens_a, tokens_b = segments
            is_swapped = bool(rng.random() < 0.5)
            if is_swapped:
                tokens_a, tokens_b = tokens_b, tokens_a
            tokens_a, tokens_b = truncate_pair(tokens_a, tokens_b, max_num_tokens, rng)
            pairs.append(SegmentPair(tokens_a, tokens_b, is_swapped))
        chunk, chunk_length = [], 0
    return pairs


def split_chunk(chunk: list[np.ndarray], word_starts: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """Two consecutive segments A, B of a chunk of sentences: a random cut
    between sentences, or inside a lone sentence at a word boundary (None
    when that sentence is one word)."""
    if len(chunk) >= 2:
        a_end = int(rng.integers(1, len(chunk)))  # sentences [0, a_end) form A
        return np.concatenate(chunk[:a_end]), np.concatenate(chunk[a_end:])
    sentence = chunk[0]
    cuts = np.flatnonzero(word_starts[sentence[1:]]) + 1  # word starts after the first token
    if cuts.size == 0:
        return None
    cut = int(rng.choice(cuts))
    return sentence[:cut], sentence[cut:]


def truncate_pair(tokens_a: np.ndarray, tokens_b: np.ndarray, max_num_tokens: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Trims the longer segment one token at a time until both fit, each
    token from the front or the back with probability 1/2 (as the original).

    The lengths follow the closed form of the one-at-a-time rule; the number
    of front removals is drawn at once from the binomial distribution that
    the per-token coin flips would give.
    """
    length_a, length_b = truncated_pair_lengths(tokens_a.size, tokens_b.size, max_num_tokens)
    return _trim(tokens_a, length_a, rng), _trim(tokens_b, length_b, rng)


def _trim(tokens: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    removed = tokens.size - length
    if removed == 0:
        return tokens
    front = int(rng.binomial(removed, 0.5))
    return tokens[front:tokens.size - (removed - front)]
