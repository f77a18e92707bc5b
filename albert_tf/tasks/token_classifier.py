"""Token classification (e.g. named entities): labels for every token."""

from __future__ import annotations

import keras

from albert_tf.backbone import AlbertBackbone
from albert_tf.tasks.task_model import TaskModel, backbone_inputs, head_initializer


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertTokenClassifier(TaskModel):
    """Dropout + dense on every token of the sequence output; float32
    `[batch, seq, num_labels]` logits.

    Args:
        backbone: the encoder.
        num_labels: labels per token.
        dropout: dropout before the output layer.
    """

    def __init__(self, backbone: AlbertBackbone, num_labels: int, dropout: float = 0.1, **kwargs):
        if num_labels < 1:
            raise ValueError(f"`num_labels` must be >= 1. Received: num_labels={num_labels}")
        inputs = backbone_inputs()
        sequence = backbone(inputs)["sequence_output"]
        sequence = keras.layers.Dropout(dropout, name="token_dropout")(sequence)
        logits = keras.layers.Dense(num_labels, kernel_initializer=head_initializer(backbone), dtype="float32",
                                    name="token_classifier")(sequence)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._store(backbone, num_labels=num_labels, dropout=dropout)
