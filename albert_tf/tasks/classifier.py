"""Sequence classification and regression on the pooled output."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from albert_tf.backbone import AlbertBackbone
from albert_tf.preprocessor import AlbertPreprocessor
from albert_tf.tasks.task_model import TaskModel, backbone_inputs, head_initializer


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertClassifier(TaskModel):
    """Logits over `num_classes` (GLUE classification), or one score when
    `num_classes=1` (regression, e.g. STS-B), from dropout + dense on the
    pooled `[CLS]` output. Outputs float32 `[batch, num_classes]` logits.

    With a preprocessor it takes raw strings (or string pairs) in `fit`,
    `evaluate` and `predict`, and `classify` returns label names with
    probabilities.

    Args:
        backbone: the encoder.
        num_classes: classes, or 1 for regression.
        dropout: dropout before the output layer (0.1 as the original fine-tuning).
        preprocessor: turns strings into the backbone's inputs (optional).
        labels: a name per class, in output order (default: "0", "1", ...).

    Example:
    >>> classifier = AlbertClassifier.from_preset("runs/sst2/model")  # doctest: +SKIP
    >>> classifier.classify(["A gripping, beautifully acted film."])  # doctest: +SKIP
    [{'label': 'positive', 'score': 0.97, 'probabilities': {'negative': 0.03, 'positive': 0.97}}]
    """

    preset_kind = "classifier"
    pools_sequence = True

    def __init__(self, backbone: AlbertBackbone, num_classes: int, dropout: float = 0.1,
                 preprocessor: AlbertPreprocessor | None = None, labels: Sequence[str] | None = None, **kwargs):
        if num_classes < 1:
            raise ValueError(f"`num_classes` must be >= 1. Received: num_classes={num_classes}")
        inputs = backbone_inputs()
        pooled = backbone(inputs)["pooled_output"]
        pooled = keras.layers.Dropout(dropout, name="classifier_dropout")(pooled)
        logits = keras.layers.Dense(num_classes, kernel_initializer=head_initializer(backbone),
                                    dtype="float32", name="classifier")(pooled)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._num_classes = num_classes
        self._store(backbone, preprocessor, labels, num_classes=num_classes, dropout=dropout)

    @property
    def num_label_names(self) -> int | None:
        return self._num_classes if self._num_classes > 1 else None

    @property
    def label_names(self) -> list[str]:
        """The class names: `labels`, else "0", "1", ..."""
        return list(self.labels) if self.labels else [str(index) for index in range(self._num_classes)]

    def classify(self, texts: Any, batch_size: int | None = None, verbose: Any = 0, *,
                 return_token_counts: bool = False) -> list[dict[str, Any]] | tuple[list[dict[str, Any]], list[int]]:
        """Label, score and per-class probabilities (softmax of the logits) for each text.

        `texts`: strings, or a pair `(texts_a, texts_b)` for a text-pair model.
        A regression head (`num_classes=1`) gives `{"score": value}`.
        With `return_token_counts=True` it returns `(results, token_counts)`:
        each text's token count before truncation (special tokens included;
        above `preprocessor.sequence_length` when the text was cut), from the
        same tokenization as the model's inputs (see `predict_text`).
        """
        logits, token_counts = self._predict_for_answers(texts, batch_size, verbose, return_token_counts)
        logits = np.asarray(logits, np.float64)
        if self._num_classes == 1:
            results = [{"score": float(value)} for value in logits[:, 0]]
        else:
            names = self.label_names
            results = []
            for row in softmax(logits):
                best = int(np.argmax(row))
                results.append({"label": names[best], "score": float(row[best]),
                                "probabilities": {name: float(value) for name, value in zip(names, row)}})
        return (results, token_counts.tolist()) if return_token_counts else results


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (stable)."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
