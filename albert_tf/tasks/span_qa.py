"""Extractive question answering: start and end logits over the sequence."""

from __future__ import annotations

import keras

from albert_tf.backbone import AlbertBackbone
from albert_tf.tasks.task_model import TaskModel, backbone_inputs, head_initializer


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertSpanQA(TaskModel):
    """SQuAD-style span prediction: a dense layer gives each token a start and
    an end score. Outputs float32 `start_logits` and `end_logits` [batch, seq].
    SQuAD v2 "no answer" is scored at position 0 ([CLS]), as in BERT and ALBERT.

    Args:
        backbone: the encoder.
    """

    def __init__(self, backbone: AlbertBackbone, **kwargs):
        inputs = backbone_inputs()
        sequence = backbone(inputs)["sequence_output"]  # [B, T, H]
        logits = keras.layers.Dense(2, kernel_initializer=head_initializer(backbone), dtype="float32",
                                    name="span_logits")(sequence)  # [B, T, 2]
        outputs = {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self._store(backbone)
