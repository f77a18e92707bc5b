"""N-gram masking for the masked-LM objective (ALBERT paper section 4.1).

Whole words are the unit: an n-gram is n consecutive words, n in 1..max_ngram
with p(n) proportional to 1/n (6/11, 3/11, 2/11 for n <= 3). Each chosen
token becomes [MASK] with probability 0.8, a random token with 0.1, and stays
unchanged with 0.1. About `masked_lm_prob` of the real (non-special) tokens are
predicted, at most `max_predictions_per_seq`.
"""

from __future__ import annotations

import dataclasses
import string
from typing import Sequence

import numpy as np

_ENGLISH_LETTERS = frozenset(string.ascii_lowercase)
_PUNCTUATION_PIECES = frozenset(string.punctuation) | {"€", "£"}


def word_start_table(pieces: Sequence[str]) -> np.ndarray:
    """For each vocabulary piece, whether it begins a word.

    As in the original code: a piece starting with U+2581 or "<", a lone
    punctuation piece, or one holding any character that is not an English
    letter or punctuation (such scripts are masked piece by piece).
    """
    starts = np.zeros(len(pieces), dtype=bool)
    for index, piece in enumerate(pieces):
        starts[index] = (
            piece.startswith(("\u2581", "<"))
            or piece in _PUNCTUATION_PIECES
            or not all(char.lower() in _ENGLISH_LETTERS or char in _PUNCTUATION_PIECES for char in piece)
        )
    return starts


@dataclasses.dataclass(frozen=True)
class MaskedTokens:
    """The result of masking one sequence."""

    input_ids: np.ndarray  # [T] ids with the predictions replaced
    positions: np.ndarray  # [P] sorted positions to predict
    labels: np.ndarray  # [P] original ids at those positions
    ngram_lengths: tuple[int, ...]  # n (in words) of each chosen span, for statistics


class NgramMasker:
    """Chooses and replaces tokens to predict, reproducibly from a numpy Generator.

    Args:
        word_starts: bool per vocabulary id, from `word_start_table`.
        mask_id: id of `[MASK]`.
        special_ids: ids never predicted nor used as random replacements
            (`[CLS]`, `[SEP]`, `<pad>`, `[MASK]`, `<unk>`).
        masked_lm_prob: fraction of real tokens to predict.
        max_predictions_per_seq: cap on predictions per sequence.
        max_ngram: longest n-gram, in words.
    """

    def __init__(self, word_starts: np.ndarray, mask_id: int, special_ids: Sequence[int],
                 masked_lm_prob: float = 0.15, max_predictions_per_seq: int = 20, max_ngram: int = 3):
        if not 0.0 < masked_lm_prob < 1.0:
            raise ValueError(f"`masked_lm_prob` must be in (0, 1). Received: masked_lm_prob={masked_lm_prob}")
        if max_predictions_per_seq < 1:
            raise ValueError(
                f"`max_predictions_per_seq` must be positive. Received: max_predictions_per_seq={max_predictions_per_seq}"
            )
        if max_ngram < 1:
            raise ValueError(f"`max_ngram` must be positive. Received: max_ngram={max_ngram}")
        self.word_starts = np.asarray(word_starts, dtype=bool)
        self.mask_id = mask_id
        self.special = np.zeros(len(self.word_starts), dtype=bool)
        self.special[list(special_ids)] = True
        self.replacement_ids = np.flatnonzero(~self.special)
        self.masked_lm_prob = masked_lm_prob
        self.max_predictions_per_seq = max_predictions_per_seq
        self.max_ngram = max_ngram
        weights = 1.0 / np.arange(1, max_ngram + 1)
        # Cumulative p(n) for every cap on n (fewer words left than max_ngram).
        self._cumulative = [np.cumsum(weights[:cap]) / weights[:cap].sum() for cap in range(1, max_ngram + 1)]

    @classmethod
    def for_tokenizer(cls, tokenizer, masked_lm_prob: float = 0.15, max_predictions_per_seq: int = 20,
                      max_ngram: int = 3) -> "NgramMasker":
        """The masker for an `AlbertTokenizer`'s vocabulary: word starts from its
        pieces, its special tokens never predicted."""
        pieces = tokenizer.pieces
        special_ids = sorted({tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id,
                              tokenizer.mask_id})
        return cls(word_start_table(pieces), tokenizer.mask_id, special_ids, masked_lm_prob,
                   max_predictions_per_seq, max_ngram)

    def num_to_predict(self, num_real_tokens: int) -> int:
        return min(self.max_predictions_per_seq, max(1, int(round(num_real_tokens * self.masked_lm_prob))))

    def __call__(self, ids: np.ndarray, rng: np.random.Generator) -> MaskedTokens:
        """Masks `ids` ([T] with specials), returning the new ids and the targets."""
        ids = np.asarray(ids)
        candidate = ~self.special[ids]
        positions = np.flatnonzero(candidate)
        if positions.size == 0:
            empty = np.zeros(0, dtype=ids.dtype)
            return MaskedTokens(ids.copy(), empty, empty, ())
        # A word starts at a word-start piece or after a special token.
        previous_is_candidate = np.concatenate([[False], candidate[:-1]])[positions]
        starts_word = self.word_starts[ids[positions]] | ~previous_is_candidate
        starts_word[0] = True
        word_bounds = np.append(np.flatnonzero(starts_word), positions.size)  # into `positions`
        num_words = word_bounds.size - 1
        budget = self.num_to_predict(positions.size)

        covered = np.zeros(ids.size, dtype=bool)
        chosen: list[np.ndarray] = []
        lengths: list[int] = []
        num_chosen = 0
        for first_word in rng.permutation(num_words):
            if num_chosen >= budget:
                break
            cap = min(self.max_ngram, num_words - first_word)
            n = int(np.searchsorted(self._cumulative[cap - 1], rng.random(), side="right")) + 1
            # Shorter n-grams when the long one would overshoot the budget.
            while n > 1 and num_chosen + self._span_size(word_bounds, first_word, n) > budget:
                n -= 1
            span = positions[word_bounds[first_word]:word_bounds[first_word + n]]
            if num_chosen + span.size > budget or covered[span].any():
                continue
            covered[span] = True
            chosen.append(span)
            lengths.append(n)
            num_chosen += span.size

        if not chosen:
            empty = np.zeros(0, dtype=ids.dtype)
            return MaskedTokens(ids.copy(), empty, empty, ())
        masked_positions = np.sort(np.concatenate(chosen))
        labels = ids[masked_positions]
        output = ids.copy()
        draws = rng.random(masked_positions.size)
        to_mask = draws < 0.8
        to_random = draws >= 0.9
        output[masked_positions[to_mask]] = self.mask_id
        output[masked_positions[to_random]] = rng.choice(self.replacement_ids, size=int(to_random.sum()))
        return MaskedTokens(output, masked_positions, labels, tuple(lengths))

    @staticmethod
    def _span_size(word_bounds: np.ndarray, first_word: int, n: int) -> int:
        return int(word_bounds[first_word + n] - word_bounds[first_word])
