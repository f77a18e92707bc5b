"""`albert distill` on the training core: a teacher preset (tokenizer and labels from it, no --spm-model or
--labels), the student written as a preset, SIGKILL of a real run after its first checkpoint and a rerun
ending at an uninterrupted run's weights, the best checkpoint, and one-line errors."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.cli.main import main
from albert_tf.tasks import AlbertClassifier
from conftest import SHARED_DATA, TINY_FIELDS, write_keyword_csv
from test_finetune_resume import kill_after_first_checkpoint, metrics_rows, preset_weights

SPM_MODEL = SHARED_DATA / "albert" / "spiece.model"
pytestmark = pytest.mark.skipif(not SPM_MODEL.exists(), reason="needs ../shared/data/albert/spiece.model")
TEACHER_FIELDS = dict(TINY_FIELDS, vocab_size=30000, num_hidden_layers=2)
STUDENT_FIELDS = dict(TEACHER_FIELDS, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=32)

# 48 rows / batch 8 = 6 steps per epoch, 2 epochs = 12 steps, evaluated (and checkpointed) every 3.
TOTAL_STEPS, EVAL_EVERY = 12, 3


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The csv task and a teacher preset carrying its tokenizer and label names."""
    from albert_tf.graph_tokenizer import AlbertGraphTokenizer
    from albert_tf.preprocessor import AlbertPreprocessor

    root = tmp_path_factory.mktemp("distill_resume")
    write_keyword_csv(root / "data", train_rows=48, dev_rows=24)
    keras.utils.set_random_seed(7)
    preprocessor = AlbertPreprocessor(AlbertGraphTokenizer(str(SPM_MODEL)), 16)
    teacher = AlbertClassifier(AlbertBackbone(AlbertConfig(**TEACHER_FIELDS)), 2, preprocessor=preprocessor,
                               labels=["neg", "pos"])
    teacher.save_to_preset(root / "teacher")
    (root / "student.json").write_text(json.dumps(STUDENT_FIELDS))
    return root


def arguments(workspace, output, *extra) -> list[str]:
    return ["distill", "--task", "csv", "--data-dir", str(workspace / "data"), "--output-dir", str(output),
            "--teacher", str(workspace / "teacher"), "--student-config", str(workspace / "student.json"),
            "--text-column", "review", "--label-column", "stars", "--max-seq-length", "16", "--batch-size", "8",
            "--epochs", "2", "--eval-every", str(EVAL_EVERY), "--learning-rate", "2e-3", "--no-progress",
            *map(str, extra)]


@pytest.fixture(scope="module")
def reference(workspace):
    output = workspace / "reference"
    assert main(arguments(workspace, output)) == 0
    return output


def test_student_preset_takes_the_teacher_presets_tokenizer_and_labels(reference):
    from albert_tf.preset_format import read_preset

    student = AlbertClassifier.from_preset(reference / "model")
    assert student.labels == ["neg", "pos"] and student.backbone.config.hidden_size == STUDENT_FIELDS["hidden_size"]
    assert read_preset(reference / "model").has_tokenizer
    assert (student.predict(["a great, fun film"], verbose=0)).shape == (1, 2)  # text in: its own tokenizer
    rows = metrics_rows(reference)
    accuracies = [float(row["dev_accuracy"]) for row in rows]
    results = json.loads((reference / "eval_results.json").read_text())
    assert results["best"]["step"] == int(rows[int(np.argmax(accuracies))]["step"])
    assert read_preset(reference / "model").provenance["step"] == results["best"]["step"]
    assert results["last"]["step"] == TOTAL_STEPS == results["train_steps"]
    assert {"loss", "hard_loss", "distill_loss", "dev_accuracy"} <= set(rows[0])


@pytest.mark.long
def test_sigkill_after_first_checkpoint_then_rerun_ends_at_the_uninterrupted_weights(workspace, reference):
    output = workspace / "killed"
    kill_after_first_checkpoint(arguments(workspace, output), output)
    assert main(arguments(workspace, output)) == 0
    results = json.loads((output / "eval_results.json").read_text())
    assert results["train_steps"] == TOTAL_STEPS
    assert 0 < results["resumed_from_step"] < TOTAL_STEPS
    for folder in ("last", "model"):
        for resumed, uninterrupted in zip(preset_weights(output / folder), preset_weights(reference / folder)):
            np.testing.assert_allclose(resumed, uninterrupted, rtol=0, atol=1e-6)
    assert [row["dev_accuracy"] for row in metrics_rows(output)] == [
        row["dev_accuracy"] for row in metrics_rows(reference)]


def test_missing_labels_file_and_unwritable_output_are_one_line_errors(workspace, tmp_path, capsys):
    import os

    missing = tmp_path / "labels.txt"
    assert main(arguments(workspace, tmp_path / "out", "--labels", missing)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--labels file not found: {missing}" in err[0], err
    unwritable = "/sys/albert_tf_test_output" if os.geteuid() == 0 else "/proc/albert_tf_test_output"
    assert main(arguments(workspace, unwritable)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("albert distill: error: /") and unwritable in err[0], err
