"""AlbertConfig: validation, JSON dialects, presets."""

from __future__ import annotations

import json

import pytest

from albert_tf import AlbertConfig
from albert_tf.presets import PRESETS, preset_path

# The original google-research albert_config.json of ALBERT-base v2.
GOOGLE_RESEARCH_BASE_V2 = {
    "attention_probs_dropout_prob": 0, "hidden_act": "gelu", "hidden_dropout_prob": 0,
    "embedding_size": 128, "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072,
    "max_position_embeddings": 512, "num_attention_heads": 12, "num_hidden_layers": 12,
    "num_hidden_groups": 1, "net_structure_type": 0, "gap_size": 0, "num_memory_blocks": 0,
    "inner_group_num": 1, "down_scale_factor": 1, "type_vocab_size": 2, "vocab_size": 30000,
}
# The Hugging Face config.json of albert-base-v2.
HUGGINGFACE_BASE_V2 = {
    "architectures": ["AlbertForMaskedLM"], "attention_probs_dropout_prob": 0, "bos_token_id": 2,
    "classifier_dropout_prob": 0.1, "down_scale_factor": 1, "embedding_size": 128, "eos_token_id": 3,
    "gap_size": 0, "hidden_act": "gelu_new", "hidden_dropout_prob": 0, "hidden_size": 768,
    "initializer_range": 0.02, "inner_group_num": 1, "intermediate_size": 3072, "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512, "model_type": "albert", "net_structure_type": 0,
    "num_attention_heads": 12, "num_hidden_groups": 1, "num_hidden_layers": 12, "num_memory_blocks": 0,
    "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": 30000,
}


def write_json(tmp_path, values, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(values))
    return path


def test_json_round_trip(tmp_path, tiny_config):
    path = tmp_path / "nested" / "albert_config.json"
    tiny_config.to_json_file(path)
    assert AlbertConfig.from_json_file(path) == tiny_config
    assert [p.name for p in path.parent.iterdir()] == ["albert_config.json"], "no temporary files left behind"


def test_reads_google_research_config(tmp_path):
    config = AlbertConfig.from_json_file(write_json(tmp_path, GOOGLE_RESEARCH_BASE_V2))
    assert config == AlbertConfig.from_preset("base")
    assert config.hidden_act == "gelu_tanh", "google-research 'gelu' is the tanh approximation"


def test_reads_huggingface_config(tmp_path):
    config = AlbertConfig.from_json_file(write_json(tmp_path, HUGGINGFACE_BASE_V2))
    assert config == AlbertConfig.from_preset("base")
    exact = AlbertConfig.from_dict(dict(HUGGINGFACE_BASE_V2, hidden_act="gelu"))
    assert exact.hidden_act == "gelu_exact", "Hugging Face 'gelu' is the exact erf form"


def test_huggingface_dict_round_trip(tiny_config):
    assert AlbertConfig.from_dict(tiny_config.to_huggingface_dict()) == tiny_config


def test_presets_are_v2_values():
    expected = {"base": (12, 768, 12), "large": (24, 1024, 16), "xlarge": (24, 2048, 16), "xxlarge": (12, 4096, 64)}
    for name, (layers, hidden, heads) in expected.items():
        config = AlbertConfig.from_preset(name)
        assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (layers, hidden, heads)
        assert config.intermediate_size == 4 * hidden
        assert (config.embedding_size, config.vocab_size, config.max_position_embeddings) == (128, 30000, 512)
        assert config.hidden_dropout_prob == config.attention_probs_dropout_prob == 0.0
    assert set(PRESETS) == {"tiny", *expected}
    assert preset_path("albert_tiny") == preset_path("tiny")


def test_integers_accepted_for_float_fields():
    config = AlbertConfig(hidden_dropout_prob=0, layer_norm_eps=1)
    assert isinstance(config.hidden_dropout_prob, float) and isinstance(config.layer_norm_eps, float)


@pytest.mark.parametrize(
    "changes, field, received",
    [
        (dict(hidden_size=100, num_attention_heads=12), "hidden_size", "hidden_size=100"),
        (dict(num_hidden_layers=12, num_hidden_groups=5), "num_hidden_layers", "num_hidden_groups=5"),
        (dict(hidden_act="swishy"), "hidden_act", "hidden_act='swishy'"),
        (dict(hidden_act="gelu"), "hidden_act", "ambiguous"),
        (dict(vocab_size=0), "vocab_size", "vocab_size=0"),
        (dict(embedding_size=-4), "embedding_size", "embedding_size=-4"),
        (dict(intermediate_size=-1), "intermediate_size", "intermediate_size=-1"),
        (dict(num_attention_heads=0), "num_attention_heads", "num_attention_heads=0"),
        (dict(hidden_dropout_prob=1.5), "hidden_dropout_prob", "hidden_dropout_prob=1.5"),
        (dict(layer_norm_eps=0.0), "layer_norm_eps", "layer_norm_eps=0.0"),
        (dict(hidden_size="768"), "hidden_size", "hidden_size='768'"),
        (dict(num_hidden_layers=True), "num_hidden_layers", "num_hidden_layers=True"),
    ],
)
def test_bad_values_name_field_and_value(changes, field, received):
    with pytest.raises(ValueError) as error:
        AlbertConfig(**changes)
    assert f"`{field}`" in str(error.value)
    assert received in str(error.value)


def test_unknown_field_is_named(tmp_path):
    path = write_json(tmp_path, {"hidden_sise": 768})
    with pytest.raises(ValueError, match="hidden_sise") as error:
        AlbertConfig.from_json_file(path)
    assert str(path) in str(error.value)


def test_unreadable_json_names_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"hidden_size": 768,')
    with pytest.raises(ValueError, match="not valid UTF-8 JSON") as error:
        AlbertConfig.from_json_file(path)
    assert str(path) in str(error.value)
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"name": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(ValueError, match="not valid UTF-8 JSON"):
        AlbertConfig.from_json_file(latin1)


def test_missing_file_and_non_object(tmp_path):
    with pytest.raises(ValueError, match="not found: .*missing.json"):
        AlbertConfig.from_json_file(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="JSON object"):
        AlbertConfig.from_json_file(write_json(tmp_path, [1, 2]))


def test_unsupported_source_variants_rejected():
    with pytest.raises(ValueError, match="net_structure_type"):
        AlbertConfig.from_dict(dict(GOOGLE_RESEARCH_BASE_V2, net_structure_type=1))
    with pytest.raises(ValueError, match="model_type='bert'"):
        AlbertConfig.from_dict(dict(HUGGINGFACE_BASE_V2, model_type="bert"))
    with pytest.raises(ValueError, match="position_embedding_type"):
        AlbertConfig.from_dict(dict(HUGGINGFACE_BASE_V2, position_embedding_type="relative_key"))
    with pytest.raises(ValueError, match="Unknown ALBERT preset 'huge'"):
        AlbertConfig.from_preset("huge")


def test_group_of_layer_follows_original_rule():
    config = AlbertConfig(num_hidden_layers=12, num_hidden_groups=3)
    assert [config.group_of_layer(layer) for layer in range(12)] == [0] * 4 + [1] * 4 + [2] * 4


def test_presets_missing_from_an_uninstalled_checkout_name_the_fix(monkeypatch):
    # A source tree on PYTHONPATH has no albert_tf.configs (setup.cfg maps configs/ to it at install).
    import importlib.resources

    from albert_tf import config as config_module

    def files(package):
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(importlib.resources, "files", files)
    with pytest.raises(ModuleNotFoundError, match=r"pip install -e \."):
        config_module.builtin_config_path("base")
