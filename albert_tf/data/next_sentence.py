"""Next-sentence prediction (NSP) pairs, BERT's sentence task, for ablations.

Segment A is a run of sentences of one document. With probability 0.5
segment B is the text that follows A in that document (label 0, "is next");
otherwise B is a run of sentences from a random start in a random *other*
document (label 1, "random next"), and the sentences of the chunk that A did
not use are put back to start the next chunk, so no text is wasted. This is
the behaviour of BERT's `create_pretraining_data.py`, which ALBERT's SOP
replaces (paper section 4.6, Table 5).

Differences from BERT's script:

* the other document is drawn from the same work unit (`documents_per_shard`
  consecutive documents), not from the whole corpus, so that units stay
  independent (see `create_pretraining_data`); a unit with one document has
  no other document, and its pairs are all "is next";
* BERT makes every one-sentence chunk a random-next pair; here the coin
  decides for all chunks, and a lone sentence that must be followed by its
  own continuation is split at a word boundary (as the SOP pairs are), which
  keeps the labels balanced.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from albert_tf.data.sentence_order import split_chunk, truncate_pair

NSP_LABEL_MEANING = {0: "is next (B follows A in one document)", 1: "random next (B from another document)"}


@dataclasses.dataclass(frozen=True)
class NextSentencePair:
    """Token ids of the two segments and whether B comes from another document."""

    tokens_a: np.ndarray
    tokens_b: np.ndarray
    is_random_next: bool

    @property
    def label(self) -> int:
        """The record label: 1 = random next, 0 = is next."""
        return int(self.is_random_next)


def next_sentence_pairs(
    documents: Sequence[Sequence[np.ndarray]],
    document_index: int,
    max_num_tokens: int,
    short_seq_prob: float,
    word_starts: np.ndarray,
    rng: np.random.Generator,
) -> list[NextSentencePair]:
    """Cuts `documents[document_index]` into NSP pairs.

    Args:
        documents: the documents that negatives may come from, each a list
            of sentences' token ids (no specials); empty sentences are skipped.
        document_index: the document to cut.
        max_num_tokens: room for A + B (the sequence length minus 3 specials).
        short_seq_prob: probability of a shorter random target length.
        word_starts: bool per vocabulary id, used to split a lone sentence.
        rng: the source of randomness.
    """
    document = [sentence for sentence in documents[document_index] if sentence.size]
    others = [index for index, other in enumerate(documents)
              if index != document_index and any(sentence.size for sentence in other)]
    target_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_length = int(rng.integers(2, max_num_tokens + 1))

    pairs: list[NextSentencePair] = []
    chunk: list[np.ndarray] = []
    chunk_length = 0
    index = 0
    while index < len(document):
        chunk.append(document[index])
        chunk_length += document[index].size
        if index == len(document) - 1 or chunk_length >= target_length:
            if others and rng.random() < 0.5:
                a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
                tokens_a = np.concatenate(chunk[:a_end])
                source = documents[others[int(rng.integers(len(others)))]]
                tokens_b = _segment_from(source, target_length - tokens_a.size, rng)
                index -= len(chunk) - a_end  # the sentences A left unused start the next chunk
                segments = tokens_a, tokens_b
                is_random_next = True
            else:
                segments = split_chunk(chunk, word_starts, rng)
                is_random_next = False
            if segments is not None:
                tokens_a, tokens_b = truncate_pair(*segments, max_num_tokens, rng)
                pairs.append(NextSentencePair(tokens_a, tokens_b, is_random_next))
            chunk, chunk_length = [], 0
        index += 1
    return pairs


def _segment_from(document: Sequence[np.ndarray], target_length: int, rng: np.random.Generator) -> np.ndarray:
    """Consecutive sentences from a random start until `target_length` tokens
    (at least one sentence; truncation trims the excess later)."""
    sentences = [sentence for sentence in document if sentence.size]
    start = int(rng.integers(len(sentences)))
    segment: list[np.ndarray] = []
    length = 0
    for sentence in sentences[start:]:
        segment.append(sentence)
        length += sentence.size
        if length >= target_length:
            break
    return np.concatenate(segment)
