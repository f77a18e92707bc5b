"""Sentence-order pairs: labels, contiguity, one document only, truncation."""

from __future__ import annotations

import numpy as np

from albert_tf.data.sentence_order import sentence_order_pairs, truncate_pair

WORD_STARTS = np.ones(100_000, dtype=bool)


def make_document(rng, first_token, num_sentences):
    """Sentences of consecutive token ids, so order can be read off the ids."""
    sentences, next_token = [], first_token
    for _ in range(num_sentences):
        length = int(rng.integers(3, 15))
        sentences.append(np.arange(next_token, next_token + length))
        next_token += length
    return sentences


def test_labels_balanced_and_segments_in_claimed_order():
    rng = np.random.default_rng(0)
    labels = []
    for doc_index in range(300):
        document = make_document(rng, doc_index * 1000, int(rng.integers(2, 12)))
        stream = np.concatenate(document)
        for pair in sentence_order_pairs(document, 500, 0.1, WORD_STARTS, rng):
            labels.append(pair.is_swapped)
            first, second = (pair.tokens_b, pair.tokens_a) if pair.is_swapped else (pair.tokens_a, pair.tokens_b)
            joined = np.concatenate([first, second])
            # Consecutive text of one document: ids increase by one throughout.
            assert np.all(np.diff(joined) == 1)
            assert joined[0] // 1000 == doc_index and joined[-1] in stream
            assert pair.tokens_a.size >= 1 and pair.tokens_b.size >= 1
    assert 0.45 < np.mean(labels) < 0.55


def test_truncation_respects_budget_and_keeps_segments():
    rng = np.random.default_rng(1)
    for _ in range(200):
        document = make_document(rng, 0, int(rng.integers(2, 30)))
        for pair in sentence_order_pairs(document, 40, 0.0, WORD_STARTS, rng):
            assert pair.tokens_a.size + pair.tokens_b.size <= 40
            assert pair.tokens_a.size >= 1 and pair.tokens_b.size >= 1
            for segment in (pair.tokens_a, pair.tokens_b):
                assert np.all(np.diff(segment) == 1), "truncation cuts only at the ends"


def test_single_sentence_is_split_at_a_word_boundary():
    word_starts = np.zeros(100, dtype=bool)
    word_starts[[10, 13, 17]] = True
    sentence = np.array([10, 11, 12, 13, 14, 15, 16, 17, 18])
    rng = np.random.default_rng(2)
    cuts = set()
    for _ in range(50):
        (pair,) = sentence_order_pairs([sentence], 100, 0.0, word_starts, rng)
        first, second = (pair.tokens_b, pair.tokens_a) if pair.is_swapped else (pair.tokens_a, pair.tokens_b)
        np.testing.assert_array_equal(np.concatenate([first, second]), sentence)
        cuts.add(int(second[0]))
    assert cuts == {13, 17}
    one_word = np.array([10, 11, 12])
    assert sentence_order_pairs([one_word], 100, 0.0, word_starts, rng) == []


def test_truncate_pair_matches_one_at_a_time_rule():
    rng = np.random.default_rng(3)

    def reference(length_a, length_b, budget):
        while length_a + length_b > budget:
            if length_a > length_b:
                length_a -= 1
            else:
                length_b -= 1
        return length_a, length_b

    for length_a in range(25):
        for length_b in range(25):
            for budget in range(1, 40):
                a, b = truncate_pair(np.arange(length_a), np.arange(length_b), budget, rng)
                assert (a.size, b.size) == reference(length_a, length_b, budget)
