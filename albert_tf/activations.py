"""Activation functions by explicit name.

ALBERT uses the tanh approximation of GELU. It is also the only GELU that
lowers to builtin TFLite ops (the exact form needs Erf).

Inference and export trace these functions; the feed-forward block's
training path computes `gelu_tanh` with fused kernels (`albert_tf.fused_ops`).
"""

from __future__ import annotations

from typing import Callable

import keras


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


def get_activation(name: str) -> Callable:
    """The activation function called `name` (a key of `ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None
