"""`AlbertGraphTokenizer`: ALBERT tokenization as TensorFlow ops, ids identical to `AlbertTokenizer`.

For `tf.data` pipelines and SavedModels that take raw text. Each step of
`albert_tf.tokenizer.normalize_text` is rebuilt in-graph:

* whitespace collapse and the quote replacement: `tf.strings.regex_replace`,
  with the exact character class of Python's `str.split()`/`str.isspace()`
  (RE2's `\\s` is ASCII-only);
* accents and lowercase: per code point tables derived from Python's own
  `unicodedata` and `str.lower()` at construction, applied with a ragged
  gather, and the one context rule of `str.lower()` (final sigma) rebuilt
  from the same properties;
* SentencePiece: `tensorflow_text.FastSentencepieceTokenizer` (ids identical
  to the sentencepiece library on every code point and on all 32,580 lines
  of the Wikipedia test excerpt);
* the digit-comma re-split: `AlbertTokenizer.digit_comma_table` as a ragged
  gather.

Why tables rather than the ICU-backed ops: measured here (TF 2.20, tf-text
2.20.1, Python 3.11 / Unicode 14), `tensorflow_text.normalize_utf8(.., "NFKD")`
decomposes 118 code points that Python's Unicode 14 leaves alone (all
unassigned there), `tf.strings.lower(.., encoding="utf-8")` misses the 40
uppercase letters added in Unicode 14, truncates a string at its first NUL,
and decides final sigma differently next to ~300 Unicode-14 characters. The
tables make the in-graph text equal to Python's for every code point (tested
exhaustively).

One difference remains, in SentencePiece itself: both implementations sum
float32 piece scores from the start of the string, and past ~100k characters
in ONE string (measured: first at 97,624 characters of real text) rounding
decides between segmentations of a word whose scores differ by ~0.01, and
the two round differently. A 20k-word string differed in a handful of words
(same text, other split). Model inputs (<= 512 tokens) are far below that.

Export: the layer runs in a SavedModel (`tensorflow_text` must be imported
to load it). TFLite has no kernels for its string and ragged ops; the
text-in TFLite model uses `albert_tf.export.lite_text_tokenizer` instead.
"""

from __future__ import annotations

import base64
import functools
import os
import sys
import unicodedata
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from albert_tf.tokenizer import AlbertTokenizer, _check_max_seq_length

# File name of the SentencePiece model in a saved model's or preset's assets.
SPM_ASSET = "spiece.model"

