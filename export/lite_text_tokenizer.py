"""`LiteTextTokenizer`: raw strings to fixed-length ALBERT inputs with ops LiteRT can run.

Used inside the text-in TFLite model. Its graph has one custom op,
tf-text's `FastSentencepieceTokenize` (registered in LiteRT by
`tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`); everything else is
TFLite builtins (gather, where, cumsum, comparisons), so no Flex delegate is
needed:

* preprocessing: folded into the SentencePiece model's normalizer
  (`albert_tf.export.folded_normalizer`);
* the digit-comma re-split: a dense `[vocab, width]` table of replacement ids
  and a per-id length, applied with a gather and a boolean mask (instead of
  the ragged lookup of `albert_tf.graph_tokenizer`, whose `tf.searchsorted`
  has no TFLite kernel);
* packing `[CLS] ids [SEP]` + padding: index arithmetic on the flat ids.

The SavedModel's `serve_text` keeps `AlbertGraphTokenizer`, which rebuilds
the Python preprocessing exactly, context rules included.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf.tokenizer import AlbertTokenizer, _check_max_seq_length
from albert_tf.export.folded_normalizer import fold_preprocessing

# Custom ops of the text-in model; tf-text's registrar provides their kernels.
TEXT_MODEL_CUSTOM_OPS = frozenset({"TFText>FastSentencepieceTokenize"})


class LiteTextTokenizer:
    """Strings `[batch]` to `input_word_ids` / `input_mask` / `input_type_ids` `[batch, seq_length]`.

    One segment per string, as `AlbertTokenizer.encode_pair(text, None,
    seq_length)`: too-long text is cut to `seq_length - 2` pieces, an empty
    string gives `[CLS] [SEP]`. Build it once (folding the normalizer takes a
    few seconds) and call it inside the `tf.function` that is converted.
    """

    def __init__(self, spm_model: bytes, seq_length: int, lower_case: bool = True, strip_accents: bool = True,
                 split_digit_comma: bool = True) -> None:
        _check_max_seq_length(seq_length, pair=False)
        reference = AlbertTokenizer.from_serialized_proto(spm_model, lower_case, strip_accents, split_digit_comma)
        self.seq_length = seq_length
        self.cls_id, self.sep_id, self.pad_id = reference.cls_id, reference.sep_id, reference.pad_id
        self._sentencepiece = tf_text.FastSentencepieceTokenizer(
            fold_preprocessing(spm_model, lower_case, strip_accents))
        self._replacement_lengths, self._replacements = _dense_replacement_table(
            reference.digit_comma_table, reference.vocab_size)

    def __call__(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        pieces = self._sentencepiece.tokenize(texts)
        ids, row_splits = self._split_digit_comma(pieces.values, pieces.row_splits)
        return self._pack(ids, row_splits)

    def _split_digit_comma(self, ids: tf.Tensor, row_splits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        if self._replacements is None:
            return ids, row_splits
        lengths = tf.gather(self._replacement_lengths, ids)
        candidates = tf.gather(self._replacements, ids)
        ids = tf.boolean_mask(candidates, tf.sequence_mask(lengths, self._replacements.shape[1]))
        ends = tf.concat([[0], tf.cumsum(lengths)], axis=0)
        return ids, tf.gather(ends, row_splits)

    def _pack(self, ids: tf.Tensor, row_splits: tf.Tensor) -> dict[str, tf.Tensor]:
        starts = row_splits[:-1, tf.newaxis]
        kept = tf.minimum(row_splits[1:, tf.newaxis] - starts, self.seq_length - 2)
        positions = tf.range(self.seq_length, dtype=tf.int32)[tf.newaxis, :]
        # One trailing pad makes every clipped index valid, even with no ids at all.
        padded_ids = tf.concat([ids, [self.pad_id]], axis=0)
        source = tf.clip_by_value(starts + positions - 1, 0, tf.size(ids))
        word_ids = tf.gather(padded_ids, source)
        is_piece = (positions >= 1) & (positions <= kept)
        word_ids = tf.where(is_piece, word_ids, self.pad_id)
        word_ids = tf.where(positions == 0, self.cls_id, word_ids)
        word_ids = tf.where(positions == kept + 1, self.sep_id, word_ids)
        mask = tf.cast(positions <= kept + 1, tf.int32)
        return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": tf.zeros_like(mask)}


def _dense_replacement_table(table: dict[int, tuple[int, ...]],
                             vocab_size: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per id: how many ids it becomes, and those ids (an id not in `table` becomes itself)."""
    if not table:
        return None, None
    width = max(len(replacement) for replacement in table.values())
    lengths = np.ones([vocab_size], np.int32)
    replacements = np.zeros([vocab_size, width], np.int32)
    replacements[:, 0] = np.arange(vocab_size)
    for index, replacement in table.items():
        lengths[index] = len(replacement)
        replacements[index, :len(replacement)] = replacement
    return lengths, replacements
