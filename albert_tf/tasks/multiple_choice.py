"""Multiple choice (e.g. RACE): one score per (context, choice) sequence."""

from __future__ import annotations

import keras
from keras import ops

from typing import Any, Sequence

import numpy as np

from albert_tf.backbone import INPUT_NAMES, AlbertBackbone
from albert_tf.preprocessor import AlbertPreprocessor
from albert_tf.tasks.task_model import TaskModel, head_initializer


@keras.saving.register_keras_serializable(package="albert_tf")
class MergeChoices(keras.layers.Layer):
    """[batch, choices, seq] -> [batch * choices, seq], with a dynamic seq."""

    def call(self, inputs):
        return ops.reshape(inputs, (-1, ops.shape(inputs)[-1]))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None or input_shape[1] is None else input_shape[0] * input_shape[1]
        return (batch, input_shape[-1])


@keras.saving.register_keras_serializable(package="albert_tf")
class SplitChoices(keras.layers.Layer):
    """[batch * choices, 1] scores -> [batch, choices]."""

    def __init__(self, num_choices: int, **kwargs):
        super().__init__(**kwargs)
        self.num_choices = num_choices

    def call(self, scores):
        return ops.reshape(scores, (-1, self.num_choices))

    def compute_output_shape(self, input_shape):
        return (None, self.num_choices)

    def get_config(self):
        return {**super().get_config(), "num_choices": self.num_choices}


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertMultipleChoice(TaskModel):
    """Scores `num_choices` sequences per example and returns float32
    `[batch, num_choices]` logits (softmax across choices for training).

    Inputs are the backbone's three inputs with a choice axis:
    int32 `[batch, num_choices, seq]`. They are flattened to
    `[batch * num_choices, seq]` for the encoder, so every choice is encoded
    independently with the same weights.

    Args:
        backbone: the encoder.
        num_choices: choices per example (4 for RACE).
        dropout: dropout before the scoring layer.
        preprocessor: a text-pair preprocessor; then `predict((contexts [B],
            choices [B, C]))` takes strings, each choice paired with its context.
        labels: a name per choice position (e.g. "A", "B", "C", "D").
    """

    preset_kind = "multiple_choice"
    pools_sequence = True

    def __init__(self, backbone: AlbertBackbone, num_choices: int, dropout: float = 0.1,
                 preprocessor: AlbertPreprocessor | None = None, labels: Sequence[str] | None = None, **kwargs):
        if num_choices < 2:
            raise ValueError(f"`num_choices` must be >= 2. Received: num_choices={num_choices}")
        inputs = {name: keras.Input(shape=(num_choices, None), dtype="int32", name=name) for name in INPUT_NAMES}
        merge = MergeChoices(name="merge_choices")
        flat = {name: merge(tensor) for name, tensor in inputs.items()}
        pooled = backbone(flat)["pooled_output"]  # [B * C, H]
        pooled = keras.layers.Dropout(dropout, name="choice_dropout")(pooled)
        scores = keras.layers.Dense(1, kernel_initializer=head_initializer(backbone), dtype="float32",
                                    name="choice_score")(pooled)  # [B * C, 1]
        logits = SplitChoices(num_choices, name="choice_logits")(scores)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._num_choices = num_choices
        self._store(backbone, preprocessor, labels, num_choices=num_choices, dropout=dropout)

    @property
    def num_label_names(self) -> int | None:
        return self._num_choices

    def choose(self, contexts: Sequence[str], choices: Sequence[Sequence[str]], batch_size: int | None = None, *,
               return_token_counts: bool = False
               ) -> list[dict[str, Any]] | tuple[list[dict[str, Any]], list[list[int]]]:
        """The best choice for each context (`choices[i]` holds `num_choices` strings), with probabilities.

        With `return_token_counts=True` it returns `(results, token_counts)`:
        per example, the untruncated token count of each `[CLS] context [SEP]
        choice [SEP]` sequence (a list of `num_choices` ints; above
        `preprocessor.sequence_length` where the pair was cut), from the
        tokenization that made the model's inputs (see `predict_text`).
        """
        from albert_tf.tasks.classifier import softmax

        if any(len(row) != self._num_choices for row in choices):
            raise ValueError(f"Every example needs exactly {self._num_choices} choices.")
        logits, token_counts = self._predict_for_answers((list(contexts), [list(row) for row in choices]),
                                                         batch_size, 0, return_token_counts)
        names = list(self.labels) if self.labels else [str(index) for index in range(self._num_choices)]
        results = [{"choice": int(np.argmax(row)), "label": names[int(np.argmax(row))], "score": float(np.max(row)),
                    "probabilities": dict(zip(names, map(float, row)))}
                   for row in softmax(np.asarray(logits, np.float64))]
        return (results, token_counts.tolist()) if return_token_counts else results
