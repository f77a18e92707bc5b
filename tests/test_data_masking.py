"""N-gram masking: rates, caps, n-gram distribution, whole words, specials."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from albert_tf.data.masking import NgramMasker, word_start_table

# A synthetic vocabulary: 0-4 specials, then word-start pieces and continuations.
PAD, UNK, CLS, SEP, MASK = range(5)
VOCAB = 1000
WORD_STARTS = np.zeros(VOCAB, dtype=bool)
WORD_STARTS[5:500] = True  # ids 5..499 begin words, 500..999 continue them


def make_masker(**kwargs):
    options = dict(masked_lm_prob=0.15, max_predictions_per_seq=20, max_ngram=3)
    options.update(kwargs)
    return NgramMasker(WORD_STARTS, MASK, [PAD, UNK, CLS, SEP, MASK], **options)


def random_sequence(rng, num_tokens):
    """[CLS] tokens [SEP] tokens [SEP], words of 1-3 pieces."""
    def segment(length):
        ids = rng.integers(500, 1000, size=length)
        starts = rng.random(length) < 0.5
        starts[0] = True
        ids[starts] = rng.integers(5, 500, size=int(starts.sum()))
        return ids

    half = num_tokens // 2
    return np.concatenate([[CLS], segment(half), [SEP], segment(num_tokens - half), [SEP]])


def test_word_start_table_follows_original_rule():
    pieces = ["<pad>", "▁the", "ing", ",", "é", "▁", "s", "中", "[CLS]"]
    assert word_start_table(pieces).tolist() == [True, True, False, True, True, True, False, True, False]


def test_rate_cap_and_no_specials():
    rng = np.random.default_rng(0)
    masker = make_masker(max_predictions_per_seq=20)
    fractions = []
    for _ in range(300):
        ids = random_sequence(rng, int(rng.integers(20, 120)))
        masked = masker(ids, rng)
        real = int(np.isin(ids, [CLS, SEP], invert=True).sum())
        assert masked.positions.size <= 20
        assert masked.positions.size == min(20, max(1, round(real * 0.15))) or masked.positions.size < 20
        assert not np.isin(ids[masked.positions], [CLS, SEP, PAD]).any()
        assert np.all(np.diff(masked.positions) > 0), "sorted, unique"
        np.testing.assert_array_equal(masked.labels, ids[masked.positions])
        unchanged = np.setdiff1d(np.arange(ids.size), masked.positions)
        np.testing.assert_array_equal(masked.input_ids[unchanged], ids[unchanged])
        if real * 0.15 < 19:
            fractions.append(masked.positions.size / real)
    assert abs(np.mean(fractions) - 0.15) < 0.02


def test_cap_binds_on_long_sequences():
    rng = np.random.default_rng(1)
    masker = make_masker(max_predictions_per_seq=20)
    sizes = [masker(random_sequence(rng, 500), rng).positions.size for _ in range(50)]
    assert max(sizes) == 20 and min(sizes) >= 17


def test_replacement_proportions():
    rng = np.random.default_rng(2)
    masker = make_masker(max_predictions_per_seq=80)
    counts = collections.Counter()
    for _ in range(400):
        ids = random_sequence(rng, 510)
        masked = masker(ids, rng)
        new = masked.input_ids[masked.positions]
        counts["mask"] += int((new == MASK).sum())
        counts["same"] += int((new == masked.labels).sum())
        counts["random"] += int(((new != MASK) & (new != masked.labels)).sum())
        assert not np.isin(new[new != MASK], [PAD, UNK, CLS, SEP]).any(), "random tokens are never specials"
    total = sum(counts.values())
    assert abs(counts["mask"] / total - 0.8) < 0.01
    # A random draw can hit the original id (1 in 995): "same" is a hair above 10%.
    assert abs(counts["same"] / total - 0.1) < 0.01
    assert abs(counts["random"] / total - 0.1) < 0.01


def test_ngram_lengths_follow_one_over_n():
    """Realized span lengths when the prediction cap does not bind.

    Spans drawn near the end of the budget are shortened to fit and spans that
    overlap chosen ones are skipped (as in the original), so realized lengths
    skew slightly short of 6/11, 3/11, 2/11 (measured 0.58, 0.27, 0.15 here):
    the tolerance is 0.04.
    """
    rng = np.random.default_rng(3)
    masker = make_masker(max_predictions_per_seq=200)
    lengths = collections.Counter()
    for _ in range(300):
        lengths.update(masker(random_sequence(rng, 510), rng).ngram_lengths)
    total = sum(lengths.values())
    for n, expected in ((1, 6 / 11), (2, 3 / 11), (3, 2 / 11)):
        assert abs(lengths[n] / total - expected) < 0.04, (n, lengths[n] / total)


def test_spans_are_whole_words():
    rng = np.random.default_rng(4)
    masker = make_masker(max_predictions_per_seq=40)
    for _ in range(200):
        ids = random_sequence(rng, 200)
        masked = masker(ids, rng)
        chosen = np.zeros(ids.size, dtype=bool)
        chosen[masked.positions] = True
        for position in masked.positions:
            # A word's first piece is chosen iff its continuation pieces are.
            if not WORD_STARTS[ids[position]]:
                assert chosen[position - 1], "a continuation piece is masked only with its word start"
            following = position + 1
            if following < ids.size and ids[following] >= 500:
                assert chosen[following], "a chosen word is masked whole"


def test_same_seed_same_masks():
    ids = random_sequence(np.random.default_rng(5), 100)
    first = make_masker()(ids, np.random.default_rng(9))
    second = make_masker()(ids, np.random.default_rng(9))
    np.testing.assert_array_equal(first.input_ids, second.input_ids)
    np.testing.assert_array_equal(first.positions, second.positions)


@pytest.mark.parametrize("option, value", [("masked_lm_prob", 0.0), ("max_predictions_per_seq", 0), ("max_ngram", 0)])
def test_bad_options(option, value):
    with pytest.raises(ValueError, match=option):
        make_masker(**{option: value})
