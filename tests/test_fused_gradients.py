"""The training-time layers with fused (XLA) ops equal autodiff through the plain layers.

`AlbertLayerNorm`, the feed-forward block, self-attention and the masked-LM loss take a cheaper
path when `training=True` (albert_tf/fused_ops.py, benchmarks/small_model_step.py); these tests
compare every output and gradient with the plain Keras computation on random weights, in a
compiled function as `fit` runs them.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf import fused_ops
from albert_tf.layers import AlbertFeedForward, AlbertLayerNorm, AlbertSelfAttention


def _randomize(layer: keras.layers.Layer, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for variable in layer.trainable_variables:
        variable.assign(rng.normal(1.0 if "gamma" in variable.path else 0.0, 0.5, variable.shape))


def _outputs_and_gradients(layer, inputs, upstream, training, *extra_inputs):
    @tf.function
    def run():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs, *extra_inputs, training=training)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * upstream)
        return [outputs] + tape.gradient(loss, [inputs] + [v.value for v in layer.trainable_variables])
    return [np.asarray(tf.cast(t, tf.float32)) for t in run()]


def _layer_and_extra_inputs(layer_kind, width, dtype="float32"):
    if layer_kind == "layer_norm":
        return AlbertLayerNorm(epsilon=1e-12, dtype=dtype), ()
    if layer_kind == "feed_forward":
        return AlbertFeedForward(width, 40, dtype=dtype), ()
    # Two heads; the last two positions of the second sequence are padding.
    bias = np.zeros((2, 1, 1, 5), "float32")
    bias[1, ..., -2:] = -10000.0
    return AlbertSelfAttention(width, 2, dtype=dtype), (tf.constant(bias),)


@pytest.mark.parametrize("layer_kind", ["layer_norm", "feed_forward", "attention"])
def test_fused_training_path_equals_inference_path(layer_kind):
    shape = (2, 5, 16)
    inputs = tf.constant(np.random.default_rng(0).normal(0.5, 2.0, shape), tf.float32)
    upstream = tf.constant(np.random.default_rng(1).normal(size=shape), tf.float32)
    layer, extra_inputs = _layer_and_extra_inputs(layer_kind, shape[-1])
    layer.build(shape)
    _randomize(layer, seed=2)
    # training=False runs Keras' own ops (what export traces); training=True the fused ops.
    fused = _outputs_and_gradients(layer, inputs, upstream, True, *extra_inputs)
    plain = _outputs_and_gradients(layer, inputs, upstream, False, *extra_inputs)
    assert len(fused) == len(plain) == 2 + len(layer.trainable_variables)
    for got, want in zip(fused, plain):
        # (The attention key bias has no effect on the outputs: its gradient is rounding noise
        # around 0 on both paths, hence the floor of 1 under the scale.)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * max(float(np.max(np.abs(want))), 1.0))


@pytest.mark.parametrize("layer_kind", ["layer_norm", "feed_forward", "attention"])
def test_fused_ops_under_mixed_bfloat16_stay_close(layer_kind):
    shape = (2, 5, 32)
    inputs = tf.constant(np.random.default_rng(3).normal(size=shape), tf.bfloat16)
    upstream = tf.constant(np.random.default_rng(4).normal(size=shape), tf.float32)
    layer, extra_inputs = _layer_and_extra_inputs(layer_kind, shape[-1], dtype="mixed_bfloat16")
    layer.build(shape)
    _randomize(layer, seed=5)
    fused = _outputs_and_gradients(layer, inputs, upstream, True, *extra_inputs)
    plain = _outputs_and_gradients(layer, inputs, upstream, False, *extra_inputs)
    # The key bias's gradient is zero in exact arithmetic (softmax ignores a constant added to a row
    # of scores): both paths give bfloat16 rounding noise there. So an array far smaller than the
    # layer's largest is compared at the scale of 5% of the largest.
    largest = max(float(np.max(np.abs(want))) for want in plain)
    for got, want in zip(fused, plain):
        scale = max(float(np.max(np.abs(want))), 0.05 * largest)
        np.testing.assert_allclose(got, want, rtol=0.05, atol=0.05 * scale)


def test_masked_lm_cross_entropy_equals_tensorflow_kernel():
    rng = np.random.default_rng(6)
    logits = tf.constant(rng.normal(0, 4, (4, 3, 50)), tf.float32)
    labels = tf.constant(rng.integers(0, 50, (4, 3)), tf.int32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours, predictions = fused_ops.sparse_cross_entropy(labels, logits)
        reference = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5)
    np.testing.assert_array_equal(predictions.numpy(), np.argmax(logits.numpy(), axis=-1))
    np.testing.assert_allclose(tape.gradient(ours, logits).numpy(), tape.gradient(reference, logits).numpy(), atol=1e-6)


def test_masked_lm_arg_max_takes_the_first_of_tied_maxima_and_survives_large_logits():
    # Rounded logits tie often; the arg-max must pick the first maximum, as tf.argmax does.
    rng = np.random.default_rng(7)
    logits = np.round(rng.normal(0, 1, (64, 40))).astype(np.float32)
    logits[0] = 3.0  # every entry tied
    logits[1, [5, 17, 39]] = 500.0  # far above the rest: exp must not overflow
    labels = tf.constant(rng.integers(0, 40, (64,)), tf.int32)
    losses, predictions = fused_ops.sparse_cross_entropy(labels, tf.constant(logits))
    np.testing.assert_array_equal(predictions.numpy(), np.argmax(logits, axis=-1))
    reference = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.constant(logits))
    np.testing.assert_allclose(losses.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5)
