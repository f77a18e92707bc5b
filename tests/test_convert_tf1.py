"""google-research/albert TF1 checkpoints: original names, TF-Hub `module/` prefix, optimizer slots skipped.

The checkpoint is written here with a TF1 `Saver` from the numbers of a random
Hugging Face model, renamed with this file's own table (written from the
original modeling.py names, independent of the converter's), so the converted
model must reproduce the Hugging Face model's outputs.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.convert import UnusedVariablesWarning, load_checkpoint
from albert_tf.pretrainer import AlbertPretrainer
from convert_helpers import (
    assert_close, hf_config, hf_outputs, hf_state, inputs_for, our_outputs, random_hf_pretraining_model,
)

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

GOOGLE_CONFIG = dict(  # an original albert_config.json (its "gelu" is the tanh form)
    vocab_size=100, embedding_size=16, hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
    intermediate_size=64, num_hidden_groups=2, inner_group_num=2, hidden_act="gelu", hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, max_position_embeddings=64, type_vocab_size=2, initializer_range=0.02,
    net_structure_type=0, gap_size=0, num_memory_blocks=0, down_scale_factor=1,
)


def tf1_arrays_from_hf(state: dict[str, np.ndarray], groups: int, inner: int) -> dict[str, np.ndarray]:
    """HF AlbertForPreTraining arrays under the original TF1 names (PyTorch Linear weights transposed)."""
    arrays = {
        "bert/embeddings/word_embeddings": state["albert.embeddings.word_embeddings.weight"],
        "bert/embeddings/position_embeddings": state["albert.embeddings.position_embeddings.weight"],
        "bert/embeddings/token_type_embeddings": state["albert.embeddings.token_type_embeddings.weight"],
        "bert/embeddings/LayerNorm/gamma": state["albert.embeddings.LayerNorm.weight"],
        "bert/embeddings/LayerNorm/beta": state["albert.embeddings.LayerNorm.bias"],
        "bert/encoder/embedding_hidden_mapping_in/kernel": state["albert.encoder.embedding_hidden_mapping_in.weight"].T,
        "bert/encoder/embedding_hidden_mapping_in/bias": state["albert.encoder.embedding_hidden_mapping_in.bias"],
        "bert/pooler/dense/kernel": state["albert.pooler.weight"].T,
        "bert/pooler/dense/bias": state["albert.pooler.bias"],
        "cls/predictions/transform/dense/kernel": state["predictions.dense.weight"].T,
        "cls/predictions/transform/dense/bias": state["predictions.dense.bias"],
        "cls/predictions/transform/LayerNorm/gamma": state["predictions.LayerNorm.weight"],
        "cls/predictions/transform/LayerNorm/beta": state["predictions.LayerNorm.bias"],
        "cls/predictions/output_bias": state["predictions.bias"],
        "cls/seq_relationship/output_weights": state["sop_classifier.classifier.weight"],  # [2, H] as stored
        "cls/seq_relationship/output_bias": state["sop_classifier.classifier.bias"],
    }
    dense = {"attention_1/self/query": "attention.query", "attention_1/self/key": "attention.key",
             "attention_1/self/value": "attention.value", "attention_1/output/dense": "attention.dense",
             "ffn_1/intermediate/dense": "ffn", "ffn_1/intermediate/output/dense": "ffn_output"}
    norms = {"LayerNorm": "attention.LayerNorm", "LayerNorm_1": "full_layer_layer_norm"}
    for g in range(groups):
        for i in range(inner):
            tf1 = f"bert/encoder/transformer/group_{g}/inner_group_{i}/"
            hf = f"albert.encoder.albert_layer_groups.{g}.albert_layers.{i}."
            for ours, theirs in dense.items():
                arrays[tf1 + ours + "/kernel"] = state[hf + theirs + ".weight"].T
                arrays[tf1 + ours + "/bias"] = state[hf + theirs + ".bias"]
            for ours, theirs in norms.items():
                arrays[tf1 + ours + "/gamma"] = state[hf + theirs + ".weight"]
                arrays[tf1 + ours + "/beta"] = state[hf + theirs + ".bias"]
    return {name: np.ascontiguousarray(array) for name, array in arrays.items()}


def write_tf1_checkpoint(arrays: dict[str, np.ndarray], prefix: str, optimizer_slots: bool = True) -> str:
    """Writes `arrays` as a TF1 name-based checkpoint, with Adam slots and global_step as training leaves them."""
    graph = tf.Graph()
    with graph.as_default():
        variables = {}
        for name, array in arrays.items():
            variables[name] = tf.compat.v1.Variable(array, name=name.replace("/", "_"))
            if optimizer_slots:
                for slot in ("adam_m", "adam_v"):
                    variables[f"{name}/{slot}"] = tf.compat.v1.Variable(
                        np.zeros_like(array), name=f"{slot}_{len(variables)}")
        variables["global_step"] = tf.compat.v1.Variable(np.int64(125000), name="global_step")
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, prefix)


@pytest.fixture(scope="module")
def reference():
    return random_hf_pretraining_model(
        hf_config(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2), seed=11)


@pytest.mark.parametrize("prefix", ["", "module/"], ids=["original", "tf_hub_module"])
def test_tf1_checkpoint_converts_with_same_outputs(tmp_path, reference, prefix):
    arrays = tf1_arrays_from_hf(hf_state(reference), groups=2, inner=2)
    checkpoint = write_tf1_checkpoint({prefix + name: array for name, array in arrays.items()},
                                      str(tmp_path / "model.ckpt-125000"))
    (tmp_path / "albert_config.json").write_text(json.dumps(GOOGLE_CONFIG))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # optimizer slots and global_step are skipped, not "unused"
        result = load_checkpoint("tf1", checkpoint)  # the config is found next to the checkpoint
    assert result.kind == "pretrainer" and isinstance(result.model, AlbertPretrainer)
    assert len(result.report.loaded) == len(arrays)
    assert len(result.report.skipped) == 2 * len(arrays) + 1
    inputs = inputs_for(GOOGLE_CONFIG["vocab_size"])
    diffs = assert_close(our_outputs(result.model, inputs), hf_outputs(reference, inputs))
    print(f"tf1{' (module/)' if prefix else ''} -> albert_tf max abs diff:", diffs)


def test_tf1_directory_and_file_paths_resolve(tmp_path, reference):
    arrays = tf1_arrays_from_hf(hf_state(reference), groups=2, inner=2)
    checkpoint = write_tf1_checkpoint(arrays, str(tmp_path / "model.ckpt-7"), optimizer_slots=False)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(GOOGLE_CONFIG))
    for path in (tmp_path, checkpoint + ".index"):  # directory (latest checkpoint), or one of its files
        result = load_checkpoint("tf1", path, config)
        assert result.kind == "pretrainer"


def test_tf1_encoder_only_checkpoint_gives_backbone_and_reports_extras(tmp_path, reference):
    arrays = tf1_arrays_from_hf(hf_state(reference), groups=2, inner=2)
    encoder = {name: array for name, array in arrays.items() if name.startswith("bert/")}
    encoder["bert/some_adapter/kernel"] = np.ones((2, 2), "float32")
    checkpoint = write_tf1_checkpoint(encoder, str(tmp_path / "model.ckpt-1"))
    config = tmp_path / "albert_config.json"
    config.write_text(json.dumps(GOOGLE_CONFIG))
    with pytest.warns(UnusedVariablesWarning, match="bert/some_adapter/kernel"):
        result = load_checkpoint("tf1", checkpoint, config)
    assert result.kind == "backbone"
    assert result.report.unused == ("bert/some_adapter/kernel",)
    inputs = inputs_for(GOOGLE_CONFIG["vocab_size"])
    assert_close(our_outputs(result.model, inputs), hf_outputs(reference, inputs),
                 names=("sequence_output", "pooled_output"))
