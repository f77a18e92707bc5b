"""`AlbertPreprocessor`: raw text (or text pairs) to the backbone's three inputs, as a Keras layer.

It wraps `AlbertGraphTokenizer` (ALBERT's exact preprocessing in-graph) and
packs `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]` to `sequence_length`. The
SentencePiece model is saved as the tokenizer's asset, so a task model that
holds a preprocessor travels whole in a `.keras` file or a preset folder.
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from albert_tf.graph_tokenizer import AlbertGraphTokenizer
from albert_tf.tokenizer import _check_max_seq_length


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertPreprocessor(keras.layers.Layer):
    """Strings in, `input_word_ids` / `input_mask` / `input_type_ids` out.

    Call it on a batch of strings `[B]` (one text per example), a pair
    `(texts_a [B], texts_b [B])`, or, for multiple choice, `(contexts [B],
    choices [B, C])` which gives `[B, C, sequence_length]` inputs. With labels
    (`preprocessor(x, y)`) it returns `(inputs, y)`, so it maps over a
    `tf.data.Dataset` of `(text, label)` elements. `pack_with_counts(x)` also
    gives each example's token count before truncation, from the same
    tokenization (how `albert predict` tells which inputs were cut).

    Args:
        tokenizer: the in-graph tokenizer (its SentencePiece model is saved as an asset).
        sequence_length: tokens per packed sequence, special tokens included.
        text_pair: whether the model takes text pairs; a pair given to a
            single-text model (or the reverse) is an error, not a silent guess.

    Example:
    >>> preprocessor = AlbertPreprocessor.from_spm_model("spiece.model", 32)  # doctest: +SKIP
    >>> preprocessor(["A fine film."])["input_word_ids"].shape  # doctest: +SKIP
    TensorShape([1, 32])
    """

    def __init__(self, tokenizer: AlbertGraphTokenizer, sequence_length: int = 128, text_pair: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        if not isinstance(tokenizer, AlbertGraphTokenizer):
            raise ValueError(f"`tokenizer` must be an AlbertGraphTokenizer. Received: {type(tokenizer).__name__}")
        _check_max_seq_length(sequence_length, pair=text_pair)
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.text_pair = bool(text_pair)
        self.built = True

    @classmethod
    def from_spm_model(cls, spm_model: str | os.PathLike | bytes, sequence_length: int = 128,
                       text_pair: bool = False, **tokenizer_options: Any) -> "AlbertPreprocessor":
        """A preprocessor over a SentencePiece `.model` file (or its bytes)."""
        return cls(AlbertGraphTokenizer(spm_model, **tokenizer_options, name="tokenizer"), sequence_length, text_pair)

    @property
    def vocab_size(self) -> int:
        """Pieces in the tokenizer's SentencePiece model."""
        return self.tokenizer.vocab_size

    def call(self, x: Any, y: Any = None, sample_weight: Any = None) -> Any:
        inputs, _ = self.pack_with_counts(x)
        return keras.utils.pack_x_y_sample_weight(inputs, y, sample_weight)

    def pack_with_counts(self, x: Any) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """The model inputs of `x` (what calling the layer gives) and each example's untruncated token count.

        The counts come from the same tokenization as the inputs: the tokens
        the packed sequence would hold without truncation, special tokens
        included (`len(A) + 2` for `[CLS] A [SEP]`, `len(A) + len(B) + 3` for
        `[CLS] A [SEP] B [SEP]`). An example was truncated exactly when its
        count is above `sequence_length`.

        Returns:
            `(inputs, token_counts)`: int32 counts `[B]`, or `[B, C]` (one per
            choice) for multiple-choice `(contexts [B], choices [B, C])`.
        """
        texts = split_texts(x)
        if (len(texts) == 2) != self.text_pair:
            given = "a text pair" if len(texts) == 2 else "one text"
            expected = "text pairs (text_a, text_b)" if self.text_pair else "one text per example"
            raise ValueError(f"This model takes {expected}, but {given} per example was given.")
        if len(texts) == 2 and texts[1].shape.rank == 2:
            return self._pack_choices(texts[0], texts[1])
        ids = [self.tokenizer(text) for text in texts]
        inputs = self.tokenizer.pack_inputs(*ids, max_seq_length=self.sequence_length)
        return inputs, _untruncated_counts(ids)

    def _pack_choices(self, contexts: tf.Tensor, choices: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        # [B] contexts x [B, C] choices -> every (context, choice) pair packed, [B, C, L]. Each context is
        # tokenized once and its ids repeated for its C choices.
        num_choices = tf.shape(choices)[1]
        context_ids = self.tokenizer(contexts)                                      # [B, (tokens)]
        repeated = tf.repeat(tf.range(tf.shape(contexts, out_type=tf.int64)[0]), num_choices)
        ids = [tf.gather(context_ids, repeated), self.tokenizer(tf.reshape(choices, [-1]))]  # [B * C, (tokens)]
        packed = self.tokenizer.pack_inputs(*ids, max_seq_length=self.sequence_length)
        inputs = {name: tf.reshape(value, [-1, num_choices, self.sequence_length]) for name, value in packed.items()}
        return inputs, tf.reshape(_untruncated_counts(ids), [-1, num_choices])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            tokenizer=keras.saving.serialize_keras_object(self.tokenizer),
            sequence_length=self.sequence_length,
            text_pair=self.text_pair,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AlbertPreprocessor":
        config = dict(config)
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)


def _untruncated_counts(ids: list[tf.RaggedTensor]) -> tf.Tensor:
    """int32 `[B]`: `[CLS]`, then each segment's tokens and its `[SEP]`, before truncation."""
    return 1 + tf.add_n([tf.cast(segment.row_lengths(), tf.int32) + 1 for segment in ids])


def is_text(x: Any) -> bool:
    """Whether `x` is raw text a preprocessor takes: strings, or a pair of string batches."""
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, tf.data.Dataset):
        first = x.element_spec[0] if isinstance(x.element_spec, tuple) else x.element_spec
        return any(spec.dtype == tf.string for spec in tf.nest.flatten(first) if hasattr(spec, "dtype"))
    if isinstance(x, tuple) and len(x) == 2 and all(_is_text_batch(part) for part in x):
        return True
    return _is_text_batch(x)


def _is_text_batch(x: Any) -> bool:
    if isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        return x.dtype == tf.string
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO" and x.size > 0 and isinstance(x.flat[0], (str, bytes))
    if isinstance(x, list):
        return len(x) > 0 and all(isinstance(item, (str, bytes)) or _is_text_batch(item) for item in x)
    return False


def split_texts(x: Any) -> tuple[tf.Tensor, ...]:
    """One string tensor (single texts) or two (pairs) from what a user passes."""
    if isinstance(x, dict):
        raise ValueError("The preprocessor takes strings; this model input is a dict (token ids?). Pass token ids "
                         "to the model directly, or raw strings to a model that has a preprocessor.")
    if isinstance(x, (tuple, list)) and len(x) == 2 and not isinstance(x[0], (str, bytes)):
        return tuple(_as_strings(part) for part in x)
    return (_as_strings(x),)


def _as_strings(x: Any) -> tf.Tensor:
    if isinstance(x, (str, bytes)):
        x = [x]
    if isinstance(x, np.ndarray):
        x = x.tolist()
    tensor = tf.convert_to_tensor(x)
    if tensor.dtype != tf.string:
        raise ValueError(f"Expected strings, got a {tensor.dtype.name} tensor.")
    return tensor
