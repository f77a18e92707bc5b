"""Multi-head scaled dot-product self-attention."""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from albert_tf import fused_ops
from albert_tf.layers.dense_rows import dense_rows, scaled_weights


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertSelfAttention(keras.layers.Layer):
    """Self-attention with separate query/key/value/output projections.

    Written with plain dense projections, reshapes and batched matmuls (no
    einsum) so that it lowers to builtin TFLite ops (FULLY_CONNECTED,
    BATCH_MATMUL) and XLA fuses it well. The separate [H, H] kernels mirror the
    original checkpoints, which keeps converters one-to-one.

    Args:
        hidden_size: H.
        num_heads: number of heads N; D = H / N.
        initializer_range: stddev of the truncated-normal initializer.
        dropout: dropout rate on the attention probabilities.
    """

    def __init__(self, hidden_size: int, num_heads: int, initializer_range: float = 0.02,
                 dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                "`hidden_size` must be divisible by `num_heads`. "
                f"Received: hidden_size={hidden_size}, num_heads={num_heads}"
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.initializer_range = initializer_range
        self.dropout = dropout
        self.head_size = hidden_size // num_heads

        def projection(name):
            return keras.layers.Dense(
                hidden_size,
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
                dtype=self.dtype_policy,
                name=name,
            )

        self.query = projection("query")
        self.key = projection("key")
        self.value = projection("value")
        self.output_dense = projection("output")
        self.probs_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="probs_dropout")

    def build(self, input_shape):
        for dense in (self.query, self.key, self.value, self.output_dense):
            dense.build(input_shape)
        self.built = True

    def _split_heads(self, x, batch, seq_length):
        x = ops.reshape(x, (batch, seq_length, self.num_heads, self.head_size))  # [B, T, N, D]
        return ops.transpose(x, (0, 2, 1, 3))  # [B, N, T, D]

    def _project(self, dense: keras.layers.Dense, hidden, training, scale: float | None = None):
        """`dense(hidden)` for [B, T, H] `hidden`, times `scale` (folded into the kernel and bias)."""
        if not training:
            # Inference on [B * T, H] rows, where TensorFlow fuses the bias into the matmul
            # (dense_rows). Training keeps the [B, T, H] form: rows made its step no faster
            # (benchmarks/small_model_step.py; docs/benchmarks.md).
            rows = tf.reshape(hidden, [-1, self.hidden_size])
            return tf.reshape(dense_rows(dense, rows, scale=scale), tf.shape(hidden))
        if scale is None:
            return dense(hidden)
        kernel, bias = scaled_weights(dense, scale)
        return tf.nn.bias_add(ops.matmul(hidden, kernel), bias)

    def call(self, hidden, attention_bias, training=None):
        # Legend: B batch, T sequence, H hidden, N heads, D head size.
        # hidden: [B, T, H]; attention_bias: [B, 1, 1, T], 0 on tokens, large negative on padding.
        batch, seq_length = ops.shape(hidden)[0], ops.shape(hidden)[1]
        # 1/sqrt(D) is folded into the [H, H] query kernel and bias: no pass over [B, T, H] or the
        # [B, N, T, T] scores for it.
        scale = 1.0 / math.sqrt(self.head_size)
        query = self._split_heads(self._project(self.query, hidden, training, scale=scale), batch, seq_length)
        key = self._split_heads(self._project(self.key, hidden, training), batch, seq_length)
        value = self._split_heads(self._project(self.value, hidden, training), batch, seq_length)

        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))  # [B, N, T, T]
        # Softmax in float32 even under mixed precision: half-precision sums
        # over long rows lose the small probabilities. In training TensorFlow's softmax kernel runs
        # forward and one XLA kernel backward (fused_ops.softmax); a softmax fused forward too was
        # slower (benchmarks/fused_ops_ab.py).
        scores = ops.cast(scores, "float32") + ops.cast(attention_bias, "float32")
        fused = training and keras.backend.backend() == "tensorflow"
        probs = fused_ops.softmax(scores) if fused else ops.softmax(scores, axis=-1)
        probs = ops.cast(probs, self.compute_dtype)
        probs = self.probs_dropout(probs, training=training)

        context = ops.matmul(probs, value)  # [B, N, T, D]
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (batch, seq_length, self.hidden_size))
        return self._project(self.output_dense, context, training)  # [B, T, H]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            initializer_range=self.initializer_range,
            dropout=self.dropout,
        )
        return config
