"""Token classification (e.g. named entities): labels for every token."""

from __future__ import annotations

import keras

from typing import Any, Sequence

import numpy as np

from albert_tf.backbone import AlbertBackbone
from albert_tf.preprocessor import AlbertPreprocessor
from albert_tf.tasks.task_model import TaskModel, backbone_inputs, head_initializer


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertTokenClassifier(TaskModel):
    """Dropout + dense on every token of the sequence output; float32
    `[batch, seq, num_labels]` logits.

    Args:
        backbone: the encoder.
        num_labels: labels per token.
        dropout: dropout before the output layer.
        preprocessor: turns strings into the backbone's inputs (optional).
        labels: a name per token label, in output order.
    """

    preset_kind = "token_classifier"

    def __init__(self, backbone: AlbertBackbone, num_labels: int, dropout: float = 0.1,
                 preprocessor: AlbertPreprocessor | None = None, labels: Sequence[str] | None = None, **kwargs):
        if num_labels < 1:
            raise ValueError(f"`num_labels` must be >= 1. Received: num_labels={num_labels}")
        inputs = backbone_inputs()
        sequence = backbone(inputs)["sequence_output"]
        sequence = keras.layers.Dropout(dropout, name="token_dropout")(sequence)
        logits = keras.layers.Dense(num_labels, kernel_initializer=head_initializer(backbone), dtype="float32",
                                    name="token_classifier")(sequence)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._num_labels = num_labels
        self._store(backbone, preprocessor, labels, num_labels=num_labels, dropout=dropout)

    @property
    def num_label_names(self) -> int | None:
        return self._num_labels

    def tag(self, texts: Any, batch_size: int | None = None, *, return_token_counts: bool = False
            ) -> list[list[dict[str, Any]]] | tuple[list[list[dict[str, Any]]], list[int]]:
        """For each text, its SentencePiece pieces with the predicted label and its probability.

        With `return_token_counts=True` it returns `(results, token_counts)`:
        each text's token count before truncation, special tokens included
        (above `preprocessor.sequence_length` when pieces past the first
        `sequence_length - 2` were cut, and are missing from its result), from
        the tokenization that made the model's inputs (see `predict_text`).
        """
        from albert_tf.tasks.classifier import softmax

        texts = [texts] if isinstance(texts, (str, bytes)) else list(texts)
        logits, token_counts = self._predict_for_answers(texts, batch_size, 0, return_token_counts)
        logits = np.asarray(logits, np.float64)
        names = list(self.labels) if self.labels else [str(index) for index in range(self._num_labels)]
        tokenizer = self.preprocessor.tokenizer.python_tokenizer
        results = []
        for text, row in zip(texts, softmax(logits)):
            pieces = tokenizer.tokenize(text)[: self.preprocessor.sequence_length - 2]
            # Position 0 is [CLS]: piece k sits at position k + 1.
            results.append([{"piece": piece, "label": names[int(np.argmax(row[k + 1]))],
                             "score": float(np.max(row[k + 1]))} for k, piece in enumerate(pieces)])
        return (results, token_counts.tolist()) if return_token_counts else results
