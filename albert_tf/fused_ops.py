"""Training-only ops whose forward and backward passes are each one XLA-compiled kernel.

Autodiff through a transformer block's elementwise work (bias adds, GELU, LayerNorm) chains a
dozen TensorFlow ops, each one pass over a [B, T, H] or [B, T, I] tensor. On a 2-core CPU those
passes, not the matmuls, are what separate a small model's training step from its matmul floor
(benchmarks/small_model_step.py). Each op here computes the same values with a
`tf.custom_gradient` whose forward and backward elementwise work are single fused kernels
(`tf.function(jit_compile=True)`); the matmuls stay TensorFlow's (oneDNN) kernels, and the
LayerNorm's scale and offset gradients stay TensorFlow ops: column sums that no next op waits
for, which run beside the matmuls.
`benchmarks/fused_ops_ab.py` times each against TensorFlow's plain form in the training step:
the fused GELU pays (5-18 ms a step on the demo's model), the cross-entropy 1-6 ms, LayerNorm
2-6 ms, the attention softmax's gradient 5-21 ms. The softmax's forward pass stays TensorFlow's
kernel: fused forward and backward, it made the step slower (7-9 ms in float32).

Only the layers' training path (`training=True`, TensorFlow backend) uses them: inference and
export trace the plain Keras ops, which the TFLite converter and MediaPipe know.
"""

from __future__ import annotations

import math

import tensorflow as tf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_CUBIC = 0.044715


def _gelu_tanh_and_slope(x32: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """gelu_tanh(x) and its derivative, sharing the one tanh (float32 in, float32 out)."""
    t = tf.tanh(_SQRT_2_OVER_PI * (x32 + _CUBIC * x32 * x32 * x32))
    slope = 0.5 * (1.0 + t) + 0.5 * x32 * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3.0 * _CUBIC * x32 * x32)
    return 0.5 * x32 * (1.0 + t), slope


