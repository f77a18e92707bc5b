"""Sequence classification and regression on the pooled output."""

from __future__ import annotations

import keras

from albert_tf.backbone import AlbertBackbone
from albert_tf.tasks.task_model import TaskModel, backbone_inputs, head_initializer


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertClassifier(TaskModel):
    """Logits over `num_classes` (GLUE classification), or one score when
    `num_classes=1` (regression, e.g. STS-B), from dropout + dense on the
    pooled `[CLS]` output. Outputs float32 `[batch, num_classes]` logits.

    Args:
        backbone: the encoder.
        num_classes: classes, or 1 for regression.
        dropout: dropout before the output layer (0.1 as the original fine-tuning).
    """

    def __init__(self, backbone: AlbertBackbone, num_classes: int, dropout: float = 0.1, **kwargs):
        if num_classes < 1:
            raise ValueError(f"`num_classes` must be >= 1. Received: num_classes={num_classes}")
        inputs = backbone_inputs()
        pooled = backbone(inputs)["pooled_output"]
        pooled = keras.layers.Dropout(dropout, name="classifier_dropout")(pooled)
        logits = keras.layers.Dense(num_classes, kernel_initializer=head_initializer(backbone),
                                    dtype="float32", name="classifier")(pooled)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._store(backbone, num_classes=num_classes, dropout=dropout)
