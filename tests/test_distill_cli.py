"""`albert distill` end to end on a small synthetic csv task: the student learns it from a fine-tuned
teacher; outputs and sizes, the teacher-logits cache (reused, then invalidated), and bad inputs as one-line
errors with exit code 2."""

from __future__ import annotations

import json

import keras
import pytest

from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.cli.main import main
from albert_tf.tasks import AlbertClassifier
from conftest import SHARED_DATA, TINY_FIELDS, majority_share, needs_data, write_keyword_csv

SPM_MODEL = SHARED_DATA / "albert" / "spiece.model"
pytestmark = needs_data("albert/spiece.model")

TEACHER_FIELDS = dict(TINY_FIELDS, vocab_size=30000, num_hidden_layers=2)
STUDENT_FIELDS = dict(TEACHER_FIELDS, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=32)
# 480 rows x 4 epochs at batch 16: 120 steps, in which the teacher (fine-tuned) and the student (distilled)
# both reach dev accuracy 1.0 (measured); after 45 steps a from-scratch model is still at chance.
LEARNING = ["--max-seq-length", "16", "--batch-size", "16", "--epochs", "4", "--learning-rate", "3e-3"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The csv task, a teacher fine-tuned on it, a student config and a non-classifier .keras."""
    root = tmp_path_factory.mktemp("distill")
    write_keyword_csv(root / "data", train_rows=480, dev_rows=80)
    keras.utils.set_random_seed(7)
    (root / "teacher.json").write_text(json.dumps(TEACHER_FIELDS))
    assert main(["finetune", "--task", "csv", "--data-dir", str(root / "data"), "--output-dir", str(root / "teacher"),
                 "--spm-model", str(SPM_MODEL), "--config", str(root / "teacher.json"), "--text-column", "review",
                 "--label-column", "stars", *LEARNING, "--no-progress"]) == 0
    AlbertClassifier.from_preset(root / "teacher" / "model").save(root / "teacher.keras")
    AlbertBackbone(AlbertConfig(**TEACHER_FIELDS)).save(root / "backbone.keras")
    (root / "student.json").write_text(json.dumps(STUDENT_FIELDS))
    (root / "student_small_vocab.json").write_text(json.dumps(dict(STUDENT_FIELDS, vocab_size=100)))
    return root


def distill(workspace, output, *extra, teacher="teacher.keras", student="student.json") -> int:
    return main(["distill", "--task", "csv", "--data-dir", str(workspace / "data"), "--output-dir", str(output),
                 "--spm-model", str(SPM_MODEL), "--teacher", str(workspace / teacher),
                 "--student-config", str(workspace / student), "--text-column", "review", "--label-column", "stars",
                 *LEARNING, "--temperature", "2", "--alpha", "0.5", "--no-progress", *map(str, extra)])


@pytest.mark.long
def test_distill_writes_student_results_and_sizes_and_reuses_the_logits_cache(workspace, capsys):
    out = workspace / "run"
    assert distill(workspace, out, "--cache-teacher-logits") == 0
    printed = capsys.readouterr()
    assert "cached teacher logits for 480 training rows" in printed.err and "student dev: accuracy" in printed.out

    results = json.loads((out / "eval_results.json").read_text())
    assert results["task"] == "csv" and results["num_train_examples"] == 480
    majority = majority_share(workspace / "data" / "dev.csv")
    teacher_accuracy = results["teacher_metrics"]["dev"]["accuracy"]
    student_accuracy = results["metrics"]["dev"]["accuracy"]
    assert majority < 0.65 and teacher_accuracy >= 0.9, f"teacher {teacher_accuracy} (majority class {majority})"
    assert student_accuracy >= 0.9, f"student dev accuracy {student_accuracy} (majority class {majority})"
    teacher, student = results["models"]["teacher"], results["models"]["student"]
    assert teacher["parameters"] > student["parameters"] > 0
    assert student["weights_bytes"] == 4 * student["parameters"]  # float32
    assert results["models"]["compression"]["parameters"] == teacher["parameters"] / student["parameters"]
    assert teacher["stored_bytes"] == (workspace / "teacher.keras").stat().st_size
    assert student["stored_bytes"] == sum(p.stat().st_size for p in (out / "model").rglob("*") if p.is_file())
    assert results["teacher_logits_cache"] == "computed"
    # A plain AlbertClassifier preset (what `albert predict` / `albert export` take), with the tokenizer.
    loaded = AlbertClassifier.from_preset(out / "model")
    assert type(loaded) is AlbertClassifier and loaded.count_params() == student["parameters"]
    assert loaded.backbone.config.hidden_size == STUDENT_FIELDS["hidden_size"]
    assert loaded.labels == ["neg", "pos"] and loaded.preprocessor is not None
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp")]

    # The same command again: a finished run is not redone.
    assert distill(workspace, out, "--cache-teacher-logits") == 0
    assert "already finished: nothing to do" in capsys.readouterr().out

    # Started again (--overwrite keeps the cache): the cache is reused (file untouched), same training.
    cache = out / "teacher_logits.npy"
    stamp = cache.stat().st_mtime_ns
    assert distill(workspace, out, "--cache-teacher-logits", "--overwrite") == 0
    assert "reusing cached teacher logits" in capsys.readouterr().err
    rerun = json.loads((out / "eval_results.json").read_text())
    assert rerun["teacher_logits_cache"] == "reused" and cache.stat().st_mtime_ns == stamp
    assert rerun["first_step_loss"] == pytest.approx(results["first_step_loss"], rel=1e-5)

    # Different training data: refused in the same folder unless started again; then the cache is rebuilt.
    assert distill(workspace, out, "--cache-teacher-logits", "--max-train-examples", "200") == 2
    assert "--max-train-examples null -> 200" in capsys.readouterr().err
    assert distill(workspace, out, "--cache-teacher-logits", "--max-train-examples", "200", "--overwrite",
                   "--epochs", "1") == 0
    assert "is stale (the training data or the teacher changed); recomputing" in capsys.readouterr().err
    assert json.loads((out / "eval_results.json").read_text())["teacher_logits_cache"] == "computed"


@pytest.mark.parametrize("case, message", [
    ({"teacher": "backbone.keras"}, "holds a model of type AlbertBackbone, not an AlbertClassifier"),
    ({"teacher": "student.json"}, "could not be loaded as a .keras model"),
    ({"student": "student_small_vocab.json"}, "has vocab_size 100 but the teacher has 30000"),
    ({"task": "squad2"}, "distillation supports only the classification/regression tasks"),
])
def test_bad_inputs_are_one_line_errors(workspace, capsys, case, message):
    out = workspace / "bad"
    case = dict(case)
    task = case.pop("task", None)
    arguments = ["--task", task] if task else []  # argparse keeps the last --task
    assert distill(workspace, out, *arguments, **case) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("albert distill: error: ") and message in err[-1], err
    assert not out.exists()


def test_dropout_outside_zero_to_one_is_named(tmp_path):
    """Fine-tuning and distillation share the check (trainer.check_common_settings), before any data is read."""
    from albert_tf.distillation.runner import DistillSettings
    from albert_tf.presets import load_config

    for dropout in (1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"--dropout must be in \[0, 1\)"):
            DistillSettings(task="sst2", data_dir=str(tmp_path), output_dir=str(tmp_path / "out"),
                            teacher=str(tmp_path / "teacher"), student_config=load_config("tiny"), dropout=dropout)
