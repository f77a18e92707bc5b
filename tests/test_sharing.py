"""`AlbertConfig.sharing`: what each mode shares, structure, saving, dialects."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.layers import AlbertFeedForward, AlbertSelfAttention, AlbertTransformerLayer
from conftest import make_inputs

SUBLAYERS = ("attention", "attention_layer_norm", "feed_forward", "feed_forward_layer_norm")
# Which of a transformer layer's weighted sub-layers each mode shares across depth.
SHARED_SUBLAYERS = {
    "all": set(SUBLAYERS),
    "attention": {"attention", "attention_layer_norm"},
    "ffn": {"feed_forward", "feed_forward_layer_norm"},
    "none": set(),
}


def variable_ids(layer: keras.layers.Layer) -> set[int]:
    return {id(variable) for variable in layer.weights}


def sublayer_size(config: AlbertConfig, name: str) -> int:
    """Parameters of one sub-layer of a stand-alone transformer layer."""
    layer = AlbertTransformerLayer(hidden_size=config.hidden_size, num_attention_heads=config.num_attention_heads,
                                   intermediate_size=config.intermediate_size)
    layer.build((None, None, config.hidden_size))
    return getattr(layer, name).count_params()


@pytest.mark.parametrize("sharing", sorted(SHARED_SUBLAYERS))
def test_exactly_the_named_block_is_shared(tiny_config, sharing):
    config = tiny_config.replace(num_hidden_layers=4, sharing=sharing)
    backbone = AlbertBackbone(config)
    applied = [layer for depth in backbone.layers_by_depth for layer in depth]
    assert len(applied) == 4
    for name in SUBLAYERS:
        objects = [getattr(layer, name) for layer in applied]
        variables = [variable_ids(sublayer) for sublayer in objects]
        if name in SHARED_SUBLAYERS[sharing]:
            assert all(sublayer is objects[0] for sublayer in objects), f"{name} is one object"
        else:
            assert len({id(sublayer) for sublayer in objects}) == 4, f"{name} is per depth"
            union = set().union(*variables)
            assert len(union) == sum(len(ids) for ids in variables), f"{name}: no variable in two depths"

    # The count: embeddings, projection and pooler, one copy of each shared
    # sub-layer and one per depth of the others.
    expected = sum(layer.count_params() for layer in (backbone.embeddings, backbone.embedding_projection,
                                                      backbone.pooler))
    for name in SUBLAYERS:
        copies = 1 if name in SHARED_SUBLAYERS[sharing] else 4
        expected += copies * sublayer_size(config, name)
    assert backbone.count_params() == expected
    paths = [w.path for w in backbone.weights]
    assert len(paths) == len(set(paths)), "no variable is created twice"
    assert len(backbone.trainable_variables) == len(backbone.weights)


def test_all_keeps_the_released_structure(tiny_config):
    config = tiny_config.replace(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2)
    backbone = AlbertBackbone(config)
    assert [layer.name for layer in backbone.transformer_layers] == [
        "group_0_layer_0", "group_0_layer_1", "group_1_layer_0", "group_1_layer_1"]
    assert backbone.shared_sublayers == []
    assert [[layer.name for layer in depth] for depth in backbone.layers_by_depth] == [
        ["group_0_layer_0", "group_0_layer_1"]] * 2 + [["group_1_layer_0", "group_1_layer_1"]] * 2


@pytest.mark.parametrize("sharing, prefix", [("attention", "attention"), ("ffn", "feed_forward")])
def test_partial_sharing_applies_within_each_group_and_inner_position(tiny_config, sharing, prefix):
    config = tiny_config.replace(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2, sharing=sharing)
    backbone = AlbertBackbone(config)
    # One layer per application, k = l * inner + i, listed per group's span.
    assert [layer.name for layer in backbone.transformer_layers] == [f"layer_{k}" for k in range(8)]
    assert [[layer.name for layer in group] for group in backbone.transformer_groups] == [
        [f"layer_{k}" for k in range(4)], [f"layer_{k}" for k in range(4, 8)]]
    assert sorted(layer.name for layer in backbone.shared_sublayers) == sorted(
        f"group_{g}_layer_{i}_{prefix}{suffix}" for g in range(2) for i in range(2) for suffix in ("", "_layer_norm"))
    for depth, layers in enumerate(backbone.layers_by_depth):
        group = config.group_of_layer(depth)
        for inner, layer in enumerate(layers):
            assert getattr(layer, prefix).name == f"group_{group}_layer_{inner}_{prefix}"
    assert any(w.path.startswith(f"group_1_layer_1_{prefix}/") for w in backbone.weights), "named after the block"


def test_none_ignores_groups(tiny_config):
    counts = {AlbertBackbone(tiny_config.replace(num_hidden_layers=4, num_hidden_groups=groups,
                                                 sharing="none")).count_params() for groups in (1, 2, 4)}
    assert len(counts) == 1


@pytest.mark.parametrize("sharing", ["attention", "ffn", "none"])
def test_parameter_count_grows_with_depth(tiny_config, sharing):
    shallow = AlbertBackbone(tiny_config.replace(num_hidden_layers=2, sharing=sharing)).count_params()
    deep = AlbertBackbone(tiny_config.replace(num_hidden_layers=4, sharing=sharing)).count_params()
    per_depth = sum(sublayer_size(tiny_config, name) for name in SUBLAYERS
                    if name not in SHARED_SUBLAYERS[sharing])
    assert deep - shallow == 2 * per_depth


@pytest.mark.parametrize("sharing", ["attention", "ffn", "none"])
def test_forward_equals_a_loop_over_layers_by_depth(tiny_config, sharing):
    backbone = AlbertBackbone(tiny_config.replace(num_hidden_layers=3, inner_group_num=2, sharing=sharing))
    inputs = make_inputs(2, 8, tiny_config.vocab_size, pad=2)
    hidden = backbone.embedding_projection(backbone.embeddings(inputs["input_word_ids"], inputs["input_type_ids"]))
    bias = (1.0 - inputs["input_mask"].astype("float32"))[:, None, None, :] * -10000.0
    for layers in backbone.layers_by_depth:
        for layer in layers:
            hidden = layer(hidden, bias)
    np.testing.assert_allclose(backbone(inputs)["sequence_output"], hidden, atol=1e-5)


@pytest.mark.parametrize("sharing", ["all", "attention", "ffn", "none"])
def test_keras_file_round_trip(tmp_path, tiny_config, sharing):
    config = tiny_config.replace(num_hidden_layers=4, num_hidden_groups=2, sharing=sharing)
    backbone = AlbertBackbone(config)
    inputs = make_inputs(2, 10, config.vocab_size, pad=3)
    expected = backbone(inputs)
    backbone.save(tmp_path / "albert.keras")
    restored = keras.saving.load_model(tmp_path / "albert.keras")
    assert restored.config == config
    actual = restored(inputs)
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name])
    # Sharing survives the reload: one object, one set of variables.
    if sharing in ("attention", "ffn"):
        prefix = "attention" if sharing == "attention" else "feed_forward"
        assert len({id(getattr(layer, prefix)) for layer in restored.transformer_groups[0]}) == 1


def test_embedding_projection_only_when_widths_differ(tiny_config):
    square = tiny_config.replace(embedding_size=tiny_config.hidden_size)
    assert not square.has_embedding_projection and tiny_config.has_embedding_projection
    backbone = AlbertBackbone(square)
    assert backbone.embedding_projection is None
    assert not any("embedding_projection" in w.path for w in backbone.weights)
    outputs = backbone(make_inputs(2, 6, square.vocab_size))
    assert tuple(outputs["sequence_output"].shape) == (2, 6, square.hidden_size)
    projected = AlbertBackbone(tiny_config.replace(embedding_size=tiny_config.hidden_size + 8))
    h = tiny_config.hidden_size
    assert projected.count_params() - backbone.count_params() == (
        (h + 8) * h + h  # the E -> H dense
        + (tiny_config.vocab_size + tiny_config.max_position_embeddings + tiny_config.type_vocab_size + 2) * 8)


def test_config_field_json_and_dialects(tmp_path, tiny_config):
    for sharing in ("all", "attention", "ffn", "none"):
        config = tiny_config.replace(sharing=sharing)
        config.to_json_file(tmp_path / f"{sharing}.json")
        assert AlbertConfig.from_json_file(tmp_path / f"{sharing}.json") == config
    assert AlbertConfig().sharing == "all"
    with pytest.raises(ValueError, match=r"`sharing`.*sharing='layers'"):
        AlbertConfig(sharing="layers")

    hf = tiny_config.to_huggingface_dict()
    assert "sharing" not in hf and AlbertConfig.from_dict(hf).sharing == "all"
    with pytest.raises(ValueError, match="sharing='ffn' has no Hugging Face form"):
        tiny_config.replace(sharing="ffn").to_huggingface_dict()
    with pytest.raises(ValueError, match="whole-layer sharing only"):
        AlbertConfig.from_dict(dict(hf, sharing="none"))
    square = tiny_config.replace(embedding_size=tiny_config.hidden_size)
    with pytest.raises(ValueError, match="no E -> H projection"):
        square.to_huggingface_dict()
    with pytest.raises(ValueError, match="embedding_size == hidden_size"):
        AlbertConfig.from_dict(dict(hf, embedding_size=tiny_config.hidden_size))
    google = dict(tiny_config.to_dict(), hidden_act="gelu", net_structure_type=0)
    del google["sharing"]
    assert AlbertConfig.from_dict(google).sharing == "all"
    with pytest.raises(ValueError, match="whole-layer sharing only"):
        AlbertConfig.from_dict(dict(google, sharing="attention"))


def test_transformer_layer_takes_shared_blocks_in_pairs():
    attention = AlbertSelfAttention(32, 4, name="shared")
    with pytest.raises(ValueError, match="`attention` and `attention_layer_norm` together"):
        AlbertTransformerLayer(32, 4, 64, attention=attention)
    feed_forward = AlbertFeedForward(32, 64)
    norm = keras.layers.LayerNormalization()
    first = AlbertTransformerLayer(32, 4, 64, feed_forward=feed_forward, feed_forward_layer_norm=norm)
    second = AlbertTransformerLayer(32, 4, 64, feed_forward=feed_forward, feed_forward_layer_norm=norm)
    first.build((None, None, 32))
    second.build((None, None, 32))
    assert variable_ids(first.feed_forward) == variable_ids(second.feed_forward)
    assert len(variable_ids(first) & variable_ids(second)) == len(feed_forward.weights) + len(norm.weights)
