"""A Dense layer applied to 2-D rows as `MatMul` + `BiasAdd`, the form TensorFlow fuses on CPUs.

Keras' `Dense` on a [B, T, H] input runs `Tensordot` (reshape, MatMul, reshape) and then adds
its bias with a broadcasting `AddV2`: TensorFlow's graph optimizer (Grappler's remapper, with
oneDNN) then cannot fuse the bias or the activation into the matmul, and each is one more pass
over the activations. On [B * T, H] rows, `MatMul` + `BiasAdd` (+ `Relu`, `tf.nn.gelu`, ...)
becomes one `_FusedMatMul`: ALBERT-base's feed-forward block in bfloat16 runs at the speed of
its two matmuls alone (benchmarks/backbone_forward.py). The values are those of the Dense
layer; the TFLite converter sees the same MatMul, BiasAdd and GELU ops as before. The layers use
it for inference (and export); their training path keeps its own forms, measured faster there.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def scaled_weights(dense: keras.layers.Dense, scale: float | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """`dense`'s kernel and bias in its compute dtype, each times `scale` when given.

    Scaling the [in, out] kernel and [out] bias costs less than scaling the [N, out] result.
    """
    kernel = ops.cast(dense.kernel, dense.compute_dtype)
    bias = ops.cast(dense.bias, dense.compute_dtype)
    if scale is not None:
        kernel, bias = kernel * scale, bias * scale
    return kernel, bias


def dense_rows(dense: keras.layers.Dense, rows: tf.Tensor, scale: float | None = None) -> tf.Tensor:
    """`dense(rows)` (without its activation) for 2-D `rows` [N, in], optionally times `scale`
    (folded into the weights, `scaled_weights`). A quantized or LoRA-enabled Dense layer runs its
    own `call`.
    """
    if dense.quantization_mode is not None or dense.lora_enabled:
        outputs = dense(rows)
        return outputs if scale is None else outputs * ops.cast(scale, outputs.dtype)
    kernel, bias = scaled_weights(dense, scale)
    return tf.nn.bias_add(tf.matmul(rows, kernel), bias)
