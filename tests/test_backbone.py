"""AlbertBackbone: shapes, weight sharing, masking, serialization, precision, XLA."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.layers import AlbertTransformerLayer
from conftest import make_inputs

# Exact backbone parameter counts (Hugging Face AlbertModel, pooler included).
REFERENCE_COUNTS = {
    "base": 11_683_584,
    "large": 17_683_968,
    "xlarge": 58_724_864,
    "xxlarge": 222_595_584,
}


@pytest.mark.parametrize("preset", sorted(REFERENCE_COUNTS))
def test_parameter_counts_match_reference(preset):
    backbone = AlbertBackbone(AlbertConfig.from_preset(preset))
    assert backbone.count_params() == REFERENCE_COUNTS[preset]
    del backbone
    keras.backend.clear_session()


def test_outputs_and_shapes(tiny_config):
    backbone = AlbertBackbone(tiny_config)
    outputs = backbone(make_inputs(2, 9, tiny_config.vocab_size))
    assert set(outputs) == {"sequence_output", "pooled_output"}
    assert tuple(outputs["sequence_output"].shape) == (2, 9, tiny_config.hidden_size)
    assert tuple(outputs["pooled_output"].shape) == (2, tiny_config.hidden_size)
    assert sorted(tensor.name for tensor in backbone.inputs) == ["input_mask", "input_type_ids", "input_word_ids"]
    assert all(tensor.dtype == "int32" for tensor in backbone.inputs)
    pooled = outputs["pooled_output"].numpy()
    assert np.all(np.abs(pooled) <= 1.0), "pooled output is a tanh"


def transformer_weight_count(backbone):
    return sum(int(np.prod(w.shape)) for layer in backbone.transformer_layers for w in layer.weights)


@pytest.mark.parametrize("groups, inner", [(1, 1), (2, 1), (1, 2), (3, 2)])
def test_one_set_of_transformer_variables_per_group_and_inner_layer(tiny_config, groups, inner):
    counts = []
    for layers in (groups, 2 * groups, 4 * groups):
        config = tiny_config.replace(num_hidden_layers=layers, num_hidden_groups=groups, inner_group_num=inner)
        backbone = AlbertBackbone(config)
        counts.append(backbone.count_params())
        assert len(backbone.transformer_layers) == groups * inner
        reference_layer = AlbertTransformerLayer(
            hidden_size=config.hidden_size, num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
        )
        reference_layer.build((None, None, config.hidden_size))
        assert transformer_weight_count(backbone) == groups * inner * reference_layer.count_params()
        paths = [w.path for w in backbone.weights]
        assert len(paths) == len(set(paths)), "no variable is created twice"
        # Every layer object is called once per depth that maps to its group.
        for layer in backbone.transformer_layers:
            assert len(layer._inbound_nodes) == layers // groups
    assert len(set(counts)) == 1, f"parameter count changed with depth: {counts}"


def test_depth_applies_groups_in_original_order(tiny_config):
    """The functional graph equals a hand-written loop over int(l * G / L)."""
    config = tiny_config.replace(num_hidden_layers=6, num_hidden_groups=3, inner_group_num=2)
    backbone = AlbertBackbone(config)
    inputs = make_inputs(2, 8, config.vocab_size, pad=2)
    hidden = backbone.embedding_projection(
        backbone.embeddings(inputs["input_word_ids"], inputs["input_type_ids"])
    )
    bias = (1.0 - inputs["input_mask"].astype("float32"))[:, None, None, :] * -10000.0
    for layer_index in range(6):
        for layer in backbone.transformer_groups[layer_index * 3 // 6]:
            hidden = layer(hidden, bias)
    np.testing.assert_allclose(backbone(inputs)["sequence_output"], hidden, atol=1e-5)
    # And the shared layer really is reused: fewer applications give another result.
    shallow = AlbertBackbone(config.replace(num_hidden_layers=3))
    shallow.set_weights(backbone.get_weights())
    assert not np.allclose(shallow(inputs)["sequence_output"], hidden, atol=1e-3)


def test_padding_does_not_change_real_positions(tiny_config):
    backbone = AlbertBackbone(tiny_config)
    short = make_inputs(3, 10, tiny_config.vocab_size, seed=3)
    padded = {name: np.pad(value, ((0, 0), (0, 7))) for name, value in short.items()}
    padded["input_word_ids"][:, 10:] = 7  # whatever sits under the mask must not matter
    out_short = backbone(short)
    out_padded = backbone(padded)
    np.testing.assert_allclose(out_padded["sequence_output"][:, :10], out_short["sequence_output"], atol=1e-5)
    np.testing.assert_allclose(out_padded["pooled_output"], out_short["pooled_output"], atol=1e-5)


@pytest.mark.parametrize("seq_length", [1, 7, 33, 64])
def test_sequence_lengths(tiny_config, seq_length):
    backbone = AlbertBackbone(tiny_config)
    outputs = backbone.predict(make_inputs(2, seq_length, tiny_config.vocab_size), verbose=0)
    assert outputs["sequence_output"].shape == (2, seq_length, tiny_config.hidden_size)
    assert np.isfinite(outputs["sequence_output"]).all()


def test_longer_than_position_table_fails(tiny_config):
    backbone = AlbertBackbone(tiny_config)
    with pytest.raises(ValueError, match="65 tokens is longer than max_position_embeddings=64"):
        backbone(make_inputs(1, tiny_config.max_position_embeddings + 1, tiny_config.vocab_size))
    # With the length unknown when tracing, the position-table slice still fails loudly.
    traced = tf.function(lambda x: backbone(x)["pooled_output"],
                         input_signature=[{name: tf.TensorSpec([None, None], tf.int32) for name in
                                           ("input_word_ids", "input_mask", "input_type_ids")}])
    with pytest.raises(tf.errors.InvalidArgumentError):
        traced(make_inputs(1, tiny_config.max_position_embeddings + 1, tiny_config.vocab_size))


def test_keras_file_round_trip(tmp_path, tiny_config):
    config = tiny_config.replace(num_hidden_groups=3, inner_group_num=2, num_hidden_layers=6)
    backbone = AlbertBackbone(config, name="my_albert")
    inputs = make_inputs(2, 12, config.vocab_size, pad=3)
    expected = backbone(inputs)
    path = tmp_path / "albert.keras"
    backbone.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, AlbertBackbone)
    assert restored.config == config and restored.name == "my_albert"
    actual = restored(inputs)
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name])


def test_get_config_round_trip(tiny_config):
    backbone = AlbertBackbone(tiny_config)
    clone = AlbertBackbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config()
    clone.set_weights(backbone.get_weights())
    inputs = make_inputs(2, 5, tiny_config.vocab_size)
    np.testing.assert_array_equal(clone(inputs)["pooled_output"], backbone(inputs)["pooled_output"])


def test_predict_on_tf_data(tiny_config):
    backbone = AlbertBackbone(tiny_config)
    inputs = make_inputs(6, 8, tiny_config.vocab_size)
    dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(4)
    outputs = backbone.predict(dataset, verbose=0)
    np.testing.assert_allclose(outputs["pooled_output"], backbone(inputs)["pooled_output"], atol=1e-6)


def test_mixed_bfloat16_runs_close_to_float32(tiny_config):
    float_backbone = AlbertBackbone(tiny_config)
    mixed = AlbertBackbone(tiny_config, dtype="mixed_bfloat16")
    mixed.set_weights(float_backbone.get_weights())
    assert mixed.token_embedding.embeddings.dtype == "float32", "variables stay float32"
    inputs = make_inputs(2, 16, tiny_config.vocab_size, pad=4)
    outputs = mixed(inputs)
    assert outputs["sequence_output"].dtype == tf.bfloat16
    real = inputs["input_mask"].astype(bool)
    reference = float_backbone(inputs)["sequence_output"].numpy()[real]
    difference = tf.cast(outputs["sequence_output"], tf.float32).numpy()[real] - reference
    assert np.isfinite(difference).all()
    # The bound, from bfloat16's precision. bf16 keeps 8 significant bits: one
    # rounding moves a value by at most u/2 of itself, u = 2**-8. The compared
    # quantity is a LayerNorm output, unit RMS per token. Each of the L + 1
    # LayerNorm'd stages (embeddings, then every layer) re-normalises the error
    # it receives (gain ~1) and adds its own: its bf16 matmul inputs and its
    # output rounded to u/2 relative, a few independent roundings that add in
    # quadrature to about one u of RMS. So the RMS error is at most (L + 1) u
    # (measured: about 2.1 u for L = 3), and no element exceeds 4 times that
    # (a tail of 4 sigma over a few hundred elements; measured about 10 u).
    # The former bound, 0.15 absolute, was 38 u.
    unit = 2.0 ** -8
    rms_bound = (tiny_config.num_hidden_layers + 1) * unit
    rms = float(np.sqrt(np.mean(difference ** 2)) / np.sqrt(np.mean(reference ** 2)))
    assert rms <= rms_bound, f"relative RMS {rms:.4f} > {rms_bound:.4f}"
    assert float(np.abs(difference).max()) <= 4 * rms_bound


def _inference(backbone: AlbertBackbone, per_depth_reads: bool = False):
    """`backbone`'s inference call; `per_depth_reads` runs Functional.call directly, where every
    depth reads (and, under mixed precision, casts) the shared weights itself."""
    if per_depth_reads:
        return tf.function(lambda inputs: super(AlbertBackbone, backbone).call(inputs, training=False))
    return tf.function(lambda inputs: backbone(inputs, training=False))


def _casts_of_variable_reads(function, inputs) -> int:
    """Cast ops in `function`'s traced graph whose input is a variable read (through Identity ops)."""
    graph = function.get_concrete_function({name: tf.constant(value) for name, value in inputs.items()}).graph

    def reads_variable(tensor):
        op = tensor.op
        while op.type == "Identity":
            op = op.inputs[0].op
        return op.type == "ReadVariableOp"

    return sum(op.type == "Cast" and reads_variable(op.inputs[0]) for op in graph.get_operations())


