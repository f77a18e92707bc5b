"""Which training ops' forms pay: each against TensorFlow's or Keras' plain form, in one process.

`albert_tf.fused_ops` gives the training path ops whose forward and backward passes are
XLA-compiled kernels: LayerNorm, the feed-forward bias + GELU (with the output matmul) and the
masked-LM cross-entropy; and the attention softmax's gradient (its forward pass fused too was slower:
benchmarks/results/fused_ops_ab.md, measured at c7ab9e4). The masked-LM head gathers its
positions' rows with `tf.gather` rather than `keras.ops.take_along_axis`. This builds the pretraining step of
the demo's model shape (albert_tiny, vocabulary 8,000, batch 32 x 128, 19 masked positions,
LAMB; as benchmarks/small_model_step.py) once with every op fused and once per op with that op
in its plain TensorFlow form (autodiff through the same formula), patched in while the step is
traced. The variants' steps then alternate, rotating the order each round, so that the machine's
drifts hit all alike: across processes this machine varies by 5-10%, more than one op's share.

Usage:
    python benchmarks/fused_ops_ab.py [--ops layer_norm cross_entropy] [--dtype mixed_bfloat16] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from unittest import mock

from pretraining_cases import albert_tf_step


def _plain_layer_norm(inputs, gamma, beta, epsilon, output_dtype):
    import tensorflow as tf

    x32 = tf.cast(inputs, tf.float32)
    mean, variance = tf.nn.moments(x32, axes=[-1], keepdims=True)
    normalized = (x32 - mean) * tf.math.rsqrt(variance + epsilon)
    return tf.cast(normalized * tf.cast(gamma, tf.float32) + tf.cast(beta, tf.float32), output_dtype)


def _plain_gelu_then_dense(pre_activation, bias, kernel, output_bias):
    import tensorflow as tf

    activated = tf.nn.gelu(pre_activation + tf.cast(bias, pre_activation.dtype), approximate=True)
    return tf.nn.bias_add(tf.matmul(activated, kernel), tf.cast(output_bias, kernel.dtype))


def _plain_cross_entropy(labels, logits):
    import tensorflow as tf

    labels = tf.cast(labels, tf.int32)
    return (tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits),
            tf.argmax(logits, axis=-1, output_type=tf.int32))


def _plain_softmax(scores):
    import tensorflow as tf

    return tf.nn.softmax(scores)


def _take_along_axis(sequence_output, positions):
    from keras import ops

    return ops.take_along_axis(sequence_output, ops.expand_dims(positions, -1), axis=1)


# Each op: where the training code looks it up, and its plain form.
PLAIN_FORMS = {
    "layer_norm": ("albert_tf.fused_ops.layer_norm", _plain_layer_norm),
    "gelu_dense": ("albert_tf.layers.feed_forward.gelu_tanh_then_dense", _plain_gelu_then_dense),
    "cross_entropy": ("albert_tf.fused_ops.sparse_cross_entropy", _plain_cross_entropy),
    "softmax": ("albert_tf.fused_ops.softmax", _plain_softmax),
    "masked_gather": ("albert_tf.layers.masked_lm_head.gather_positions", _take_along_axis),
}
VOCAB, BATCH, SEQ_LENGTH, MASKED, WARMUP_STEPS = 8000, 32, 128, 19, 3


def _traced_step(plain_op: str | None):
    """One optimizer step of a fresh model, traced (and warmed up) with `plain_op` in its plain form."""
    from albert_tf import AlbertConfig

    config = AlbertConfig.from_preset("tiny").replace(vocab_size=VOCAB)
    step = albert_tf_step(config, BATCH, SEQ_LENGTH, MASKED, learning_rate=0.005)
    if plain_op is None:
        for _ in range(WARMUP_STEPS):
            step()
    else:
        target, plain = PLAIN_FORMS[plain_op]
        with mock.patch(target, plain):  # the step's graph is traced here, with the plain form
            for _ in range(WARMUP_STEPS):
                step()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", nargs="+", choices=sorted(PLAIN_FORMS), default=list(PLAIN_FORMS))
    parser.add_argument("--dtype", default="float32", help="the Keras dtype policy")
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per variant (medians reported)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.config.set_dtype_policy(args.dtype)
    variants = {"as shipped": _traced_step(None)}
    variants.update({f"{op} plain": _traced_step(op) for op in args.ops})
    names = list(variants)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(args.repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            variants[name]()
            seconds[name].append(time.perf_counter() - start)

    from albert_tf.training.cpu_kernels import onednn_enabled, onednn_label

    fused = 1000 * statistics.median(seconds[names[0]])
    kernels = onednn_label(onednn_enabled())
    print(f"albert_tiny pretraining step, vocabulary {VOCAB}, batch {BATCH} x {SEQ_LENGTH}, {args.dtype}; "
          f"median of {args.repeats} rotating rounds; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores{'; ' + kernels if kernels else ''}\n")
    print("| variant | step | vs as shipped |")
    print("|---|---|---|")
    for name in names:
        median = 1000 * statistics.median(seconds[name])
        print(f"| {name} | {median:.1f} ms | {median - fused:+.1f} ms |")


if __name__ == "__main__":
    main()
