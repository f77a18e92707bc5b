"""Bad input to the exporters: clear ValueErrors naming the thing and the fix."""

from __future__ import annotations

import pytest

import export_helpers as helpers
from albert_tf import AlbertConfig
from albert_tf.backbone import AlbertBackbone
from albert_tf.cli.main import main
from albert_tf.export import convert_ids_model, export_bundle, export_saved_model


@pytest.fixture(scope="module")
def small_backbone():
    return AlbertBackbone(AlbertConfig(**helpers.TINY_CLASSIFIER_FIELDS))


def test_sequence_longer_than_positions(small_backbone):
    with pytest.raises(ValueError, match=r"max_position_embeddings=64.*--seq-length 64"):
        convert_ids_model(small_backbone, seq_length=65)


def test_backbone_exported_as_classifier(small_backbone, tmp_path):
    with pytest.raises(ValueError, match="no classifier head.*AlbertClassifier"):
        export_bundle(small_backbone, helpers.SPM_MODEL, tmp_path / "b", seq_length=16, kind="classifier")


def test_missing_spm_model(small_backbone, tmp_path):
    with pytest.raises(ValueError, match="SentencePiece model .*missing.model not found.*--spm-model"):
        export_saved_model(small_backbone, tmp_path / "s", tmp_path / "missing.model", seq_length=16)
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").iterdir())


@helpers.needs_data
def test_int8_without_data_and_wrong_labels(small_backbone, tmp_path):
    from albert_tf.tasks import AlbertClassifier

    classifier = AlbertClassifier(small_backbone, num_classes=2)
    with pytest.raises(ValueError, match="representative"):
        export_bundle(classifier, helpers.SPM_MODEL, tmp_path / "b", seq_length=16, quantizations=["int8"])
    with pytest.raises(ValueError, match="3 labels given for a classifier with 2 classes"):
        export_bundle(classifier, helpers.SPM_MODEL, tmp_path / "b", seq_length=16, labels=["a", "b", "c"])
    assert not (tmp_path / "b").exists()


@helpers.needs_data
def test_cli_reports_errors_in_one_line(small_backbone, tmp_path, capsys):
    path = tmp_path / "backbone.keras"
    small_backbone.save(path)
    code = main(["export", "--model", str(path), "--spm-model", str(tmp_path / "nope.model"),
                 "--output-dir", str(tmp_path / "out")])
    assert code == 2 and "--spm-model" in capsys.readouterr().err
    code = main(["export", "--model", str(path), "--spm-model", str(helpers.SPM_MODEL), "--task", "classifier",
                 "--output-dir", str(tmp_path / "out")])
    assert code == 2 and "no classifier head" in capsys.readouterr().err


@helpers.needs_data
def test_cli_names_a_pretrainer_preset_exported_with_another_task(small_backbone, tmp_path, capsys):
    from albert_tf.pretrainer import AlbertPretrainer

    preset = tmp_path / "pretrainer"
    AlbertPretrainer(small_backbone).save_to_preset(preset, spm_model=helpers.SPM_MODEL)
    capsys.readouterr()
    assert main(["export", str(preset), "--output-dir", str(tmp_path / "out"), "--task", "classifier"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1, error
    assert "pretrainer preset" in error and "--task classifier" in error and "tokenizer" not in error, error
