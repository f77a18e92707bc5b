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

import struct
from typing import BinaryIO, Iterable, Mapping

import google_crc32c
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


def serialize_example(features: Mapping[str, np.ndarray]) -> bytes:
    """One `tf.train.Example` as bytes (see `serialize_examples`)."""
    return serialize_examples({name: np.asarray(values)[None] for name, values in features.items()})[0]


def serialize_examples(features: Mapping[str, np.ndarray]) -> list[bytes]:
    """Serialized `tf.train.Example`s, one per row, without TensorFlow.

    Args:
        features: feature name -> [N, width] array; float arrays become
            `float_list` (float32), the others `int64_list`.

    Returns:
        N byte strings, equal to TensorFlow's
        `tf.train.Example(...).SerializeToString(deterministic=True)` of the
        same rows (tested): features in sorted key order (deterministic map
        order), packed values. Encoding is vectorized over all rows.
    """
    rows = {len(values) for values in features.values()}
    if len(rows) > 1:
        raise ValueError(f"every feature needs the same number of rows. Received: {sorted(rows)}")
    count = rows.pop() if rows else 0
    payloads = []  # per feature: (name, tag, bytes of all rows, offsets [N + 1])
    for name in sorted(features):
        values = np.asarray(features[name])
        if values.ndim != 2:
            raise ValueError(f"feature {name!r} must be [N, width]. Received shape {values.shape}")
        if values.dtype.kind == "f":
            data = np.ascontiguousarray(values, dtype="<f4")
            offsets = np.arange(count + 1, dtype=np.int64) * (4 * values.shape[1])
            payloads.append((name, _FLOAT_LIST_TAG, data.tobytes(), offsets.tolist()))
        else:
            data, row_sizes = _packed_varints(values.astype(np.int64, copy=False))
            offsets = np.concatenate([[0], np.cumsum(row_sizes)])
            payloads.append((name, _INT64_LIST_TAG, data, offsets.tolist()))

    headers: dict[tuple[str, int], bytes] = {}  # (feature, payload size) -> the bytes before the payload
    serialized = []
    for row in range(count):
        parts = []
        for name, tag, data, offsets in payloads:
            start, end = offsets[row], offsets[row + 1]
            header = headers.get((name, end - start))
            if header is None:
                header = headers[name, end - start] = _feature_entry_header(name, tag, end - start)
            parts.append(header)
            parts.append(data[start:end])
        body = b"".join(parts)
        serialized.append(b"\x0a" + _varint(len(body)) + body)  # Example.features (field 1)
    return serialized


# Wire-format tags (field number << 3 | 2, length-delimited) of the Example messages.
_FLOAT_LIST_TAG = 0x12  # Feature.float_list (field 2)
_INT64_LIST_TAG = 0x1A  # Feature.int64_list (field 3)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(tag: int, payload_size: int) -> bytes:
    return bytes([tag]) + _varint(payload_size)


def _feature_entry_header(name: str, list_tag: int, payload_size: int) -> bytes:
    """Everything of one `Features.feature` map entry before its packed values."""
    key = name.encode("utf-8")
    # Int64List / FloatList: field 1, packed (omitted when empty).
    value_list = _length_delimited(0x0A, payload_size) if payload_size else b""
    list_size = len(value_list) + payload_size
    feature = _length_delimited(list_tag, list_size)  # Feature
    entry_size = len(_length_delimited(0x0A, len(key))) + len(key) + len(feature) + list_size
    entry_size += len(_length_delimited(0x12, len(feature) + list_size))
    return (_length_delimited(0x0A, entry_size)  # Features.feature map entry (field 1)
            + _length_delimited(0x0A, len(key)) + key  # entry key (field 1)
            + _length_delimited(0x12, len(feature) + list_size)  # entry value (field 2)
            + feature + value_list)


def _packed_varints(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Protobuf varints of [N, width] int64 values, row after row, and each row's size in bytes.

    Negative values take 10 bytes (two's complement), as protobuf writes int64.
    """
    unsigned = values.view(np.uint64)
    sizes = np.ones(values.shape, dtype=np.int64)
    for shift in range(7, 64, 7):
        sizes += (unsigned >> np.uint64(shift)) != 0
    flat_unsigned, flat_sizes = unsigned.ravel(), sizes.ravel()
    starts = np.cumsum(flat_sizes) - flat_sizes
    out = np.empty(int(flat_sizes.sum()), dtype=np.uint8)
    for byte in range(int(flat_sizes.max(initial=0))):
        present = flat_sizes > byte
        chunk = (flat_unsigned[present] >> np.uint64(7 * byte)) & np.uint64(0x7F)
        more = (flat_sizes[present] > byte + 1).astype(np.uint64) << np.uint64(7)
        out[starts[present] + byte] = (chunk | more).astype(np.uint8)
    return out.tobytes(), sizes.sum(axis=1)


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C that TFRecord framing stores (google-crc32c computes the CRC)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


def tfrecord_frame(record: bytes) -> bytes:
    """`record` as it lies in an (uncompressed) TFRecord file.

    Length (uint64 little-endian), masked CRC-32C of the length, the data,
    masked CRC-32C of the data: the bytes `tf.io.TFRecordWriter` writes
    (tested), without TensorFlow. A file is its records' frames, concatenated.
    """
    length = _LENGTH.pack(len(record))
    return length + _CRC.pack(masked_crc32c(length)) + record + _CRC.pack(masked_crc32c(record))


def write_tfrecords(handle: BinaryIO, records: Iterable[bytes]) -> None:
    """Writes `records` to an open binary file in the TFRecord format (uncompressed)."""
    handle.writelines(map(tfrecord_frame, records))


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