_CAPITAL_SIGMA, _FINAL_SIGMA = 0x03A3, 0x03C2
# Character classes for the final-sigma rule of `str.lower()`.
_OTHER, _CASED, _CASE_IGNORABLE = 0, 1, 2


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertGraphTokenizer(keras.layers.Layer):
    """Text to ALBERT token ids in-graph, identical to `AlbertTokenizer.encode`.

    Call it on a `tf.string` tensor `[batch]` to get a `tf.RaggedTensor` of
    int32 ids `[batch, (tokens)]` without special tokens (a scalar string gives
    a 1-D int32 tensor). `pack_inputs` then builds fixed-length model inputs.
    Works eagerly, inside `tf.function` and in `tf.data.Dataset.map`. The
    SentencePiece model is saved as a Keras asset (`spiece.model` inside the
    `.keras` file or preset), so a saved model reloads without the original
    `.model` file.

    Building the layer takes about a second the first time in a process (the
    Unicode tables are computed once from Python's `unicodedata`, then cached).

    Invalid UTF-8 in the input raises `InvalidArgumentError`, as
    `AlbertTokenizer` raises ValueError on non-UTF-8 bytes. Strings longer
    than ~100k characters can differ in a few near-tie segmentations (see the
    module docstring).

    Args:
        spm_model: the SentencePiece `.model` file (path) or its bytes; None
            when Keras loads the layer (the model then comes from its assets).
        lower_case: lowercase, as `AlbertTokenizer`.
        strip_accents: NFKD-decompose and drop combining marks, as `AlbertTokenizer`.
        split_digit_comma: re-split pieces ending in a digit and ",", as `AlbertTokenizer`.

    Attributes:
        python_tokenizer: the `AlbertTokenizer` with the same model and options.

    Example:
    >>> tokenizer = AlbertGraphTokenizer("spiece.model")  # doctest: +SKIP
    >>> ids = tokenizer(tf.constant(["Héllo, World!", "In 1990, 2,000 people"]))  # doctest: +SKIP
    >>> inputs = tokenizer.pack_inputs(ids, max_seq_length=16)  # doctest: +SKIP
    >>> inputs["input_word_ids"].shape  # doctest: +SKIP
    TensorShape([2, 16])
    """

    def __init__(
        self,
        spm_model: str | os.PathLike | bytes | None = None,
        lower_case: bool = True,
        strip_accents: bool = True,
        split_digit_comma: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Keras would convert string inputs to backend tensors; keep tf tensors.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.lower_case = bool(lower_case)
        self.strip_accents = bool(strip_accents)
        self.split_digit_comma = bool(split_digit_comma)
        self.python_tokenizer: AlbertTokenizer | None = None
        if isinstance(spm_model, (bytes, bytearray)):
            self.set_model_proto(bytes(spm_model))
        elif spm_model is not None:
            self.python_tokenizer = AlbertTokenizer(spm_model, lower_case, strip_accents, split_digit_comma)
            self._build_tables()
        self.built = True

    def set_model_proto(self, proto: bytes, source: str = "<bytes>") -> None:
        """Loads the SentencePiece model from its serialized bytes (replacing any earlier one)."""
        self.python_tokenizer = AlbertTokenizer.from_serialized_proto(
            proto, self.lower_case, self.strip_accents, self.split_digit_comma, source=source
        )
        self._build_tables()

    def _build_tables(self) -> None:
        self._sentencepiece = tf_text.FastSentencepieceTokenizer(self.python_tokenizer.serialized_model_proto)
        table = self.python_tokenizer.digit_comma_table
        self._digit_comma = _RaggedMap.from_dict(table) if table else None
        tables = _unicode_tables()
        self._whitespace_run = tables["whitespace"]
        self._accents = tables["accents"] if self.strip_accents else None
        self._lower = tables["lower"] if self.lower_case else None
        self._sigma_keys, self._sigma_classes = tables["sigma"]

    def _require_model(self) -> AlbertTokenizer:
        if self.python_tokenizer is None:
            raise ValueError(
                f"AlbertGraphTokenizer {self.name!r} has no SentencePiece model: pass `spm_model`, or load a "
                f"saved model or preset (the model file is stored as the asset {SPM_ASSET})."
            )
        return self.python_tokenizer

    # --------------------------------------------------------------- assets
    def save_assets(self, dir_path: str) -> None:
        """Keras saving: writes the SentencePiece model as `<dir_path>/spiece.model`."""
        with open(os.path.join(dir_path, SPM_ASSET), "wb") as stream:
            stream.write(self._require_model().serialized_model_proto)

    def load_assets(self, dir_path: str) -> None:
        """Keras loading: reads `<dir_path>/spiece.model`."""
        path = os.path.join(dir_path, SPM_ASSET)
        if not os.path.isfile(path):
            raise ValueError(f"The saved tokenizer has no {SPM_ASSET} in {dir_path}; the model file is incomplete.")
        with open(path, "rb") as stream:
            self.set_model_proto(stream.read(), source=path)

    # ------------------------------------------------------------ properties
    @property
    def vocab_size(self) -> int:
        """Number of pieces in the SentencePiece model."""
        return self._require_model().vocab_size

    @property
    def pad_id(self) -> int:
        """Id of `<pad>`."""
        return self._require_model().pad_id

    @property
    def cls_id(self) -> int:
        """Id of `[CLS]`."""
        return self._require_model().cls_id

    @property
    def sep_id(self) -> int:
        """Id of `[SEP]`."""
        return self._require_model().sep_id

    @property
    def mask_id(self) -> int:
        """Id of `[MASK]`."""
        return self._require_model().mask_id

    # ---------------------------------------------------------------- graph
    def call(self, inputs: tf.Tensor) -> tf.RaggedTensor | tf.Tensor:
        return self.tokenize(inputs)

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor | tf.Tensor:
        """int32 ids `[batch, (tokens)]` of `texts` `[batch]` (a scalar gives `[tokens]`)."""
        self._require_model()
        texts = _as_string_tensor(texts)
        if texts.shape.rank == 0:
            return self.tokenize(texts[tf.newaxis])[0]
        ids = self._sentencepiece.tokenize(self.normalize(texts))
        ids = tf.cast(ids, tf.int32)
        if self._digit_comma is not None:
            ids = self._digit_comma(ids)
        return ids

    def normalize(self, texts: tf.Tensor) -> tf.Tensor:
        """The preprocessing alone, in-graph (equal to `AlbertTokenizer.normalize`)."""
        self._require_model()
        texts = _as_string_tensor(texts)
        if texts.shape.rank == 0:
            return self.normalize(texts[tf.newaxis])[0]
        texts = tf.strings.regex_replace(texts, self._whitespace_run, " ")
        texts = tf.strings.regex_replace(texts, "^ | $", "")
        texts = tf.strings.regex_replace(texts, "``|''", '"')
        # Decoding is also the UTF-8 check: invalid bytes raise here.
        code_points = tf.strings.unicode_decode(texts, "UTF-8", errors="strict")
        if self._accents is not None:
            code_points = self._accents(code_points)
        if self._lower is not None:
            final = tf.cond(
                tf.reduce_any(code_points.flat_values == _CAPITAL_SIGMA),
                lambda: _final_sigma(code_points, self._sigma_keys, self._sigma_classes),
                lambda: tf.zeros_like(code_points.flat_values, tf.bool),
            )
            code_points = code_points.with_flat_values(
                tf.where(final, _FINAL_SIGMA, code_points.flat_values)
            )
            code_points = self._lower(code_points)
        return tf.strings.unicode_encode(code_points, "UTF-8")

    def pack_inputs(
        self,
        ids_a: tf.RaggedTensor,
        ids_b: tf.RaggedTensor | None = None,
        max_seq_length: int = 128,
    ) -> dict[str, tf.Tensor]:
        """Fixed-length model inputs from ragged ids, exactly as `AlbertTokenizer.encode_pair`.

        `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, truncated from the end (the
        longer segment first) and padded with `pad_id`.

        Args:
            ids_a: int ids `[batch, (tokens)]` (this layer's output).
            ids_b: the second segments `[batch, (tokens)]`, or None.
            max_seq_length: the output length.

        Returns:
            `input_word_ids`, `input_mask`, `input_type_ids`: int32 `[batch, max_seq_length]`.
        """
        _check_max_seq_length(max_seq_length, pair=ids_b is not None)
        ids_a = _as_ragged(ids_a, "ids_a")
        length = max_seq_length
        positions = tf.range(length, dtype=tf.int64)[tf.newaxis, :]        # [1, L]
        length_a = ids_a.row_lengths()
        if ids_b is None:
            length_a = tf.minimum(length_a, length - 2)
        else:
            ids_b = _as_ragged(ids_b, "ids_b")
            length_a, length_b = _truncated_pair_lengths(length_a, ids_b.row_lengths(), length - 3)
            length_b = length_b[:, tf.newaxis]                            # [B, 1]
        length_a = length_a[:, tf.newaxis]                                # [B, 1]
        # Dense gathers, not ragged concatenation (whose shape asserts make
        # grappler warn in tf.data): position k of a row
        # reads token k-1 of A, or token k-(len(A)+2) of B.
        dense_a = ids_a.to_tensor(default_value=self.pad_id, shape=[None, length])
        word_ids = tf.gather(dense_a, tf.maximum(positions[0] - 1, 0), axis=1)
        word_ids = tf.where(positions <= length_a, word_ids, self.sep_id)
        word_ids = tf.where(positions == 0, self.cls_id, word_ids)
        end = length_a + 2                                                 # after [CLS] A [SEP]
        type_ids = tf.zeros_like(word_ids)
        if ids_b is not None:
            dense_b = ids_b.to_tensor(default_value=self.pad_id, shape=[None, length])
            index_b = tf.clip_by_value(positions - end, 0, length - 1)
            tokens_b = tf.gather(dense_b, index_b, axis=1, batch_dims=1)
            word_ids = tf.where(positions >= end, tf.where(positions < end + length_b, tokens_b, self.sep_id), word_ids)
            type_ids = tf.cast(positions >= end, tf.int32) + type_ids
            end = end + length_b + 1
        mask = positions < end
        return {
            "input_word_ids": tf.where(mask, word_ids, self.pad_id),
            "input_mask": tf.cast(mask, tf.int32),
            "input_type_ids": tf.where(mask, type_ids, 0),
        }

    def compute_output_spec(self, inputs: Any) -> keras.KerasTensor:
        shape = tuple(inputs.shape)
        return keras.KerasTensor(shape + (None,), dtype="int32", ragged=len(shape) == 1)

    # --------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        # The SentencePiece model is not in the config: Keras saves it as an
        # asset (`save_assets`), inside the `.keras` file or preset folder.
        config = super().get_config()
        config.update(
            lower_case=self.lower_case,
            strip_accents=self.strip_accents,
            split_digit_comma=self.split_digit_comma,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AlbertGraphTokenizer":
        config = dict(config)
        # `.keras` files written before the model became an asset carry its bytes here.
        encoded = config.pop("spm_model_base64", None)
        return cls(spm_model=base64.b64decode(encoded) if encoded is not None else None, **config)


# ----------------------------------------------------------------- helpers
class _RaggedMap:
    """Maps each int of a ragged `[batch, (n)]` tensor to a sequence of ints.

    Sparse: `keys` (sorted) map to rows of a ragged table; every other value
    maps to itself. Values that map to several ints lengthen their row, values
    that map to none are dropped.
    """

    def __init__(self, keys: np.ndarray, row_splits: np.ndarray, values: np.ndarray) -> None:
        self.keys = np.asarray(keys, np.int32)
        self.row_splits = np.asarray(row_splits, np.int32)
        self.values = np.asarray(values, np.int32)

    @classmethod
    def from_dict(cls, table: dict[int, tuple[int, ...]]) -> "_RaggedMap":
        keys = sorted(table)
        lengths = [len(table[key]) for key in keys]
        values = [value for key in keys for value in table[key]]
        return cls(np.array(keys), np.concatenate([[0], np.cumsum(lengths)]), np.array(values))

    @classmethod
    def from_strings(cls, table: dict[int, str]) -> "_RaggedMap":
        """From `code point -> replacement text`."""
        return cls.from_dict({code: tuple(map(ord, text)) for code, text in table.items()})

    def __call__(self, inputs: tf.RaggedTensor) -> tf.RaggedTensor:
        flat = inputs.flat_values                                    # [N]
        keys = tf.constant(self.keys)
        splits = tf.constant(self.row_splits)
        position = tf.minimum(tf.searchsorted(keys, flat, out_type=tf.int32), len(self.keys) - 1)
        hit = tf.gather(keys, position) == flat
        lengths = self.row_splits[1:] - self.row_splits[:-1]
        # Most hits replace one value by one value ("A" -> "a", "é" -> "e"): a
        # dense `where` then; the ragged expansion runs only when needed.
        single = np.where(lengths == 1, self.values[np.minimum(self.row_splits[:-1], len(self.values) - 1)], 0)
        single = tf.constant(single.astype(np.int32))
        resizes = hit & tf.gather(tf.constant(lengths != 1), position)

        def one_to_one() -> tf.RaggedTensor:
            return inputs.with_flat_values(tf.where(hit, tf.gather(single, position), flat))

        def general() -> tf.RaggedTensor:
            # Unmapped values are copied from `flat`, appended after the table values.
            source = tf.concat([tf.constant(self.values), flat], axis=0)
            starts = tf.where(hit, tf.gather(splits, position), len(self.values) + tf.range(tf.size(flat)))
            limits = tf.where(hit, tf.gather(splits, position + 1), starts + 1)
            indices = tf.ragged.range(starts, limits, row_splits_dtype=inputs.row_splits.dtype)  # [N, (m)]
            mapped = indices.with_flat_values(tf.gather(source, indices.flat_values))
            return inputs.with_flat_values(mapped).merge_dims(1, 2)  # [batch, (n * m)]

        return tf.cond(tf.reduce_any(resizes), general, one_to_one)


def _final_sigma(code_points: tf.RaggedTensor, keys: np.ndarray, classes: np.ndarray) -> tf.Tensor:
    """bool `[N]`: capital sigmas that `str.lower()` turns into final "ς".

    Python's rule: U+03A3 is final when the nearest non-case-ignorable
    character before it is cased and the nearest one after it (if any) is not.
    """
    flat = code_points.flat_values                                   # [N]
    size = tf.size(flat)
    keys_tensor = tf.constant(keys)
    position = tf.minimum(tf.searchsorted(keys_tensor, flat, out_type=tf.int32), len(keys) - 1)
    kind = tf.where(tf.gather(keys_tensor, position) == flat, tf.gather(tf.constant(classes), position), _OTHER)
    anchor = kind != _CASE_IGNORABLE                                 # the characters the scans stop at
    anchor_index = tf.cast(tf.where(anchor)[:, 0], tf.int32)
    # A sentinel anchor past the end keeps the gathers in range.
    anchor_index = tf.concat([anchor_index, [size]], axis=0)
    kind = tf.concat([kind, [_OTHER]], axis=0)
    before = tf.cumsum(tf.cast(anchor, tf.int32), exclusive=True)    # anchors strictly before i
    previous = tf.gather(anchor_index, tf.maximum(before - 1, 0))
    following = tf.gather(anchor_index, before + tf.cast(anchor, tf.int32))
    row = code_points.value_rowids()
    row_start = tf.cast(tf.gather(code_points.row_starts(), row), tf.int32)
    row_limit = tf.cast(tf.gather(code_points.row_limits(), row), tf.int32)
    cased_before = (before > 0) & (previous >= row_start) & (tf.gather(kind, previous) == _CASED)
    cased_after = (following < row_limit) & (tf.gather(kind, following) == _CASED)
    return (flat == _CAPITAL_SIGMA) & cased_before & ~cased_after


def _truncated_pair_lengths(length_a: tf.Tensor, length_b: tf.Tensor, budget: int) -> tuple[tf.Tensor, tf.Tensor]:
    """`albert_tf.tokenizer.truncated_pair_lengths` on vectors."""
    fits = length_a + length_b <= budget
    only_longer = 2 * tf.minimum(length_a, length_b) <= budget
    a_longer = length_a > length_b
    cut_a = tf.where(only_longer, tf.where(a_longer, budget - length_b, length_a), (budget + 1) // 2)
    cut_b = tf.where(only_longer, tf.where(a_longer, length_b, budget - length_a), budget // 2)
    return tf.where(fits, length_a, cut_a), tf.where(fits, length_b, cut_b)


def _as_string_tensor(texts: Any) -> tf.Tensor:
    texts = tf.convert_to_tensor(texts)
    if texts.dtype != tf.string:
        raise ValueError(f"AlbertGraphTokenizer expects tf.string text. Received dtype {texts.dtype.name}.")
    if texts.shape.rank not in (0, 1):
        raise ValueError(
            f"AlbertGraphTokenizer expects a string scalar or a [batch] vector. Received shape {texts.shape}."
        )
    return texts


def _as_ragged(ids: Any, name: str) -> tf.RaggedTensor:
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.convert_to_tensor(ids)
        if ids.shape.rank != 2:
            raise ValueError(f"`{name}` must be ids [batch, (tokens)]. Received shape {ids.shape}.")
        ids = tf.RaggedTensor.from_tensor(ids)
    return tf.cast(ids, tf.int32).with_row_splits_dtype(tf.int64)


# ------------------------------------------------- Unicode tables (Python's)
@functools.lru_cache(maxsize=None)
def _unicode_tables() -> dict[str, Any]:
    """The per code point behaviour of Python's `unicodedata` and `str.lower()`, as arrays.

    One pass over every assigned code point (private use has no decomposition,
    case or combining class, so it is skipped):

    * `accents`: code point -> its NFKD without combining marks, where that
      differs. Per character equals per string: NFKD's reordering only permutes
      combining marks, which are all dropped.
    * `lower`: code point -> `str.lower()` of it, where that differs ("Σ" -> "σ";
      the final "ς" is decided by `_final_sigma`).
    * `sigma`: sorted code points that are cased or case-ignorable for the
      final-sigma rule. Python does not expose these properties, so they are
      read off `str.lower()` itself: `c + "Σ"` ends in "ς" only when c is cased
      and not case-ignorable; `"A" + c + "Σ"` also does when c is
      case-ignorable (the backward scan skips it and finds the cased "A").
    * `whitespace`: an RE2 class matching a run of `str.isspace()` characters
      (what `str.split()` splits on; RE2's `\\s` is ASCII-only).
    """
    accents: dict[int, str] = {}
    lower: dict[int, str] = {}
    sigma_keys, sigma_classes, whitespace = [], [], []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) in ("Cn", "Co", "Cs"):
            continue
        stripped = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        if stripped != char:
            accents[code] = stripped
        if char.lower() != char:
            lower[code] = char.lower()
        if (char + "\u03a3").lower()[-1] == "\u03c2":
            sigma_keys.append(code)
            sigma_classes.append(_CASED)
        elif ("A" + char + "\u03a3").lower()[-1] == "\u03c2":
            sigma_keys.append(code)
            sigma_classes.append(_CASE_IGNORABLE)
        if char.isspace():
            whitespace.append(f"\\x{{{code:x}}}")
    return {
        "accents": _RaggedMap.from_strings(accents),
        "lower": _RaggedMap.from_strings(lower),
        "sigma": (np.array(sigma_keys, np.int32), np.array(sigma_classes, np.int32)),
        "whitespace": "[" + "".join(whitespace) + "]+",
    }
