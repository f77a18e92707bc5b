"""Batches of token ids cut to their longest sequence (dynamic padding), for models that pool.

Fine-tuning and prediction encode every example to the task's `max_seq_length` (128 by default),
but real sentences are short: SST-2's training phrases average 14 tokens and its dev sentences 28.
A classifier or multiple-choice model reads only its `[CLS]` position, and padding positions get
exactly zero attention weight (their score is -10000 below the rest: `exp` underflows to 0), so
every token past a batch's longest sequence is work whose result is thrown away. `LengthTrim`
cuts a batch's `input_word_ids`, `input_mask` and `input_type_ids` to its longest sequence,
rounded up to a multiple of 8 (or, under XLA, to a power of two, so that XLA compiles a handful
of shapes rather than one per length); the logits are those of the full-length batch up to float
rounding. `predict_by_length` also sorts the examples by length before batching (and restores
their order after), so that each batch holds sequences of about one length.

As Hugging Face's `DataCollatorWithPadding` and `group_by_length`; Keras' own `fit` pads every
batch to the preprocessor's `sequence_length`. Models whose outputs have a sequence axis (span
QA, token tagging) keep full-length batches. `benchmarks/length_batches.py` measures both.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from albert_tf.in_memory_batches import in_memory_batches

# The backbone's inputs that have a sequence axis (the last), padded at its end.
TOKEN_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


@dataclasses.dataclass(frozen=True)
class LengthTrim:
    """Cuts the token inputs of one batch to the batch's longest sequence.

    Args:
        powers_of_two: round the length up to a power of two (at least `multiple`) rather than to a
            multiple of `multiple`: fewer distinct shapes, for XLA (`jit_compile`), which compiles
            the step once per shape.
        multiple: round up to a multiple of this (8: the matmul kernels' vector width in float32).
    """

    powers_of_two: bool = False
    multiple: int = 8

    def __post_init__(self):
        if self.multiple < 1:
            raise ValueError(f"`multiple` must be at least 1. Received: multiple={self.multiple}")

    def length(self, longest: tf.Tensor, limit: tf.Tensor) -> tf.Tensor:
        """The length to cut to: `longest` rounded up as configured, at most `limit` (int32; elementwise)."""
        longest = tf.maximum(longest, 1)
        if self.powers_of_two:
            powers = tf.bitwise.left_shift(1, tf.range(31))  # 1, 2, 4, ... 2^30: the first at or above it
            at_least = powers >= longest[..., None]
            rounded = tf.maximum(tf.reduce_min(tf.where(at_least, powers, powers[-1]), axis=-1), self.multiple)
        else:
            rounded = (longest + self.multiple - 1) // self.multiple * self.multiple
        return tf.minimum(rounded, limit)

    def __call__(self, features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """`features` with each of `TOKEN_INPUTS` cut on its last axis; other entries as they are."""
        if "input_mask" not in features:
            raise ValueError(f"LengthTrim needs `input_mask` among the features; received {sorted(features)}")
        mask = features["input_mask"]
        limit = tf.shape(mask)[-1]
        # Padding sits at the end of each row, so a row's length is its mask's sum.
        longest = tf.cast(tf.reduce_max(tf.reduce_sum(tf.cast(mask, tf.int32), axis=-1)), tf.int32)
        length = self.length(longest, limit)
        return {name: value[..., :length] if name in TOKEN_INPUTS else value for name, value in features.items()}


def for_model(jit_compile: bool) -> LengthTrim:
    """The trim a model compiled with `jit_compile` wants: powers of two under XLA."""
    return LengthTrim(powers_of_two=bool(jit_compile))


def sequence_lengths(inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Each example's token count (of its longest choice, for [N, C, T] inputs), from `input_mask`."""
    lengths = np.asarray(inputs["input_mask"]).astype(bool).sum(axis=-1)
    return lengths.reshape(len(lengths), -1).max(axis=1)


def length_sorted_dataset(inputs: dict[str, np.ndarray], batch_size: int, trim: LengthTrim
                          ) -> tuple[tf.data.Dataset, np.ndarray]:
    """Batches of `inputs` in order of length, each cut by `trim`, and the order (input rows per output row).

    The sort is stable, so examples of one length keep their order.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be at least 1. Received: batch_size={batch_size}")
    order = np.argsort(sequence_lengths(inputs), kind="stable")
    tensors = {name: tf.convert_to_tensor(value) for name, value in inputs.items()}
    rows = len(order)
    sorted_rows = tf.constant(order, tf.int64)

    def batch(index):
        chosen = sorted_rows[index * batch_size:tf.minimum((index + 1) * batch_size, rows)]
        return trim({name: tf.gather(value, chosen) for name, value in tensors.items()})

    batches = -(-rows // batch_size)
    return in_memory_batches(tf.data.Dataset.range(batches).map(batch)), order


def predict_by_length(model: keras.Model, inputs: dict[str, np.ndarray], batch_size: int, *,
                      trim: LengthTrim | None = None, verbose: Any = 0, **predict_arguments: Any) -> Any:
    """`model.predict(inputs)` for a model whose outputs have no sequence axis, batched by length.

    `predict_arguments` (callbacks, ...) go to `predict`. Returns the outputs in the order of `inputs`
    (a NumPy array, or a nest of them as `predict` gives).
    """
    rows = len(np.asarray(inputs["input_mask"]))
    if rows == 0:
        return model.predict(inputs, batch_size=batch_size, verbose=verbose, **predict_arguments)
    dataset, order = length_sorted_dataset(inputs, batch_size, trim or LengthTrim())
    outputs = model.predict(dataset, verbose=verbose, **predict_arguments)
    restore = np.empty_like(order)
    restore[order] = np.arange(len(order))
    return tf.nest.map_structure(lambda array: np.asarray(array)[restore], outputs)
