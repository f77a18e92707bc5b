"""benchmarks/small_model_step.py: its matmul floor runs the matmuls of the training step it is set against."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
DIMS = dict(vocab=97, embedding=8, hidden=16, layers=2, heads=2, intermediate=24)
BATCH, SEQ_LENGTH, MASKED = 3, 10, 2


@pytest.fixture
def benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # its sibling modules (classifier_cases, pretraining_cases)
    spec = importlib.util.spec_from_file_location("small_model_step", BENCHMARKS / "small_model_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _floor_multiply_adds(shapes) -> int:
    total = 0
    for a, b, transpose_b in shapes:
        n = b[-2] if transpose_b else b[-1]
        total += math.prod(a) * n
    return total


def _traced_multiply_adds(model, inputs) -> int:
    """Multiply-adds of every MatMul / BatchMatMul in the traced training step (forward, backward, update)."""
    import tensorflow as tf

    step = tf.function(lambda data: model.train_step(data))
    graph = step.get_concrete_function(inputs).graph
    total = 0
    for op in graph.get_operations():
        if op.type == "MatMul":
            a = op.inputs[0].shape
            inner = a[0] if op.get_attr("transpose_a") else a[1]
        elif op.type.startswith("BatchMatMul"):
            a = op.inputs[0].shape
            inner = a[-2] if op.get_attr("adj_x") else a[-1]
        else:
            continue
        total += op.outputs[0].shape.num_elements() * inner
    return total


def _config(keras_dtype="float32"):
    import keras

    from albert_tf import AlbertConfig

    keras.config.set_dtype_policy(keras_dtype)
    return AlbertConfig(vocab_size=DIMS["vocab"], embedding_size=DIMS["embedding"], hidden_size=DIMS["hidden"],
                        num_hidden_layers=DIMS["layers"], num_attention_heads=DIMS["heads"],
                        intermediate_size=DIMS["intermediate"], max_position_embeddings=32)


def test_classifier_floor_counts_the_classifier_steps_matmuls(benchmark):
    import classifier_cases

    model = classifier_cases.albert_tf_classifier(_config())
    inputs = classifier_cases.albert_tf_inputs(BATCH, SEQ_LENGTH, DIMS["vocab"])
    shapes = benchmark.matmul_shapes(DIMS, BATCH, SEQ_LENGTH, "classifier")
    assert _floor_multiply_adds(shapes) == _traced_multiply_adds(model, inputs)


def test_pretraining_floor_counts_the_pretraining_steps_matmuls(benchmark):
    import tensorflow as tf

    import pretraining_cases

    model = pretraining_cases.albert_tf_pretrainer(_config())
    features = {name: tf.constant(value)
                for name, value in pretraining_cases.random_batch(BATCH, SEQ_LENGTH, MASKED, DIMS["vocab"]).items()}
    shapes = benchmark.matmul_shapes(DIMS, BATCH, SEQ_LENGTH, "pretraining", MASKED)
    assert _floor_multiply_adds(shapes) == _traced_multiply_adds(model, features)


def test_the_floors_differ_in_their_heads_only(benchmark):
    classifier = benchmark.matmul_shapes(DIMS, BATCH, SEQ_LENGTH, "classifier")
    pretraining = benchmark.matmul_shapes(DIMS, BATCH, SEQ_LENGTH, "pretraining", MASKED)
    decoder = ((BATCH * MASKED, DIMS["embedding"]), (DIMS["embedding"], DIMS["vocab"]), False)
    assert decoder in pretraining and decoder not in classifier
    assert ((BATCH, DIMS["hidden"]), (DIMS["hidden"], 2), False) in classifier


@pytest.mark.parametrize("step", ["pretraining", "classifier"])
def test_the_xla_case_trains_the_same_step_compiled_whole(benchmark, step, monkeypatch):
    """`albert_tf_xla` times `--jit-compile`'s step: the same first loss as the default step's."""
    import classifier_cases

    # XLA draws dropout masks from other random streams than TensorFlow's kernels: compare without it.
    monkeypatch.setattr(classifier_cases, "DROPOUT", 0.0)
    plain = benchmark.albert_tf_step(step, _config(), BATCH, SEQ_LENGTH, MASKED)
    compiled = benchmark.albert_tf_step(step, _config(), BATCH, SEQ_LENGTH, MASKED, jit_compile=True)
    assert (compiled.model.jit_compile, plain.model.jit_compile) == (True, False)
    assert compiled() == pytest.approx(plain(), rel=1e-5)
