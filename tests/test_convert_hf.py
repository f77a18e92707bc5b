"""Hugging Face interop: transformers' AlbertForPreTraining <-> albert_tf, same outputs both ways."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from albert_tf.convert import convert_checkpoint, export_huggingface, load_checkpoint
from albert_tf.presets import load_preset
from albert_tf.pretrainer import AlbertBackbone, AlbertPretrainer
from convert_helpers import (
    assert_close, hf_config, hf_outputs, inputs_for, our_outputs, random_hf_pretraining_model, randomize_keras,
    tiny_config,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
torch.set_num_threads(1)

STRUCTURES = {
    "one_group": dict(),
    "groups_and_inner_layers": dict(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2),
    "exact_gelu": dict(hidden_act="gelu"),
}


@pytest.mark.parametrize("structure", sorted(STRUCTURES))
def test_hf_pretraining_model_converts_with_same_outputs(tmp_path, structure):
    reference = random_hf_pretraining_model(hf_config(**STRUCTURES[structure]))
    reference.save_pretrained(tmp_path / "hf")
    inputs = inputs_for(reference.config.vocab_size)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be left unused
        result = load_checkpoint("hf", tmp_path / "hf")
    assert result.kind == "pretrainer" and isinstance(result.model, AlbertPretrainer)
    expected_act = "gelu_exact" if structure == "exact_gelu" else "gelu_tanh"
    assert result.config.hidden_act == expected_act
    diffs = assert_close(our_outputs(result.model, inputs), hf_outputs(reference, inputs))
    print(f"hf -> albert_tf [{structure}] max abs diff:", diffs)


def test_converted_preset_loads_back(tmp_path):
    reference = random_hf_pretraining_model(hf_config(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2))
    reference.save_pretrained(tmp_path / "hf")
    inputs = inputs_for(reference.config.vocab_size)
    with pytest.warns(UserWarning, match="no tokenizer"):
        result = convert_checkpoint("hf", tmp_path / "hf", tmp_path / "model")
    assert str(tmp_path / "model" / "config.json") in result.outputs
    loaded = load_preset(tmp_path / "model")
    assert isinstance(loaded, AlbertPretrainer)
    assert_close(our_outputs(loaded, inputs), hf_outputs(reference, inputs))

    with pytest.warns(UserWarning, match="no tokenizer"):
        backbone = convert_checkpoint("hf", tmp_path / "hf", tmp_path / "backbone", model="backbone")
    assert backbone.kind == "backbone" and backbone.report.dropped  # heads left out on request, no warning
    loaded = load_preset(tmp_path / "backbone")
    assert isinstance(loaded, AlbertBackbone)
    assert_close(our_outputs(loaded, inputs), hf_outputs(reference, inputs), names=("sequence_output", "pooled_output"))


def test_hf_albert_model_without_heads_gives_a_backbone(tmp_path):
    reference = random_hf_pretraining_model(hf_config())
    reference.albert.save_pretrained(tmp_path / "hf")  # AlbertModel: no `albert.` prefix, no heads
    inputs = inputs_for(reference.config.vocab_size)
    result = load_checkpoint("hf", tmp_path / "hf")
    assert result.kind == "backbone"
    assert_close(our_outputs(result.model, inputs), hf_outputs(reference, inputs),
                 names=("sequence_output", "pooled_output"))


@pytest.mark.parametrize("hidden_act", ["gelu_tanh", "gelu_exact"])
def test_albert_tf_pretrainer_exports_to_hf_with_same_outputs(tmp_path, hidden_act):
    config = tiny_config(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2, hidden_act=hidden_act)
    ours = AlbertPretrainer(AlbertBackbone(config))
    randomize_keras(ours, seed=5)
    written = export_huggingface(ours, tmp_path / "hf")
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == ["config.json", "model.safetensors"]
    exported_act = json.loads((tmp_path / "hf" / "config.json").read_text())["hidden_act"]
    assert exported_act == {"gelu_tanh": "gelu_new", "gelu_exact": "gelu"}[hidden_act]

    reference, info = transformers.AlbertForPreTraining.from_pretrained(tmp_path / "hf", output_loading_info=True)
    reference.eval()
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    inputs = inputs_for(config.vocab_size)
    diffs = assert_close(our_outputs(ours, inputs), hf_outputs(reference, inputs))
    print(f"albert_tf -> hf [{hidden_act}] max abs diff:", diffs)


def test_pytorch_bin_checkpoint_reads_with_torch(tmp_path):
    reference = random_hf_pretraining_model(hf_config())
    reference.save_pretrained(tmp_path / "hf")
    state = {name: tensor.clone() for name, tensor in reference.state_dict().items()}  # includes the tied decoder
    torch.save(state, tmp_path / "hf" / "pytorch_model.bin")
    (tmp_path / "hf" / "model.safetensors").unlink()
    inputs = inputs_for(reference.config.vocab_size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the tied decoder copies are known, not unused
        result = load_checkpoint("hf", tmp_path / "hf")
    assert_close(our_outputs(result.model, inputs), hf_outputs(reference, inputs))
    assert np.array_equal(result.model.backbone.token_embedding.embeddings.numpy(),
                          state["albert.embeddings.word_embeddings.weight"].numpy())


def test_bfloat16_safetensors_read_without_torch_dtypes(tmp_path):
    reference = random_hf_pretraining_model(hf_config())
    reference.to(torch.bfloat16).save_pretrained(tmp_path / "hf")
    result = load_checkpoint("hf", tmp_path / "hf")
    expected = reference.albert.embeddings.word_embeddings.weight.detach().float().numpy()
    np.testing.assert_array_equal(result.model.backbone.token_embedding.embeddings.numpy(), expected)
