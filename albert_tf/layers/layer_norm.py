"""LayerNorm whose training-time forward and input gradient are one XLA kernel each.

Keras' `LayerNormalization` is a chain of elementwise ops and reductions
(moments, rsqrt, scale, shift); autodiff through it adds about twice as many
passes over the [B, T, H] activations. For a small model on a CPU those
passes, not the matmuls, are what separate a training step from its matmul
floor (benchmarks/small_model_step.py). `AlbertLayerNorm` is that same layer
(same weights, names and checkpoint layout; inference and export run Keras'
own `call`), with a `tf.custom_gradient` in training whose forward pass and input
gradient are each one XLA kernel (`albert_tf.fused_ops.layer_norm`; the scale and offset
gradients are two column sums beside them).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from albert_tf import fused_ops


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertLayerNorm(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` over the last axis, with a fused gradient in training.

    Takes the same arguments; only last-axis normalisation with centre and
    scale (what every transformer block uses) takes the fused path, anything
    else runs Keras' own.
    """

    def call(self, inputs, training=None):
        axes = list(self.axis) if isinstance(self.axis, (list, tuple)) else [self.axis]
        fused = (training and keras.backend.backend() == "tensorflow" and self.center and self.scale
                 and not self.rms_scaling and axes in ([-1], [len(inputs.shape) - 1]))
        if not fused:
            return super().call(inputs)
        return fused_ops.layer_norm(inputs, tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta), self.epsilon,
                                         tf.as_dtype(self.compute_dtype))