def test_mixed_precision_inference_casts_each_shared_weight_once(tiny_config):
    inputs = make_inputs(2, 8, tiny_config.vocab_size, pad=2)
    casts, per_depth_casts = {}, {}
    for depth in (1, 3):
        backbone = AlbertBackbone(tiny_config.replace(num_hidden_layers=depth), dtype="mixed_bfloat16")
        casts[depth] = _casts_of_variable_reads(_inference(backbone), inputs)
        per_depth_casts[depth] = _casts_of_variable_reads(_inference(backbone, per_depth_reads=True), inputs)
    assert per_depth_casts[3] > per_depth_casts[1], "the per-depth path casts the shared weights at every depth"
    assert casts[1] > 0
    assert casts[3] == casts[1], "the shared layer's weights are cast once per call, whatever the depth"


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_inference_with_weights_read_once_equals_per_depth_reads(tiny_config, dtype):
    backbone = AlbertBackbone(tiny_config, dtype=dtype)
    rng = np.random.default_rng(3)
    backbone.set_weights([rng.normal(0.0, 0.2, weight.shape) for weight in backbone.get_weights()])
    inputs = {name: tf.constant(value) for name, value in make_inputs(2, 12, tiny_config.vocab_size, pad=3).items()}
    shared_reads = _inference(backbone)(inputs)
    per_depth_reads = _inference(backbone, per_depth_reads=True)(inputs)
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(tf.cast(shared_reads[name], tf.float32), tf.cast(per_depth_reads[name], tf.float32))


