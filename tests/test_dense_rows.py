"""Dense projections on 2-D rows (albert_tf/layers/dense_rows.py): the Dense layer's values, and
the MatMul + BiasAdd (+ GELU) form that TensorFlow's CPU graph optimizer fuses into one kernel."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.framework.test_util import IsMklEnabled
from tensorflow.python.grappler import tf_optimizer

from albert_tf.layers import AlbertFeedForward, AlbertSelfAttention
from albert_tf.layers.dense_rows import dense_rows


def random_dense(units, inputs, seed, dtype="float32"):
    dense = keras.layers.Dense(units, dtype=dtype)
    dense.build((None, inputs))
    rng = np.random.default_rng(seed)
    dense.kernel.assign(rng.normal(size=(inputs, units)).astype("float32"))
    dense.bias.assign(rng.normal(size=(units,)).astype("float32"))  # a zero bias would hide a lost bias
    return dense


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_dense_rows_equals_the_dense_layer(dtype):
    dense = random_dense(6, 4, seed=0, dtype=dtype)
    rows = tf.constant(np.random.default_rng(1).normal(size=(5, 4)), dense.compute_dtype)
    expected = tf.cast(dense(rows), tf.float32).numpy()
    tolerance = 1e-5 if dtype == "float32" else 5e-2
    np.testing.assert_allclose(tf.cast(dense_rows(dense, rows), tf.float32).numpy(), expected, atol=tolerance)
    scaled = tf.cast(dense_rows(dense, rows, scale=0.125), tf.float32).numpy()
    np.testing.assert_allclose(scaled, 0.125 * expected, atol=tolerance)


def test_a_quantized_dense_layer_runs_its_own_call():
    dense = random_dense(8, 16, seed=2)
    dense.quantize("int8")  # the kernel is now int8 with a scale: reading it as a float kernel would be wrong
    rows = tf.constant(np.random.default_rng(3).normal(size=(3, 16)), tf.float32)
    np.testing.assert_array_equal(dense_rows(dense, rows).numpy(), dense(rows).numpy())


def _fused_matmuls(function, *specs):
    """The fused ops of each `_FusedMatMul` Grappler makes of `function`'s graph on a CPU, and the
    plain `MatMul`s it leaves."""
    concrete = tf.function(function).get_concrete_function(*specs)
    graph_def = concrete.graph.as_graph_def(add_shapes=True)
    for node in graph_def.node:  # the CPU remapper only rewrites ops placed on a CPU
        node.device = "/job:localhost/replica:0/task:0/device:CPU:0"
    meta_graph = tf.compat.v1.train.export_meta_graph(graph_def=graph_def, graph=concrete.graph)
    meta_graph.collection_def["train_op"].node_list.value.extend([t.name for t in concrete.outputs])
    optimized = tf_optimizer.OptimizeGraph(config_pb2.ConfigProto(), meta_graph)
    fused = sorted(tuple(op.decode() for op in node.attr["fused_ops"].list.s)
                   for node in optimized.node if node.op == "_FusedMatMul")
    unfused = [node.op for node in optimized.node if node.op == "MatMul"]
    return fused, unfused


def test_feed_forward_inference_fuses_bias_and_gelu_into_its_matmuls():
    block = AlbertFeedForward(32, 64)
    block.build((None, None, 32))
    fused, unfused = _fused_matmuls(lambda x: block(x, training=False), tf.TensorSpec([2, 5, 32], tf.float32))
    # The GELU fuses where TensorFlow runs oneDNN: by default on CPUs with AVX-512 VNNI or BF16,
    # AVX-VNNI or AMX, elsewhere with TF_ENABLE_ONEDNN_OPTS=1. Without it only the bias does.
    gelu = ("GeluApproximate",) if IsMklEnabled() else ()
    assert fused == [("BiasAdd",), ("BiasAdd", *gelu)] and not unfused


def test_attention_inference_fuses_every_projection_bias():
    attention = AlbertSelfAttention(32, 4)
    attention.build((None, None, 32))
    fused, unfused = _fused_matmuls(lambda x, bias: attention(x, bias, training=False),
                                    tf.TensorSpec([2, 5, 32], tf.float32), tf.TensorSpec([2, 1, 1, 5], tf.float32))
    assert fused == [("BiasAdd",)] * 4 and not unfused
