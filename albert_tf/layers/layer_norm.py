"""LayerNorm whose training-time gradient is one XLA kernel.

Keras' `LayerNormalization` is a chain of elementwise ops and reductions
(moments, rsqrt, scale, shift); autodiff through it adds about twice as many
passes over the [B, T, H] activations. For a small model on a CPU those
passes, not the matmuls, are what separate a training step from its matmul
floor (benchmarks/small_model_step.py). `AlbertLayerNorm` is that same layer
(same weights, names and checkpoint layout; inference and export run Keras'
own `call`), with a `tf.custom_gradient` in training whose backward pass is
compiled by XLA into a single fused kernel.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@tf.function(jit_compile=True, autograph=False)
def _layer_norm_backward(upstream, normalized, inverse_std, gamma):
    """Gradients of y = normalized * gamma + beta w.r.t. x, gamma and beta (last axis normalised)."""
    upstream = tf.cast(upstream, tf.float32)
    scaled = upstream * gamma
    width = tf.cast(tf.shape(normalized)[-1], tf.float32)
    mean_scaled = tf.reduce_sum(scaled, axis=-1, keepdims=True) / width
    mean_projection = tf.reduce_sum(scaled * normalized, axis=-1, keepdims=True) / width
    d_inputs = inverse_std * (scaled - mean_scaled - normalized * mean_projection)
    rows = tf.range(tf.rank(upstream) - 1)
    return d_inputs, tf.reduce_sum(upstream * normalized, axis=rows), tf.reduce_sum(upstream, axis=rows)


def layer_norm_fused_gradient(inputs: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float,
                              output_dtype: tf.DType) -> tf.Tensor:
    """LayerNorm over the last axis in float32, with the fused XLA gradient."""

    @tf.custom_gradient
    def forward(x, scale, shift):
        x32 = tf.cast(x, tf.float32)
        mean, variance = tf.nn.moments(x32, axes=[-1], keepdims=True)
        inverse_std = tf.math.rsqrt(variance + epsilon)
        normalized = (x32 - mean) * inverse_std
        outputs = tf.cast(normalized * scale + shift, output_dtype)

        def gradient(upstream):
            d_inputs, d_scale, d_shift = _layer_norm_backward(upstream, normalized, inverse_std, scale)
            return tf.cast(d_inputs, x.dtype), d_scale, d_shift

        return outputs, gradient

    return forward(inputs, tf.cast(gamma, tf.float32), tf.cast(beta, tf.float32))


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
        return layer_norm_fused_gradient(inputs, tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta), self.epsilon,
                                         tf.as_dtype(self.compute_dtype))
