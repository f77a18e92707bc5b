"""The pretraining record format: one `tf.train.Example` per sequence.

Fixed-length int64 features (padded with 0), as BERT/ALBERT records:

| feature | shape | meaning |
|---|---|---|
| input_word_ids | [max_seq_length] | `[CLS] A [SEP] B [SEP]`, masked |
| input_mask | [max_seq_length] | 1 on tokens, 0 on padding |
| input_type_ids | [max_seq_length] | 0 for `[CLS] A [SEP]`, 1 for `B [SEP]` |
| masked_lm_positions | [max_predictions_per_seq] | positions to predict |
| masked_lm_ids | [max_predictions_per_seq] | original ids there |
| masked_lm_weights | [max_predictions_per_seq] (float) | 1.0 on real predictions |
| sentence_order_label | [1] | the sentence-task label (below) |

The label feature keeps its name for both sentence tasks; what it means is
stated in the directory's `metadata.json` (`sentence_task`, and the meaning
of each value under `sentence_order_label`): for `sop` 1 = swapped, 0 = in
order; for `nsp` 1 = B from another document, 0 = B follows A.
"""

from __future__ import annotations

import numpy as np

from albert_tf.data.masking import MaskedTokens
from albert_tf.data.next_sentence import NextSentencePair
from albert_tf.data.sentence_order import SegmentPair

SEQUENCE_FEATURES = ("input_word_ids", "input_mask", "input_type_ids")
PREDICTION_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")
LABEL_FEATURE = "sentence_order_label"


def pair_input_ids(pair: SegmentPair | NextSentencePair, cls_id: int, sep_id: int) -> tuple[np.ndarray, np.ndarray]:
    """`[CLS] A [SEP] B [SEP]` ids and their segment ids (unpadded)."""
    ids = np.concatenate([[cls_id], pair.tokens_a, [sep_id], pair.tokens_b, [sep_id]]).astype(np.int64)
    type_ids = np.zeros(ids.size, dtype=np.int64)
    type_ids[pair.tokens_a.size + 2:] = 1
    return ids, type_ids


def example_features(masked: MaskedTokens, type_ids: np.ndarray, label: int,
                     max_seq_length: int, max_predictions_per_seq: int) -> dict[str, np.ndarray]:
    """All features of one record as padded numpy arrays (`label`: the
    sentence-task label, e.g. `SegmentPair.label`)."""
    length = masked.input_ids.size
    if length > max_seq_length:
        raise ValueError(f"sequence of {length} tokens exceeds max_seq_length={max_seq_length}")
    num_predictions = masked.positions.size
    if num_predictions > max_predictions_per_seq:
        raise ValueError(
            f"{num_predictions} predictions exceed max_predictions_per_seq={max_predictions_per_seq}"
        )

    def padded(values, size, dtype=np.int64):
        out = np.zeros(size, dtype=dtype)
        out[:len(values)] = values
        return out

    return {
        "input_word_ids": padded(masked.input_ids, max_seq_length),
        "input_mask": padded(np.ones(length), max_seq_length),
        "input_type_ids": padded(type_ids, max_seq_length),
        "masked_lm_positions": padded(masked.positions, max_predictions_per_seq),
        "masked_lm_ids": padded(masked.labels, max_predictions_per_seq),
        "masked_lm_weights": padded(np.ones(num_predictions), max_predictions_per_seq, np.float32),
        LABEL_FEATURE: np.array([int(label)], dtype=np.int64),
    }


def serialize_example(features: dict[str, np.ndarray]) -> bytes:
    """A `tf.train.Example` as bytes."""
    import tensorflow as tf

    feature = {}
    for name, values in features.items():
        if values.dtype.kind == "f":
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values.tolist()))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))
    # Protobuf map order is unspecified unless asked for: byte-identical output needs it.
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def feature_spec(max_seq_length: int, max_predictions_per_seq: int) -> dict:
    """`tf.io.parse_example` spec of the record format."""
    import tensorflow as tf

    spec = {name: tf.io.FixedLenFeature([max_seq_length], tf.int64) for name in SEQUENCE_FEATURES}
    spec["masked_lm_positions"] = tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64)
    spec["masked_lm_ids"] = tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64)
    spec["masked_lm_weights"] = tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32)
    spec[LABEL_FEATURE] = tf.io.FixedLenFeature([1], tf.int64)
    return spec


def count_record_stats(path: str) -> dict[str, int]:
    """Counts of a record file as `create-data` reports them (examples, labels, tokens, predictions).

    For record folders written before per-unit counts were saved.
    """
    import tensorflow as tf

    spec = {
        "input_mask": tf.io.VarLenFeature(tf.int64),
        "masked_lm_weights": tf.io.VarLenFeature(tf.float32),
        LABEL_FEATURE: tf.io.VarLenFeature(tf.int64),
    }
    counts = {"examples": 0, "swapped": 0, "real_tokens": 0, "predictions": 0}
    for serialized in tf.data.TFRecordDataset(path):
        example = tf.io.parse_single_example(serialized, spec)
        counts["examples"] += 1
        counts["swapped"] += int(tf.reduce_sum(example[LABEL_FEATURE].values))
        counts["real_tokens"] += int(tf.reduce_sum(example["input_mask"].values)) - 3
        counts["predictions"] += int(tf.reduce_sum(example["masked_lm_weights"].values))
    return counts
