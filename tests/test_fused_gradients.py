"""The training-time layers with fused (XLA) gradients equal autodiff through the plain layers.

`AlbertLayerNorm`, the feed-forward block and the masked-LM loss take a cheaper path when
`training=True` (benchmarks/small_model_step.py); these tests compare every output and gradient
with the plain Keras computation on random weights, in a compiled function as `fit` runs them.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf.activations import gelu_tanh, gelu_tanh_fused_gradient
from albert_tf.layers import AlbertFeedForward, AlbertLayerNorm
from albert_tf.pretrainer import _sparse_cross_entropy


def _randomize(layer: keras.layers.Layer, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for variable in layer.trainable_variables:
        variable.assign(rng.normal(1.0 if "gamma" in variable.path else 0.0, 0.5, variable.shape))


def _outputs_and_gradients(layer, inputs, upstream, training):
    @tf.function
    def run():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs, training=training)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * upstream)
        return [outputs] + tape.gradient(loss, [inputs] + [v.value for v in layer.trainable_variables])
    return [np.asarray(tf.cast(t, tf.float32)) for t in run()]


@pytest.mark.parametrize("layer_kind", ["layer_norm", "feed_forward"])
def test_fused_training_path_equals_inference_path(layer_kind):
    shape = (3, 7, 16)
    inputs = tf.constant(np.random.default_rng(0).normal(0.5, 2.0, shape), tf.float32)
    upstream = tf.constant(np.random.default_rng(1).normal(size=shape), tf.float32)
    layer = AlbertLayerNorm(epsilon=1e-12) if layer_kind == "layer_norm" else AlbertFeedForward(16, 40)
    layer.build(shape)
    _randomize(layer, seed=2)
    # training=False runs Keras' own ops (what export traces); training=True the fused gradient.
    fused = _outputs_and_gradients(layer, inputs, upstream, training=True)
    plain = _outputs_and_gradients(layer, inputs, upstream, training=False)
    assert len(fused) == len(plain) == 2 + len(layer.trainable_variables)
    for got, want in zip(fused, plain):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * float(np.max(np.abs(want))))


def test_fused_gradients_under_mixed_bfloat16_stay_close():
    shape = (2, 5, 32)
    inputs = tf.constant(np.random.default_rng(3).normal(size=shape), tf.bfloat16)
    upstream = tf.constant(np.random.default_rng(4).normal(size=shape), tf.float32)
    layer = AlbertLayerNorm(epsilon=1e-12, dtype="mixed_bfloat16")
    layer.build(shape)
    _randomize(layer, seed=5)
    fused = _outputs_and_gradients(layer, inputs, upstream, training=True)
    plain = _outputs_and_gradients(layer, inputs, upstream, training=False)
    for got, want in zip(fused, plain):
        np.testing.assert_allclose(got, want, rtol=0.05, atol=0.05 * float(np.max(np.abs(want))))


def test_gelu_fused_gradient_equals_autodiff():
    x = tf.constant(np.linspace(-6, 6, 1001), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        plain, fused = gelu_tanh(x), gelu_tanh_fused_gradient(x)
    np.testing.assert_array_equal(fused.numpy(), plain.numpy())
    np.testing.assert_allclose(tape.gradient(fused, x).numpy(), tape.gradient(plain, x).numpy(), atol=1e-5)


def test_masked_lm_cross_entropy_equals_tensorflow_kernel():
    rng = np.random.default_rng(6)
    logits = tf.constant(rng.normal(0, 4, (4, 3, 50)), tf.float32)
    labels = tf.constant(rng.integers(0, 50, (4, 3)), tf.int32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours = _sparse_cross_entropy(labels, logits)
        reference = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(ours, logits).numpy(), tape.gradient(reference, logits).numpy(), atol=1e-6)
