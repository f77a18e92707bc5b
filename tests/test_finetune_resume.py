"""`albert finetune` on the training core: SIGKILL a real run after its first checkpoint and rerun it (same
weights as an uninterrupted run), the best dev checkpoint as the output preset, a finished run not redone,
changed settings refused, `--seeds`, and one-line errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from albert_tf.cli.main import main
from conftest import SHARED_DATA, TINY_FIELDS

SPM_MODEL = SHARED_DATA / "albert" / "spiece.model"
SST2 = SHARED_DATA / "glue" / "SST-2"
pytestmark = pytest.mark.skipif(not (SPM_MODEL.exists() and SST2.exists()),
                                reason="needs ../shared/data (ALBERT vocabulary, GLUE SST-2)")

# 48 rows / batch 8 = 6 steps per epoch, 2 epochs = 12 steps, evaluated (and checkpointed) every 3.
TRAIN_ROWS, TOTAL_STEPS, EVAL_EVERY = 48, 12, 3


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune_resume")
    data = root / "SST-2"
    data.mkdir()
    train = SST2.joinpath("train.tsv").read_text(encoding="utf-8").splitlines()
    dev = SST2.joinpath("dev.tsv").read_text(encoding="utf-8").splitlines()
    (data / "train.tsv").write_text("\n".join(train[:TRAIN_ROWS + 1]) + "\n", encoding="utf-8")
    (data / "dev.tsv").write_text("\n".join(dev[:41]) + "\n", encoding="utf-8")
    (root / "config.json").write_text(json.dumps({**TINY_FIELDS, "vocab_size": 30000}))
    return root


def arguments(workspace, output, *extra) -> list[str]:
    return ["finetune", "--task", "sst2", "--data-dir", str(workspace / "SST-2"), "--output-dir", str(output),
            "--config", str(workspace / "config.json"), "--spm-model", str(SPM_MODEL), "--max-seq-length", "16",
            "--batch-size", "8", "--epochs", "2", "--eval-every", str(EVAL_EVERY), "--learning-rate", "2e-3",
            "--no-progress", *map(str, extra)]


@pytest.fixture(scope="module")
def reference(workspace):
    """An uninterrupted run."""
    output = workspace / "reference"
    assert main(arguments(workspace, output)) == 0
    return output


def metrics_rows(output) -> list[dict[str, str]]:
    with open(output / "metrics.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def preset_weights(folder) -> list[np.ndarray]:
    from albert_tf.tasks import AlbertClassifier

    return [np.asarray(weight) for weight in AlbertClassifier.from_preset(folder).get_weights()]


def kill_after_first_checkpoint(command: list[str], output) -> None:
    """Starts `albert COMMAND` in a real subprocess and SIGKILLs it once its first evaluation row exists."""
    process = subprocess.Popen([sys.executable, "-m", "albert_tf", *command], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    try:
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            if (output / "metrics.csv").exists() and len(metrics_rows(output)) >= 1:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before its first checkpoint could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (output / "eval_results.json").exists(), "killed too late: the run had finished"


@pytest.mark.long
def test_sigkill_after_first_checkpoint_then_rerun_ends_at_the_uninterrupted_weights(workspace, reference, capsys):
    output = workspace / "killed"
    kill_after_first_checkpoint(arguments(workspace, output), output)
    assert main(arguments(workspace, output)) == 0
    results = json.loads((output / "eval_results.json").read_text())
    assert results["train_steps"] == TOTAL_STEPS
    assert 0 < results["resumed_from_step"] < TOTAL_STEPS and results["resumed_from_step"] % EVAL_EVERY == 0
    # Each step reads its own batch of a fixed per-epoch order and the optimizer state (and dropout's
    # seed state) come back with the checkpoint, so nothing may differ: same weights, same metrics.
    for folder in ("last", "model"):
        for resumed, uninterrupted in zip(preset_weights(output / folder), preset_weights(reference / folder)):
            np.testing.assert_allclose(resumed, uninterrupted, rtol=0, atol=1e-6)
    assert [row["step"] for row in metrics_rows(output)] == [str(step) for step in range(3, 13, 3)]
    for resumed, uninterrupted in zip(metrics_rows(output), metrics_rows(reference)):
        assert float(resumed["dev_accuracy"]) == float(uninterrupted["dev_accuracy"])
        assert float(resumed["loss"]) == pytest.approx(float(uninterrupted["loss"]), rel=1e-5)

    # Finished: a rerun trains nothing and says so.
    capsys.readouterr()
    stamp = (output / "eval_results.json").stat().st_mtime_ns
    assert main(arguments(workspace, output)) == 0
    assert "already finished: nothing to do" in capsys.readouterr().out
    assert (output / "eval_results.json").stat().st_mtime_ns == stamp


def test_the_output_preset_is_the_checkpoint_with_the_best_dev_metric(reference):
    from albert_tf.preset_format import read_preset

    rows = metrics_rows(reference)
    accuracies = [float(row["dev_accuracy"]) for row in rows]
    best_row = rows[int(np.argmax(accuracies))]  # the first of equal bests
    results = json.loads((reference / "eval_results.json").read_text())
    assert results["best"]["step"] == int(best_row["step"]) and results["best"]["metric"] == "dev_accuracy"
    assert results["best"]["value"] == max(accuracies)
    assert results["metrics"]["dev"]["accuracy"] == pytest.approx(max(accuracies))  # the reloaded preset's
    assert results["last"]["step"] == TOTAL_STEPS
    assert results["last"]["scores"]["dev"]["accuracy"] == float(rows[-1]["dev_accuracy"])
    assert read_preset(reference / "model").provenance["step"] == int(best_row["step"])
    assert read_preset(reference / "last").provenance["step"] == TOTAL_STEPS
    assert (reference / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(reference / "logs"))


def test_other_settings_in_the_same_folder_are_refused(workspace, reference, capsys):
    assert main(arguments(workspace, reference, "--learning-rate", "1e-4")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "started with other settings: --learning-rate 0.002 -> 0.0001" in err[0], err


@pytest.mark.long
def test_seeds_write_one_run_each_and_a_summary_of_their_results(workspace):
    output = workspace / "seeds"
    assert main(arguments(workspace, output, "--seeds", "3", "--epochs", "1", "--eval-every", "6",
                          "--max-train-examples", "24")) == 0
    summary = json.loads((output / "seeds_summary.json").read_text())
    assert summary["seeds"] == [12345, 12346, 12347]
    values = [json.loads((output / f"seed-{seed}" / "eval_results.json").read_text())["metrics"]["dev"]["accuracy"]
              for seed in summary["seeds"]]
    accuracy = summary["metrics"]["dev"]["accuracy"]
    assert accuracy["mean"] == pytest.approx(np.mean(values)) and accuracy["std"] == pytest.approx(np.std(values, ddof=1))
    assert (accuracy["min"], accuracy["max"]) == (min(values), max(values))
    for seed in summary["seeds"]:
        assert (output / f"seed-{seed}" / "model" / "config.json").exists()


def test_unwritable_output_folder_and_missing_labels_file_are_one_line_errors(workspace, tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anywhere a mode allows nothing: use a folder the kernel refuses
        unwritable = "/sys/albert_tf_test_output"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        unwritable = str(locked / "out")
    assert main(arguments(workspace, unwritable)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("albert finetune: error: ") and "permission denied" in err[0], err

    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for split in ("train", "dev"):
        (csv_dir / f"{split}.csv").write_text("review,stars\ngreat film,pos\ndull film,neg\n")
    missing = tmp_path / "labels.txt"
    assert main(["finetune", "--task", "csv", "--data-dir", str(csv_dir), "--output-dir", str(tmp_path / "out"),
                 "--config", str(workspace / "config.json"), "--spm-model", str(SPM_MODEL), "--text-column", "review",
                 "--label-column", "stars", "--labels", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"albert finetune: error: --labels file not found: {missing} (give a file with one label per "
                   "line, or the labels comma-separated)"]
    assert not (tmp_path / "out").exists()
