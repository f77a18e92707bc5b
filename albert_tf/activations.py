"""Activation functions by explicit name.

ALBERT uses the tanh approximation of GELU. It is also the only GELU that
lowers to builtin TFLite ops (the exact form needs Erf).

For training, `training_activation` gives `gelu_tanh` with its own gradient:
the same forward ops as `tf.nn.gelu(approximate=True)`, and one XLA-compiled
kernel for the backward pass instead of the dozen elementwise ops autodiff
chains over the [B, T, I] activations (on a 2-core CPU the largest non-matmul
cost of a small model's training step: benchmarks/small_model_step.py).
Inference and export keep the plain functions: a custom gradient changes the
traced graph that the TFLite converter sees.
"""

from __future__ import annotations

import math
from typing import Callable

import keras
import tensorflow as tf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_CUBIC = 0.044715


@tf.function(jit_compile=True, autograph=False)
def _gelu_tanh_backward(upstream: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
    """d gelu_tanh(x) / dx times `upstream`, fused by XLA into one pass."""
    dtype = x.dtype
    x32 = tf.cast(x, tf.float32)
    t = tf.tanh(_SQRT_2_OVER_PI * (x32 + _CUBIC * x32 * x32 * x32))
    slope = 0.5 * (1.0 + t) + 0.5 * x32 * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3.0 * _CUBIC * x32 * x32)
    return tf.cast(tf.cast(upstream, tf.float32) * slope, dtype)


@tf.custom_gradient
def gelu_tanh_fused_gradient(x: tf.Tensor):
    """`gelu_tanh` whose gradient is one XLA kernel (TensorFlow backend, training only)."""
    y = tf.nn.gelu(x, approximate=True)

    def gradient(upstream):
        return _gelu_tanh_backward(upstream, x)

    return y, gradient


def gelu_tanh(x):
    """GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return keras.activations.gelu(x, approximate=True)


def gelu_exact(x):
    """GELU with the exact Gaussian CDF (erf)."""
    return keras.activations.gelu(x, approximate=False)


ACTIVATIONS: dict[str, Callable] = {
    "gelu_tanh": gelu_tanh,
    "gelu_exact": gelu_exact,
    "relu": keras.activations.relu,
    "silu": keras.activations.silu,
    "tanh": keras.activations.tanh,
}


@tf.function(jit_compile=True, autograph=False)
def _gelu_tanh_backward_with_bias(upstream: tf.Tensor, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The gradient w.r.t. `x` and its sum over all but the last axis (the bias gradient), one XLA kernel."""
    d_x = _gelu_tanh_backward.python_function(upstream, x)
    rows = tf.range(tf.rank(d_x) - 1)
    return d_x, tf.reduce_sum(tf.cast(d_x, tf.float32), axis=rows)


@tf.custom_gradient
def gelu_tanh_of_biased(pre_activation: tf.Tensor, bias: tf.Tensor):
    """gelu_tanh(pre_activation + bias) whose gradients (input and bias) come from one XLA kernel.

    A dense layer followed by GELU spends as long in `BiasAddGrad` (a single-threaded reduction over
    [B, T, I]) as in the GELU gradient itself; computing both in the same fused pass removes it.
    """
    x = tf.nn.bias_add(pre_activation, tf.cast(bias, pre_activation.dtype))
    y = tf.nn.gelu(x, approximate=True)

    def gradient(upstream):
        d_x, d_bias = _gelu_tanh_backward_with_bias(upstream, x)
        return d_x, tf.cast(d_bias, bias.dtype)

    return y, gradient


# Training-time versions with the same values and a cheaper gradient.
_TRAINING_ACTIVATIONS: dict[str, Callable] = {"gelu_tanh": gelu_tanh_fused_gradient}


def training_activation(name: str) -> Callable:
    """The activation called `name`, in its fastest form to differentiate (same values as `get_activation`)."""
    function = get_activation(name)
    if keras.backend.backend() != "tensorflow":
        return function
    return _TRAINING_ACTIVATIONS.get(name, function)


def get_activation(name: str) -> Callable:
    """The activation function called `name` (a key of `ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None
