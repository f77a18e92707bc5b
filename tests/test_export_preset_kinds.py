"""`export_model` on presets that load as a bare backbone (kind backbone or pretrainer) and on a `kind` the preset
cannot export as: the library does what `albert export` does, since the CLI only passes its options through."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece op the text signatures use)

import export_helpers as helpers
from albert_tf import AlbertConfig, AlbertTokenizer
from albert_tf.backbone import AlbertBackbone
from albert_tf.cli.main import main
from albert_tf.export.publishing import ExportRequest, export_model
from albert_tf.export.representative_data import encode_texts
from albert_tf.export.tflite import make_interpreter, run_ids_model

pytestmark = helpers.needs_data

TEXTS = ["A moving, funny film.", "Dull and far too long."]
# Neither the default 128 nor the model's max_position_embeddings (64): only the preset says these.
PRETRAINER_LENGTH = 24
BACKBONE_LENGTH = 20


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    """A tiny encoder saved as a pretrainer preset and as a backbone preset, and the encoder itself."""
    from albert_tf.pretrainer import AlbertPretrainer

    root = tmp_path_factory.mktemp("presets")
    keras.utils.set_random_seed(3)
    backbone = AlbertBackbone(AlbertConfig(**helpers.TINY_CLASSIFIER_FIELDS))
    AlbertPretrainer(backbone).save_to_preset(root / "pretrainer", spm_model=helpers.SPM_MODEL,
                                              sequence_length=PRETRAINER_LENGTH)
    backbone.save_to_preset(root / "backbone", spm_model=helpers.SPM_MODEL, sequence_length=BACKBONE_LENGTH)
    return root, backbone


def _expected(backbone, preset, length):
    """The Keras encoder's pooled output on TEXTS tokenized by the preset's own SentencePiece model."""
    inputs = encode_texts(AlbertTokenizer(preset / "assets" / "tokenizer" / "spiece.model"), TEXTS, length)
    return inputs, np.asarray(backbone(inputs, training=False)["pooled_output"])


def _check_saved_model(version_dir, inputs, pooled):
    served = tf.saved_model.load(str(version_dir)).signatures["serve_text"](text=tf.constant(TEXTS))
    np.testing.assert_array_equal(served["input_word_ids"].numpy(), inputs["input_word_ids"])
    np.testing.assert_allclose(served["pooled_output"].numpy(), pooled, atol=1e-5)


def test_library_exports_a_pretrainer_preset_with_its_own_tokenizer_and_length(presets, tmp_path):
    root, backbone = presets
    inputs, pooled = _expected(backbone, root / "pretrainer", PRETRAINER_LENGTH)
    result = export_model(ExportRequest(model_path=root / "pretrainer", output_dir=tmp_path / "out",
                                        quantizations=("none",), length_adaptive=False))
    _check_saved_model(result.saved_model, inputs, pooled)
    (entry,) = result.bundle.manifest["models"]
    assert result.bundle.manifest["inputs"][0]["shape"] == [1, PRETRAINER_LENGTH]
    on_device = run_ids_model(make_interpreter(result.bundle.directory / entry["file"]), inputs)
    np.testing.assert_allclose(on_device["pooled_output"], pooled, atol=1e-4)


def test_cli_exports_a_backbone_preset_with_its_own_tokenizer_and_length(presets, tmp_path):
    root, backbone = presets
    inputs, pooled = _expected(backbone, root / "backbone", BACKBONE_LENGTH)
    assert main(["export", str(root / "backbone"), "--output-dir", str(tmp_path / "out"), "--no-bundle"]) == 0
    _check_saved_model(tmp_path / "out" / "saved_model" / "1", inputs, pooled)


@pytest.mark.parametrize("spm_model", [None, helpers.SPM_MODEL])
def test_library_refuses_a_kind_the_pretrainer_preset_does_not_export_as(presets, tmp_path, spm_model):
    root, _ = presets
    with pytest.raises(ValueError) as caught:
        export_model(ExportRequest(model_path=root / "pretrainer", output_dir=tmp_path / "out", kind="classifier",
                                   spm_model=spm_model))
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    for fragment in ("--task classifier", "kind='classifier'", "pretrainer preset", "exports as backbone",
                     "--task backbone"):
        assert fragment in message, message
    assert not (tmp_path / "out").exists()


def test_a_preset_kind_export_does_not_take_is_named_not_offered(presets, tmp_path, capsys):
    from albert_tf.tasks import AlbertMultipleChoice

    _, backbone = presets
    preset = tmp_path / "choices"
    AlbertMultipleChoice(backbone, num_choices=2).save_to_preset(preset)
    with pytest.raises(ValueError, match="multiple_choice preset cannot be exported") as caught:
        export_model(ExportRequest(model_path=preset, output_dir=tmp_path / "out", kind="classifier"))
    assert "--task multiple_choice" not in str(caught.value)
    capsys.readouterr()
    assert main(["export", str(preset), "--output-dir", str(tmp_path / "out"), "--task", "classifier"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "cannot be exported" in error, error


def test_a_pretrainer_preset_without_tokenizer_is_named_with_the_fix(presets, tmp_path):
    from albert_tf.pretrainer import AlbertPretrainer

    _, backbone = presets
    preset = tmp_path / "no_tokenizer"
    AlbertPretrainer(backbone).save_to_preset(preset)  # no spm_model: a preset without tokenizer
    with pytest.raises(ValueError) as caught:
        export_model(ExportRequest(model_path=preset, output_dir=tmp_path / "out"))
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    assert str(preset) in message and "has no tokenizer" in message and "--spm-model" in message, message
