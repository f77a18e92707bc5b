"""Bad conversion input fails with messages that name the variables, the shapes and the fix."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from albert_tf.backbone import AlbertBackbone
from albert_tf.convert import (
    ConversionError, MissingVariablesError, ShapeMismatchError, UnusedVariablesWarning, VocabSizeMismatchError,
    export_huggingface, huggingface_tensors, load_checkpoint,
)
from albert_tf.convert.safetensors_io import write_safetensors
from albert_tf.pretrainer import AlbertPretrainer
from convert_helpers import randomize_keras, tiny_config

WORD_EMBEDDINGS = "albert.embeddings.word_embeddings.weight"


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    """A Hugging Face directory written from a random albert_tf pretrainer (vocab 100, one group)."""
    model = AlbertPretrainer(AlbertBackbone(tiny_config()))
    randomize_keras(model)
    directory = tmp_path_factory.mktemp("hf")
    export_huggingface(model, directory)
    return directory, huggingface_tensors(model)


def test_errors_are_value_errors():
    for error in (ConversionError, MissingVariablesError, ShapeMismatchError, VocabSizeMismatchError):
        assert issubclass(error, ValueError)


def test_vocab_size_disagreement_names_both_numbers_and_the_fix(hf_dir):
    directory, _ = hf_dir
    with pytest.raises(VocabSizeMismatchError) as raised:
        load_checkpoint("hf", directory, tiny_config(vocab_size=120))
    message = str(raised.value)
    assert "100 tokens" in message and "vocab_size=120" in message and WORD_EMBEDDINGS in message
    assert '"vocab_size": 100' in message  # the fix
    assert (raised.value.checkpoint_vocab, raised.value.config_vocab) == (100, 120)


def test_shape_mismatch_names_the_variable_and_both_shapes(hf_dir):
    directory, _ = hf_dir
    with pytest.raises(ShapeMismatchError) as raised:
        load_checkpoint("hf", directory, tiny_config(intermediate_size=48))
    message = str(raised.value)
    assert "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight has shape [64, 32]" in message
    assert "the config needs [48, 32]" in message


def test_missing_variables_are_listed(hf_dir, tmp_path):
    directory, tensors = hf_dir
    dropped = "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.key.bias"
    write_safetensors(tmp_path / "model.safetensors", {k: v for k, v in tensors.items() if k != dropped},
                      metadata={"format": "pt"})
    with pytest.raises(MissingVariablesError, match=dropped.replace(".", r"\.")) as raised:
        load_checkpoint("hf", tmp_path / "model.safetensors", tiny_config())
    assert raised.value.missing == [dropped]

    # A config with more groups than the checkpoint: every variable of groups 1 and 2 is listed.
    with pytest.raises(MissingVariablesError, match="albert_layer_groups.1") as raised:
        load_checkpoint("hf", directory, tiny_config(num_hidden_groups=3))
    assert len(raised.value.missing) == 2 * 16


def test_unused_variables_are_warned_about(hf_dir, tmp_path):
    _, tensors = hf_dir
    extra = dict(tensors, **{"classifier.weight": np.zeros((3, 32), "float32")})
    write_safetensors(tmp_path / "model.safetensors", extra, metadata={"format": "pt"})
    with pytest.warns(UnusedVariablesWarning, match=r"1 variable\(s\) .* not used: classifier\.weight"):
        result = load_checkpoint("hf", tmp_path / "model.safetensors", tiny_config())
    assert result.report.unused == ("classifier.weight",)


def test_pretrainer_requested_from_an_encoder_only_checkpoint(hf_dir, tmp_path):
    _, tensors = hf_dir
    encoder = {k: v for k, v in tensors.items() if k.startswith("albert.")}
    write_safetensors(tmp_path / "model.safetensors", encoder, metadata={"format": "pt"})
    with pytest.raises(MissingVariablesError, match="predictions.dense.weight"):
        load_checkpoint("hf", tmp_path / "model.safetensors", tiny_config(), model="pretrainer")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_checkpoint("hf", tmp_path / "model.safetensors", tiny_config()).kind == "backbone"


def test_a_safetensors_file_given_as_tf1_is_not_a_tf_checkpoint(hf_dir):
    directory, _ = hf_dir
    with pytest.raises(FileNotFoundError, match="index"):
        load_checkpoint("tf1", directory / "model.safetensors", tiny_config())


def test_nonexistent_paths_are_clear(tmp_path):
    missing = os.fspath(tmp_path / "nowhere")
    for source_format, expected in (("hf", "does not exist"), ("tf1", "No TensorFlow checkpoint"),
                                    ("tfm", "No TensorFlow checkpoint")):
        with pytest.raises(FileNotFoundError, match=expected) as raised:
            load_checkpoint(source_format, missing, tiny_config())
        assert missing in str(raised.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No Hugging Face weights"):
        load_checkpoint("hf", tmp_path / "empty", tiny_config())


def test_tf_checkpoint_without_config_asks_for_one(tmp_path):
    import tensorflow as tf

    path = tf.train.Checkpoint(x=tf.Variable(1.0)).write(str(tmp_path / "ckpt"))
    with pytest.raises(ConversionError, match="--config"):
        load_checkpoint("tf1", path)


def _block_torch(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        # Every `import torch...` statement fails, even if another test imported it already.
        if name.split(".")[0] == "torch":
            raise ImportError(f"torch blocked in this test ({name})")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)


def test_safetensors_reading_needs_no_torch(hf_dir, monkeypatch):
    directory, _ = hf_dir
    _block_torch(monkeypatch)
    assert load_checkpoint("hf", directory).kind == "pretrainer"


def test_pytorch_bin_without_torch_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    _block_torch(monkeypatch)
    with pytest.raises(ConversionError, match="needs PyTorch"):
        load_checkpoint("hf", tmp_path, tiny_config())


def test_partial_sharing_is_refused_with_the_reason(hf_dir):
    import dataclasses

    from albert_tf import AlbertConfig

    if "sharing" not in {field.name for field in dataclasses.fields(AlbertConfig)}:
        pytest.skip("this AlbertConfig has no `sharing` field")
    directory, _ = hf_dir
    with pytest.raises(ValueError, match="sharing='attention'"):
        load_checkpoint("hf", directory, tiny_config(sharing="attention"))


def test_truncated_keras_file_is_reported_as_truncated(tmp_path, capsys):
    from albert_tf.cli.main import main
    from albert_tf.convert import load_source

    whole = tmp_path / "whole.keras"
    AlbertBackbone(tiny_config()).save(whole)
    truncated = tmp_path / "trunc.keras"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupt") as raised:
        load_source("keras", truncated)
    assert str(truncated) in str(raised.value)
    assert main(["convert", "--from", "keras", "--checkpoint", str(truncated), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("albert convert: error:") and "\n" not in err, err
    assert f"{truncated} is not a readable .keras model" in err and "truncated or corrupt" in err, err
    assert not (tmp_path / "out").exists()
