"""`tf.data` input pipeline over pretraining record shards."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Literal, Sequence

import numpy as np
import tensorflow as tf

from albert_tf.data.create_pretraining_data import METADATA_FILE, read_metadata
from albert_tf.data.masking import NgramMasker
from albert_tf.data.records import LABEL_FEATURE, feature_spec
from albert_tf.io_utils import InputFileError, first_line

ShardPolicy = Literal["data", "file", "off"]
_SHARD_POLICIES = {
    "data": tf.data.experimental.AutoShardPolicy.DATA,
    "file": tf.data.experimental.AutoShardPolicy.FILE,
    "off": tf.data.experimental.AutoShardPolicy.OFF,
}


def record_files(file_pattern: str | Sequence[str]) -> list[str]:
    """The record files matching one or more glob patterns or directories."""
    patterns = [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    files: list[str] = []
    for pattern in map(os.fspath, patterns):
        if tf.io.gfile.isdir(pattern):
            pattern = os.path.join(pattern, "part-*.tfrecord")
        matches = tf.io.gfile.glob(pattern)
        if not matches:
            raise ValueError(f"No record files match {pattern!r}. Create them with `albert create-data`.")
        files.extend(matches)
    return sorted(set(files))


def find_corrupt_record_file(files: Sequence[str]) -> tuple[str, str] | None:
    """The first of `files` that cannot be read to its end, with TF's reason; None if all read."""
    for path in files:
        try:
            for _ in tf.data.TFRecordDataset(path):
                pass
        except (tf.errors.DataLossError, tf.errors.OutOfRangeError, tf.errors.InvalidArgumentError) as error:
            return path, first_line(error.message)
    return None


@contextlib.contextmanager
def naming_corrupt_records(files: Sequence[str]) -> Iterator[None]:
    """Turns a `DataLossError` raised while reading `files` (which names no file) into an
    `InputFileError` naming the damaged shard, found by reading each file once."""
    try:
        yield
    except tf.errors.DataLossError as error:
        found = find_corrupt_record_file(files)
        if found is None:
            raise InputFileError(f"Reading the records failed: {first_line(error.message)}") from None
        path, reason = found
        raise InputFileError(
            f"Record shard {path} is truncated or corrupt ({reason}). Delete it and rerun the same "
            "`albert create-data` command, which rewrites only the missing shards."
        ) from None


def pretraining_dataset(
    file_pattern: str | Sequence[str],
    batch_size: int,
    *,
    is_training: bool = True,
    max_seq_length: int | None = None,
    max_predictions_per_seq: int | None = None,
    seed: int | None = None,
    shuffle_buffer_size: int = 10_000,
    cycle_length: int = 8,
    dynamic_masker: NgramMasker | None = None,
    input_context: tf.distribute.InputContext | None = None,
    shard_policy: ShardPolicy = "data",
) -> tf.data.Dataset:
    """Batches of pretraining features, ready for `AlbertPretrainer`.

    Files are interleaved, examples shuffled (training), batched and parsed
    in bulk, and prefetched. Elements are dicts of int32 tensors
    (`input_word_ids`, `input_mask`, `input_type_ids` [B, T],
    `masked_lm_positions`, `masked_lm_ids` [B, P], `sentence_order_label`
    [B]) and float32 `masked_lm_weights` [B, P].

    Args:
        file_pattern: glob(s) or record directories.
        batch_size: examples per batch (per replica when `input_context` is
            given, which `distribute_datasets_from_function` passes).
        is_training: shuffle, repeat forever and drop the last partial batch.
        max_seq_length, max_predictions_per_seq: the record shapes; read
            from the `metadata.json` beside the first file when None.
        seed: shuffle seed (and dynamic-masking seed).
        shuffle_buffer_size: examples in the shuffle buffer.
        cycle_length: files read in parallel.
        dynamic_masker: when set, the static masks in the records are undone
            and new n-gram masks drawn each time an example is read.
        input_context: from `tf.distribute`: each input pipeline then reads
            its own subset of the files.
        shard_policy: how `tf.distribute` auto-shards this dataset across
            workers: `data` (always correct: every worker keeps 1/N of the
            examples), `file` (efficient when there are many more files than
            workers), `off`.
    """
    files = record_files(file_pattern)
    if max_seq_length is None or max_predictions_per_seq is None:
        directory = os.path.dirname(files[0])
        if not tf.io.gfile.exists(os.path.join(directory, METADATA_FILE)):
            raise ValueError(
                f"Pass max_seq_length and max_predictions_per_seq: no {METADATA_FILE} beside {files[0]}."
            )
        config = read_metadata(directory)["config"]
        max_seq_length = max_seq_length or config["max_seq_length"]
        max_predictions_per_seq = max_predictions_per_seq or config["max_predictions_per_seq"]

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        if len(files) < input_context.num_input_pipelines:
            raise ValueError(
                f"{len(files)} record files cannot feed {input_context.num_input_pipelines} input pipelines; "
                "create more shards (smaller --documents-per-shard)."
            )
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if is_training:
        dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(cycle_length, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=seed is not None or not is_training,
    )
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=is_training)

    spec = feature_spec(max_seq_length, max_predictions_per_seq)

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        features = {name: tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
                    for name, value in parsed.items()}
        features[LABEL_FEATURE] = tf.squeeze(features[LABEL_FEATURE], axis=-1)
        return features

    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if dynamic_masker is not None:
        dataset = dataset.map(_dynamic_masking(dynamic_masker, max_predictions_per_seq, seed))

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = _SHARD_POLICIES[shard_policy]
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def _dynamic_masking(masker: NgramMasker, max_predictions_per_seq: int, seed: int | None):
    """A map function that re-draws the masks of a parsed batch."""
    rng = np.random.default_rng(seed)

    def remask(word_ids, input_mask, positions, labels, weights):
        word_ids = word_ids.copy()
        new_positions = np.zeros_like(positions)
        new_labels = np.zeros_like(labels)
        new_weights = np.zeros_like(weights)
        for row in range(word_ids.shape[0]):
            real = weights[row] > 0
            word_ids[row, positions[row, real]] = labels[row, real]  # undo the static masks
            length = int(input_mask[row].sum())
            masked = masker(word_ids[row, :length], rng)
            count = min(masked.positions.size, max_predictions_per_seq)
            word_ids[row, :length] = masked.input_ids
            new_positions[row, :count] = masked.positions[:count]
            new_labels[row, :count] = masked.labels[:count]
            new_weights[row, :count] = 1.0
        return word_ids, new_positions, new_labels, new_weights

    def apply(features):
        word_ids, positions, labels, weights = tf.numpy_function(
            remask,
            [features["input_word_ids"], features["input_mask"], features["masked_lm_positions"],
             features["masked_lm_ids"], features["masked_lm_weights"]],
            [tf.int32, tf.int32, tf.int32, tf.float32],
            stateful=True,
        )
        features = dict(features)
        for name, value in (("input_word_ids", word_ids), ("masked_lm_positions", positions),
                            ("masked_lm_ids", labels), ("masked_lm_weights", weights)):
            value.set_shape(features[name].shape)
            features[name] = value
        return features

    return apply