def test_global_mixed_policy_and_serialized_dtype(tmp_path, tiny_config):
    keras.config.set_dtype_policy("mixed_bfloat16")
    backbone = AlbertBackbone(tiny_config)
    assert backbone.dtype_policy.name == "mixed_bfloat16"
    backbone.save(tmp_path / "mixed.keras")
    keras.config.set_dtype_policy("float32")
    assert keras.saving.load_model(tmp_path / "mixed.keras").dtype_policy.name == "mixed_bfloat16"


def test_jit_compile_matches_eager(tiny_config):
    backbone = AlbertBackbone(tiny_config)
    inputs = make_inputs(2, 16, tiny_config.vocab_size, pad=5)
    compiled = tf.function(lambda x: backbone(x, training=False), jit_compile=True)
    expected = backbone(inputs)
    actual = compiled({name: tf.constant(value) for name, value in inputs.items()})
    np.testing.assert_allclose(actual["sequence_output"], expected["sequence_output"], atol=1e-5)
    backbone.compile(jit_compile=True)
    predicted = backbone.predict(inputs, verbose=0)
    np.testing.assert_allclose(predicted["pooled_output"], expected["pooled_output"], atol=1e-5)


def test_dropout_only_in_training(tiny_config):
    backbone = AlbertBackbone(tiny_config.replace(hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3))
    inputs = make_inputs(2, 8, tiny_config.vocab_size)
    inference = [backbone(inputs, training=False)["pooled_output"] for _ in range(2)]
    np.testing.assert_array_equal(*inference)
    training = [backbone(inputs, training=True)["pooled_output"] for _ in range(2)]
    assert not np.allclose(*training)


def test_rejects_non_config():
    with pytest.raises(ValueError, match="AlbertConfig"):
        AlbertBackbone("base")
