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


CASED_TEXTS = ["Hello World from PARIS", "the Quick brown FOX"]


@pytest.mark.parametrize("kind", ["classifier", "backbone"])
def test_export_keeps_the_presets_tokenizer_options(presets, tmp_path, kind, caplog):
    """A preset whose tokenizer keeps case (lower_case false): the SavedModel's text signature and the bundle
    (manifest normalization, golden inputs) must tokenize as the model's own tokenizer, not ALBERT's default
    lower-casing (a model fed other ids than it was trained on gives wrong answers without an error)."""
    import json

    from albert_tf.preprocessor import AlbertPreprocessor
    from albert_tf.tasks import AlbertClassifier

    _, backbone = presets
    preset = tmp_path / kind
    if kind == "classifier":
        preprocessor = AlbertPreprocessor.from_spm_model(helpers.SPM_MODEL, 16, lower_case=False)
        AlbertClassifier(backbone, num_classes=2, preprocessor=preprocessor).save_to_preset(preset)
    else:
        backbone.save_to_preset(preset, spm_model=helpers.SPM_MODEL, sequence_length=16)
        config = json.loads((preset / "config.json").read_text())
        config["preprocessor"]["lower_case"] = False
        (preset / "config.json").write_text(json.dumps(config))
    cased = AlbertTokenizer(helpers.SPM_MODEL, lower_case=False)
    expected = encode_texts(cased, CASED_TEXTS, 16)["input_word_ids"]
    lowered = encode_texts(AlbertTokenizer(helpers.SPM_MODEL), CASED_TEXTS, 16)["input_word_ids"]
    assert not np.array_equal(expected, lowered)  # the texts tell the two apart
    with caplog.at_level("WARNING", logger="albert_tf.export.bundle"):
        result = export_model(ExportRequest(model_path=preset, output_dir=tmp_path / "out", quantizations=("none",),
                                            length_adaptive=False))
    served = tf.saved_model.load(str(result.saved_model)).signatures["serve_text"](text=tf.constant(CASED_TEXTS))
    np.testing.assert_array_equal(served["input_word_ids"].numpy(), expected)
    assert result.bundle.manifest["tokenizer"]["normalization"]["lower_case"] is False
    golden = json.loads((result.bundle.directory / "golden.json").read_text())
    for example in golden["examples"]:
        np.testing.assert_array_equal(example["input_word_ids"],
                                      encode_texts(cased, [example["text"]], 16)["input_word_ids"][0])
    if kind == "classifier":
        # MediaPipe's TextClassifier would lowercase the text (test_export_mediapipe.py): no metadata, said once.
        assert {model["metadata"] for model in result.bundle.manifest["models"]} == {None}
        warnings = [r for r in caplog.records if "MediaPipe's TextClassifier lowercases" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
