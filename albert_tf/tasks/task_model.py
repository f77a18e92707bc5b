"""What every task model shares: backbone inputs, an optional preprocessor and label names,
text in `fit` / `evaluate` / `predict`, and the config with the backbone."""

from __future__ import annotations

import os
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from albert_tf.backbone import INPUT_NAMES, AlbertBackbone
from albert_tf.in_memory_batches import in_memory_batches
from albert_tf.length_batches import LengthTrim, for_model, predict_by_length
from albert_tf.preprocessor import AlbertPreprocessor, is_text, split_texts

# Batch size of `predict` / `evaluate` on raw strings when none is given (Keras' own default).
DEFAULT_TEXT_BATCH = 32
# Texts tokenized per eager call of the preprocessor.
_TOKENIZE_CHUNK = 4096


def backbone_inputs() -> dict[str, keras.KerasTensor]:
    """The three int32 [batch, seq] inputs, named as the backbone's."""
    return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}


def head_initializer(backbone: AlbertBackbone) -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=backbone.config.initializer_range)


class TaskModel(keras.Model):
    """Base of the task models: stores the backbone, the head's arguments, the
    preprocessor and the label names, and serializes them (the backbone and
    the preprocessor as nested Keras objects; the SentencePiece model as the
    preprocessor's asset).

    With a preprocessor, `fit`, `evaluate` and `predict` take raw strings (a
    list, a NumPy array, a `tf.string` tensor, a pair of those for text-pair
    tasks, or a `tf.data.Dataset` of `(text, label)`); token-id dicts work as
    before.
    """

    # The `task` name a preset records (see `albert_tf.preset_format`).
    preset_kind: str = ""
    # Whether the outputs read only pooled positions (no sequence axis): then `predict` on raw
    # strings batches them by length, each batch cut to its longest sequence (albert_tf.length_batches).
    pools_sequence: bool = False

    def _store(self, backbone: AlbertBackbone, preprocessor: AlbertPreprocessor | None = None,
               labels: Sequence[str] | None = None, **head_arguments: Any) -> None:
        self.backbone = backbone
        self._head_arguments = head_arguments
        for name, value in head_arguments.items():
            setattr(self, name, value)
        if preprocessor is not None and not isinstance(preprocessor, AlbertPreprocessor):
            raise ValueError(f"`preprocessor` must be an AlbertPreprocessor. Received: {type(preprocessor).__name__}")
        if preprocessor is not None and preprocessor.tokenizer.python_tokenizer is not None:
            check_vocabulary(preprocessor.vocab_size, backbone.config.vocab_size)
        self.preprocessor = preprocessor
        self.labels = None if labels is None else [str(label) for label in labels]
        if self.labels is not None:
            expected = self.num_label_names
            if expected is None or len(self.labels) != expected:
                raise ValueError(f"{len(self.labels)} label names were given but the {type(self).__name__} head has "
                                 f"{expected} outputs; give one name per output ({self.labels[:5]}...).")
            if len(set(self.labels)) != len(self.labels):
                raise ValueError(f"Label names must be distinct. Received: {self.labels}")

    @property
    def num_label_names(self) -> int | None:
        """How many label names the head takes (None: the head has no named outputs)."""
        return None

    # ------------------------------------------------------------------ text in
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, sample_weight: Any = None,
            validation_data: Any = None, **kwargs: Any):
        if self._takes_text(x):
            # Keras shuffles arrays before each epoch but not a Dataset: the text's Dataset shuffles itself.
            x = self.text_dataset(x, y, sample_weight, batch_size, shuffle=bool(kwargs.get("shuffle", True)))
            kwargs["shuffle"] = False  # (done)
            y = sample_weight = batch_size = None
            if validation_data is not None and not isinstance(validation_data, tf.data.Dataset):
                val_x, val_y, val_weight = keras.utils.unpack_x_y_sample_weight(tuple(validation_data))
                validation_data = self.text_dataset(val_x, val_y, val_weight, kwargs.get("validation_batch_size"))
            elif validation_data is not None:
                validation_data = self.text_dataset(validation_data)
        return super().fit(x=x, y=y, batch_size=batch_size, sample_weight=sample_weight,
                           validation_data=validation_data, **kwargs)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, sample_weight: Any = None,
                 **kwargs: Any):
        if self._takes_text(x):
            x = self.text_dataset(x, y, sample_weight, batch_size)
            y = sample_weight = batch_size = None
        return super().evaluate(x=x, y=y, batch_size=batch_size, sample_weight=sample_weight, **kwargs)

    def predict(self, x: Any, batch_size: int | None = None, **kwargs: Any):
        if self._takes_text(x):
            if self.pools_sequence and not isinstance(x, tf.data.Dataset):
                return self._predict_by_length(self.text_features(x)[0], batch_size, **kwargs)
            x = self.text_dataset(x, batch_size=batch_size)
            batch_size = None
        return super().predict(x, batch_size=batch_size, **kwargs)

    def _length_trim(self) -> LengthTrim:
        # Under XLA, lengths round up to powers of two: fewer shapes to compile.
        return for_model(getattr(self, "jit_compile", False) is True)

    def _predict_by_length(self, features: dict[str, tf.Tensor], batch_size: int | None, **kwargs: Any) -> Any:
        return predict_by_length(self, features, batch_size or DEFAULT_TEXT_BATCH, trim=self._length_trim(), **kwargs)

    def _takes_text(self, x: Any) -> bool:
        if not is_text(x):
            return False
        if self.preprocessor is None:
            raise ValueError(f"This {type(self).__name__} has no preprocessor, so it takes token ids, not text. Load "
                             "it from a preset (from_preset) or pass preprocessor=AlbertPreprocessor(...).")
        return True

    def text_dataset(self, x: Any, y: Any = None, sample_weight: Any = None,
                     batch_size: int | None = None, shuffle: bool = False) -> tf.data.Dataset:
        """A batched `tf.data.Dataset` of model inputs (and targets) from raw strings.

        `shuffle`: a new order at every pass, as `fit` on arrays. A model that pools
        (`pools_sequence`) gets each batch cut to its longest sequence (albert_tf.length_batches).
        """
        preprocessor = self.preprocessor
        if isinstance(x, tf.data.Dataset):
            return x.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        features, _ = self.text_features(x)
        elements = (features,) if y is None else (features, y) if sample_weight is None else (features, y, sample_weight)
        dataset = tf.data.Dataset.from_tensor_slices(elements)
        if shuffle:
            dataset = dataset.shuffle(int(features[INPUT_NAMES[0]].shape[0]), reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size or DEFAULT_TEXT_BATCH)
        if self.pools_sequence:
            trim = self._length_trim()
            dataset = dataset.map(lambda inputs, *targets: (trim(inputs), *targets))
        return in_memory_batches(dataset)

    def text_features(self, x: Any) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """The model inputs of raw strings `x`, and each example's untruncated token count.

        See `AlbertPreprocessor.pack_with_counts`: the counts come from the
        tokenization that made the inputs, so telling which examples were
        truncated costs no second tokenization.
        """
        preprocessor = self.preprocessor
        texts = split_texts(x)
        if (len(texts) == 2) != preprocessor.text_pair:
            given = "a text pair" if len(texts) == 2 else "one text"
            expected = "text pairs (text_a, text_b)" if preprocessor.text_pair else "one text per example"
            raise ValueError(f"This {type(self).__name__} takes {expected}, but {given} per example was given.")
        # Tokenized eagerly, in chunks: the tokenizer's ops are vectorized, and
        # mapping it over a dataset would trace a new graph on every call.
        count = int(texts[0].shape[0])
        chunks = [preprocessor.pack_with_counts(tuple(part[start:start + _TOKENIZE_CHUNK] for part in texts)
                                                if len(texts) == 2 else texts[0][start:start + _TOKENIZE_CHUNK])
                  for start in range(0, count, _TOKENIZE_CHUNK)]
        if not chunks:
            return preprocessor.pack_with_counts(tuple(texts) if len(texts) == 2 else texts[0])
        features = {name: tf.concat([inputs[name] for inputs, _ in chunks], axis=0) for name in chunks[0][0]}
        return features, tf.concat([token_counts for _, token_counts in chunks], axis=0)

    def predict_text(self, x: Any, batch_size: int | None = None, verbose: Any = 0) -> tuple[Any, np.ndarray]:
        """`predict` on raw strings that also gives each example's untruncated token count.

        Returns:
            `(outputs, token_counts)`: the outputs `predict(x)` gives, and int32
            `[B]` counts (`[B, C]` for multiple choice) from the same
            tokenization; a count above the preprocessor's `sequence_length`
            marks an example that was truncated.
        """
        if isinstance(x, tf.data.Dataset) or not self._takes_text(x):
            raise ValueError(f"predict_text takes raw strings (a list, array or string tensor, or a pair of them). "
                             f"Received: {type(x).__name__}")
        features, token_counts = self.text_features(x)
        if self.pools_sequence:
            return self._predict_by_length(features, batch_size, verbose=verbose), token_counts.numpy()
        dataset = tf.data.Dataset.from_tensor_slices(features).batch(batch_size or DEFAULT_TEXT_BATCH)
        outputs = super().predict(in_memory_batches(dataset), verbose=verbose)
        return outputs, token_counts.numpy()

    def _predict_for_answers(self, x: Any, batch_size: int | None, verbose: Any,
                             count_tokens: bool) -> tuple[Any, np.ndarray | None]:
        # `classify` / `tag` / `choose`: `predict_text` when the caller asked for
        # token counts, else `predict` as before (which also takes token ids or a Dataset).
        if count_tokens:
            return self.predict_text(x, batch_size=batch_size, verbose=verbose)
        return self.predict(x, batch_size=batch_size, verbose=verbose), None

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        config = {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            **self._head_arguments,
            "name": self.name,
            "trainable": self.trainable,
        }
        if self.preprocessor is not None:
            config["preprocessor"] = keras.saving.serialize_keras_object(self.preprocessor)
        if self.labels is not None:
            config["labels"] = list(self.labels)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        return cls(**config)

    # ------------------------------------------------------------------ presets
    @classmethod
    def from_preset(cls, preset: str | os.PathLike, *, sequence_length: int | None = None,
                    text_pair: bool | None = None, dtype: Any = None, **head_arguments: Any):
        """This task model from a preset folder.

        A preset of the same task kind loads whole (head, labels and
        tokenizer), unless `head_arguments` change the head's size. From
        another kind (a pretrainer or backbone preset, say) the encoder and
        tokenizer load and a new head is made from `head_arguments`
        (e.g. `num_classes=2, labels=["negative", "positive"]`).

        Args:
            preset: the preset folder.
            sequence_length: the preprocessor's packed length (default: the preset's).
            text_pair: whether the model takes text pairs (default: the preset's).
            dtype: the backbone's dtype policy.
            **head_arguments: the head's constructor arguments.
        """
        from albert_tf.preset_format import load_head_weights, make_preprocessor, read_preset

        spec = read_preset(preset)
        backbone = AlbertBackbone.from_preset(preset, dtype=dtype)
        preprocessor = make_preprocessor(spec, sequence_length, text_pair)
        same_kind = spec.kind == cls.preset_kind
        arguments = {**spec.head, **head_arguments} if same_kind else dict(head_arguments)
        load_head = same_kind and all(arguments.get(name) == spec.head.get(name) for name in _SIZE_ARGUMENTS)
        if "labels" not in arguments and load_head:
            arguments["labels"] = spec.labels
        model = cls(backbone, preprocessor=preprocessor, **arguments)
        if load_head:
            load_head_weights(model, backbone, spec)
        return model

    def save_to_preset(self, preset: str | os.PathLike, provenance: dict[str, Any] | None = None,
                       overwrite: bool = False) -> None:
        """Writes the model (encoder, head, tokenizer, labels, task kind) as a preset folder.

        Args:
            preset: the folder; written aside and renamed into place.
            provenance: how the model was made (data, steps, dev metrics), recorded in config.json.
            overwrite: replace an existing preset folder.
        """
        from albert_tf.preset_format import save_model_preset

        save_model_preset(preset, self, self.backbone, self.preset_kind, head=self._head_arguments,
                          labels=self.labels, preprocessor=self.preprocessor, provenance=provenance,
                          overwrite=overwrite)


# Head arguments that change the head's variables' shapes.
_SIZE_ARGUMENTS = ("num_classes", "num_labels", "num_choices")


def check_vocabulary(tokenizer_size: int, model_size: int, source: str = "the tokenizer") -> None:
    """A tokenizer whose pieces do not fit the embedding table is a mismatch, never a silent clamp."""
    if tokenizer_size > model_size:
        raise ValueError(f"{source} has {tokenizer_size} pieces but the model's vocab_size is {model_size}; use the "
                         "SentencePiece model the backbone was trained with.")