@tf.function(jit_compile=True, autograph=False)
def _biased_gelu_tanh(pre_activation: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    # (XLA drops the unused slope.)
    activated, _ = _gelu_tanh_and_slope(tf.cast(pre_activation, tf.float32) + tf.cast(bias, tf.float32))
    return tf.cast(activated, pre_activation.dtype)


@tf.function(jit_compile=True, autograph=False)
def _biased_gelu_tanh_backward(upstream: tf.Tensor, pre_activation: tf.Tensor,
                               bias: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The activation again, and the gradients w.r.t. the pre-activation and the bias: one pass."""
    x32 = tf.cast(pre_activation, tf.float32) + tf.cast(bias, tf.float32)
    activated, slope = _gelu_tanh_and_slope(x32)
    d_x = tf.cast(upstream, tf.float32) * slope
    return (tf.cast(activated, pre_activation.dtype), tf.cast(d_x, pre_activation.dtype),
            tf.reduce_sum(d_x, axis=0))


@tf.custom_gradient
def gelu_tanh_then_dense(pre_activation: tf.Tensor, bias: tf.Tensor, kernel: tf.Tensor, output_bias: tf.Tensor):
    """gelu_tanh(pre_activation + bias) @ kernel + output_bias, for 2-D `pre_activation` [rows, I].

    The feed-forward block's second half. Autodiff would keep the activation [rows, I] alive
    from the forward to the backward pass, for the kernel's gradient; here the backward pass
    computes it again, in the same fused pass over the pre-activation that the GELU gradient
    reads anyway, so only the pre-activation is kept: one [rows, I] tensor per depth less at
    the memory peak of a training step (benchmarks/memory.py), for about no time.
    """
    activated = _biased_gelu_tanh(pre_activation, bias)
    outputs = tf.nn.bias_add(tf.matmul(activated, kernel), tf.cast(output_bias, kernel.dtype))

    def gradient(upstream):
        d_activated = tf.matmul(upstream, kernel, transpose_b=True)
        activated_again, d_pre_activation, d_bias = _biased_gelu_tanh_backward(d_activated, pre_activation, bias)
        d_kernel = tf.matmul(activated_again, upstream, transpose_a=True)
        d_output_bias = tf.reduce_sum(tf.cast(upstream, tf.float32), axis=0)
        return d_pre_activation, tf.cast(d_bias, bias.dtype), d_kernel, tf.cast(d_output_bias, output_bias.dtype)

    return outputs, gradient


@tf.function(jit_compile=True, autograph=False)
def _layer_norm_forward(inputs, gamma, beta, epsilon):
    x32 = tf.cast(inputs, tf.float32)
    mean, variance = tf.nn.moments(x32, axes=[-1], keepdims=True)
    inverse_std = tf.math.rsqrt(variance + epsilon)
    normalized = (x32 - mean) * inverse_std
    return normalized * gamma + beta, normalized, inverse_std


@tf.function(jit_compile=True, autograph=False)
def _layer_norm_input_gradient(upstream, normalized, inverse_std, gamma):
    """Gradient of y = normalized * gamma + beta w.r.t. x (last axis normalised)."""
    upstream = tf.cast(upstream, tf.float32)
    scaled = upstream * gamma
    width = tf.cast(tf.shape(normalized)[-1], tf.float32)
    mean_scaled = tf.reduce_sum(scaled, axis=-1, keepdims=True) / width
    mean_projection = tf.reduce_sum(scaled * normalized, axis=-1, keepdims=True) / width
    return inverse_std * (scaled - mean_scaled - normalized * mean_projection)


def layer_norm(inputs: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float,
               output_dtype: tf.DType) -> tf.Tensor:
    """LayerNorm over the last axis, computed in float32 and cast to `output_dtype`."""

    @tf.custom_gradient
    def forward(x, scale, shift):
        outputs, normalized, inverse_std = _layer_norm_forward(x, scale, shift, epsilon)

        def gradient(upstream):
            d_inputs = _layer_norm_input_gradient(upstream, normalized, inverse_std, scale)
            # The scale and offset gradients as TensorFlow ops, outside the kernel: the next
            # backward matmul waits only for d_inputs, and these column sums run beside it
            # on the executor's other thread (inside the kernel they delayed it: 3-5 ms a tiny step).
            upstream32 = tf.cast(upstream, tf.float32)
            rows = tf.range(tf.rank(upstream32) - 1)
            d_scale = tf.reduce_sum(upstream32 * normalized, axis=rows)
            d_shift = tf.reduce_sum(upstream32, axis=rows)
            return tf.cast(d_inputs, x.dtype), d_scale, d_shift

        return tf.cast(outputs, output_dtype), gradient

    return forward(inputs, tf.cast(gamma, tf.float32), tf.cast(beta, tf.float32))


@tf.function(jit_compile=True, autograph=False)
def _softmax_backward(upstream: tf.Tensor, probs: tf.Tensor) -> tf.Tensor:
    return (upstream - tf.reduce_sum(upstream * probs, axis=-1, keepdims=True)) * probs


def softmax(scores: tf.Tensor) -> tf.Tensor:
    """softmax over the last axis of float32 `scores`: TensorFlow's kernel forward, one XLA kernel back.

    Autodiff of `tf.nn.softmax` takes four passes over the [B, N, T, T] scores (multiply, row sum,
    subtract, multiply); this gradient is one.
    """

    @tf.custom_gradient
    def forward(x):
        probs = tf.nn.softmax(x)
        return probs, lambda upstream: _softmax_backward(upstream, probs)

    return forward(scores)


@tf.function(jit_compile=True, autograph=False)
def _cross_entropy_forward(labels, logits):
    """Losses, arg-max and log-normalizer of each row, from one kernel."""
    label_logits = tf.gather(logits, labels, batch_dims=1)
    top = tf.reduce_max(logits, axis=-1, keepdims=True)
    log_normalizer = tf.math.log(tf.reduce_sum(tf.exp(logits - top), axis=-1)) + top[:, 0]
    # The first index holding the maximum, as tf.argmax gives: XLA's CPU arg-max (a variadic
    # reduce) is not vectorised and took twice as long as this whole kernel.
    width = tf.shape(logits)[-1]
    first_top = tf.reduce_min(tf.where(logits == top, tf.range(width)[None, :], width), axis=-1)
    return log_normalizer - label_logits, first_top, log_normalizer


@tf.function(jit_compile=True, autograph=False)
def _cross_entropy_backward(upstream, labels, logits, log_normalizer):
    # softmax(logits) from the forward's log-normalizer: one pass over the logits, not three.
    probs = tf.exp(logits - log_normalizer[:, None])
    one_hot = tf.one_hot(labels, tf.shape(logits)[-1], dtype=logits.dtype)
    return (probs - one_hot) * upstream[:, None]


def sparse_cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """-log softmax(logits)[label] over the last axis of float32 `logits`, and the arg-max.

    Returns the losses (shaped like `labels`) and the predicted class of each row (int32, for
    accuracy), from one pass over the logits. The losses equal
    `tf.nn.sparse_softmax_cross_entropy_with_logits` to float rounding (whose kernel is not
    parallelised over rows); labels must lie in [0, vocabulary).
    """
    shape = tf.shape(labels)
    flat_labels = tf.reshape(tf.cast(labels, tf.int32), [-1])

    @tf.custom_gradient
    def forward(flat_logits):
        losses, predictions, log_normalizer = _cross_entropy_forward(flat_labels, flat_logits)

        def gradient(upstream, _):
            return _cross_entropy_backward(upstream, flat_labels, flat_logits, log_normalizer)

        return (losses, predictions), gradient

    width = tf.shape(logits)[-1]
    losses, predictions = forward(tf.reshape(logits, [-1, width]))
    return tf.reshape(losses, shape), tf.reshape(predictions, shape)
