"""Position-wise feed-forward network (H -> I -> H)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from albert_tf.activations import get_activation
from albert_tf.fused_ops import gelu_tanh_then_dense
from albert_tf.layers.dense_rows import dense_rows


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertFeedForward(keras.layers.Layer):
    """Dense to the intermediate width, activation, dense back to H.

    Args:
        hidden_size: H.
        intermediate_size: I.
        activation: a name from `albert_tf.activations.ACTIVATIONS`.
        initializer_range: stddev of the truncated-normal initializer.
    """

    def __init__(self, hidden_size: int, intermediate_size: int, activation: str = "gelu_tanh",
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.initializer_range = initializer_range
        self._activation_fn = get_activation(activation)

        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.intermediate = keras.layers.Dense(
            intermediate_size, kernel_initializer=initializer, dtype=self.dtype_policy, name="intermediate"
        )
        self.output_dense = keras.layers.Dense(
            hidden_size, kernel_initializer=initializer, dtype=self.dtype_policy, name="output"
        )

    def build(self, input_shape):
        self.intermediate.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_size,))
        self.built = True

    def call(self, hidden, training=None):
        # hidden: [B, T, H] -> [B, T, I] -> [B, T, H].
        if not training:
            # On [B * T, H] rows TensorFlow fuses each bias, and GELU, into its matmul (dense_rows).
            rows = tf.reshape(hidden, [-1, self.hidden_size])
            outputs = dense_rows(self.output_dense, self._activation_fn(dense_rows(self.intermediate, rows)))
            return tf.reshape(outputs, tf.shape(hidden))
        if self.activation == "gelu_tanh":
            # Both matmuls on 2-D rows (a rank-3 matmul broadcasts the kernel, and its gradient then sums
            # over the batch); the bias adds, GELU and the output matmul with one custom gradient that
            # keeps only the pre-activation for the backward pass (same values, cheaper to differentiate).
            rows = tf.reshape(hidden, [-1, self.hidden_size])
            pre_activation = tf.matmul(rows, ops.cast(self.intermediate.kernel, self.compute_dtype))
            outputs = gelu_tanh_then_dense(pre_activation, tf.identity(self.intermediate.bias.value),
                                           ops.cast(self.output_dense.kernel, self.compute_dtype),
                                           tf.identity(self.output_dense.bias.value))
            return tf.reshape(outputs, tf.shape(hidden))
        return self.output_dense(self._activation_fn(self.intermediate(hidden)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            activation=self.activation,
            initializer_range=self.initializer_range,
        )
        return config
