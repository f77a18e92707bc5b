"""Fault injection for `albert pretrain`: real processes killed with SIGKILL at chosen
moments (inside checkpoint and backup writes, between files, during the final save),
and damaged or changed state on a relaunch. Every rerun must end with complete,
consistent outputs at the requested step.

Kill points come from the test-only hook `ALBERT_TF_FAULT_AFTER=<event>[@n]`
(`albert_tf.io_utils.fault_point`): the process SIGKILLs itself there.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys

import keras
import pytest

from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.cli.main import main
from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
from albert_tf.io_utils import FAULT_ENVIRONMENT_VARIABLE
from albert_tf.pretrainer import AlbertPretrainer
from conftest import SHARED_DATA

SPM = SHARED_DATA / "albert" / "spiece.model"
SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
pytestmark = pytest.mark.skipif(not SPM.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")

TINY = AlbertConfig(vocab_size=30000, embedding_size=16, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=32, max_position_embeddings=32)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    output = tmp_path_factory.mktemp("records")
    create_pretraining_data([str(SAMPLE)], str(SPM), str(output),
                            PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=2),
                            progress=False)
    return output


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "tiny.json"
    TINY.to_json_file(path)
    return path


def arguments(config_file, records, output, *extra):
    return ["pretrain", "--config", str(config_file), "--records", str(records), "--output-dir", str(output),
            "--no-progress", "--strategy", "one_device", "--batch-size", "4", *extra]


def run_process(args, fault=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop(FAULT_ENVIRONMENT_VARIABLE, None)
    if fault:
        env[FAULT_ENVIRONMENT_VARIABLE] = fault
    return subprocess.run([sys.executable, "-m", "albert_tf.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=600)


def leftovers(output: pathlib.Path) -> list[str]:
    return sorted(str(path.relative_to(output)) for path in output.rglob(".tmp-*"))


def assert_complete(output: pathlib.Path, train_steps: int, config: AlbertConfig = TINY) -> dict:
    state = json.loads((output / "training_state.json").read_text())
    assert state["final_step"] == train_steps
    backbone = keras.saving.load_model(output / "backbone.keras")
    assert isinstance(backbone, AlbertBackbone) and backbone.config == config
    assert isinstance(keras.saving.load_model(output / "pretrainer.keras"), AlbertPretrainer)
    assert AlbertConfig.from_json_file(output / "albert_config.json") == config
    assert f"ckpt-{train_steps}.weights.h5" in os.listdir(output / "checkpoints")
    assert leftovers(output) == [], "a killed run's temporary files survived the rerun"
    return state


@pytest.mark.long
def test_killed_inside_every_write_rerun_completes(records, config_file, tmp_path):
    output = tmp_path / "run"
    args = arguments(config_file, records, output, "--train-steps", "6", "--steps-per-checkpoint", "2")
    # Each run is killed at the next write point; the last one runs to the end.
    faults = [
        # backup weights of step 4 written aside, not yet published
        ("pretrain:backup-written@2", 2),
        # backup of step 4 published, its training_metadata.json (still step 2) not yet rewritten
        ("pretrain:backup-published@1", 4),
        # checkpoint of step 6 written aside, not yet published (the backup already holds step 6)
        ("pretrain:checkpoint-written@1", 6),
        # final save: backbone.keras written, pretrainer.keras and training_state.json not
        ("pretrain:backbone-saved", 6),
    ]
    for fault, saved_step in faults:
        result = run_process(args, fault)
        assert result.returncode == -signal.SIGKILL, (fault, result.stderr[-3000:])
        assert not (output / "training_state.json").exists(), fault
        metadata = json.loads((output / "backup" / "training_metadata.json").read_text())
        if fault != "pretrain:backup-published@1":
            assert metadata["step"] == saved_step, fault
    finished = run_process(args)
    assert finished.returncode == 0, finished.stderr[-3000:]
    state = assert_complete(output, 6)
    assert state["resumed_from_step"] == 6, "the final rerun restored step 6, not an older state"
    again = run_process(args)
    assert again.returncode == 0 and "resumed at step 6" in again.stdout, "a finished run stays finished"


def test_torn_backup_falls_back_to_the_rotating_checkpoint(records, config_file, tmp_path, capsys):
    output = tmp_path / "run"
    args = arguments(config_file, records, output, "--train-steps", "4", "--steps-per-checkpoint", "2")
    assert main(args) == 0
    # What an in-place backup write killed halfway left (the bug): a truncated HDF5 file.
    backup = output / "backup" / "latest.weights.h5"
    backup.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    os.remove(output / "checkpoints" / "ckpt-4.weights.h5")
    (output / "training_state.json").unlink()
    # A killed checkpoint write of an older version.
    (output / "checkpoints" / ".tmp-ckpt-4.weights.h5").write_bytes(b"partial")
    capsys.readouterr()
    assert main(args) == 0
    assert "resumed at step 2" in capsys.readouterr().out
    state = assert_complete(output, 4)
    assert state["resumed_from_step"] == 2


def test_all_saved_states_unreadable_is_one_line(records, config_file, tmp_path, capsys):
    output = tmp_path / "run"
    args = arguments(config_file, records, output, "--train-steps", "2", "--steps-per-checkpoint", "2")
    assert main(args) == 0
    for path in [output / "backup" / "latest.weights.h5", *(output / "checkpoints").glob("ckpt-*")]:
        path.write_bytes(b"\0" * 100)
    capsys.readouterr()
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "No saved training state can be read" in error
    assert "latest.weights.h5" in error and "ckpt-2.weights.h5" in error


@pytest.mark.parametrize("change, named", [
    (["--steps-per-checkpoint", "1"], "--steps-per-checkpoint 2 -> 1"),
    (["--train-steps", "6"], "--train-steps 4 -> 6"),
    (["--learning-rate", "0.01"], "--learning-rate 0.00176 -> 0.01"),
    (["--config", "OTHER"], "--config (hidden_size 32 -> 64"),
])
def test_resume_with_another_setting_is_refused_naming_it(records, config_file, tmp_path_factory, capsys,
                                                         change, named):
    output = tmp_path_factory.getbasetemp() / "settings-run"
    base = arguments(config_file, records, output, "--train-steps", "4", "--steps-per-checkpoint", "2")
    if not (output / "training_state.json").exists():
        assert main(base) == 0
    if change[0] == "--config":
        other = tmp_path_factory.mktemp("other") / "wider.json"
        TINY.replace(hidden_size=64, intermediate_size=64).to_json_file(other)
        change = ["--config", str(other)]
    capsys.readouterr()
    before = sorted(os.listdir(output))
    assert main(base + change) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("albert pretrain: error:")
    assert named in error and str(output) in error
    assert sorted(os.listdir(output)) == before, "nothing written by a refused run"


@pytest.mark.long
def test_settings_may_change_before_the_first_checkpoint(records, config_file, tmp_path, capsys):
    output = tmp_path / "run"
    # Killed before any state was saved: nothing to lose, so another setting is accepted.
    result = run_process(arguments(config_file, records, output, "--train-steps", "4", "--steps-per-checkpoint", "2"),
                         "pretrain:backup-written@1")
    assert result.returncode == -signal.SIGKILL
    assert main(arguments(config_file, records, output, "--train-steps", "2", "--steps-per-checkpoint", "1")) == 0
    assert_complete(output, 2)


def test_init_backbone_records_the_loaded_shape(records, config_file, tmp_path):
    micro = TINY.replace(hidden_size=16, intermediate_size=16, num_attention_heads=1)
    path = tmp_path / "micro.keras"
    AlbertBackbone(micro).save(path)
    output = tmp_path / "run"
    assert main(arguments(config_file, records, output, "--train-steps", "2", "--steps-per-checkpoint", "2",
                          "--init-backbone", str(path))) == 0
    assert_complete(output, 2, config=micro)
    recorded = json.loads((output / "run_settings.json").read_text())["settings"]
    assert recorded["config"] == micro.to_dict() and recorded["init_backbone"] == str(path)


def test_second_process_on_the_same_folder_is_refused(records, config_file, tmp_path, capsys):
    import fcntl

    output = tmp_path / "run"
    output.mkdir()
    with open(output / ".lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        assert main(arguments(config_file, records, output, "--train-steps", "2", "--steps-per-checkpoint", "2")) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "in use by another `albert pretrain` process" in error


@pytest.mark.long
@pytest.mark.parametrize("fault", ["pretrain:backup-written@2", "pretrain:checkpoint-written@2"])
def test_metrics_keep_one_row_per_interval_across_a_kill(records, config_file, tmp_path, fault):
    """Killed between an interval's metrics row and its saved state (or after both), the rerun
    ends with exactly one row per interval: none lost, none twice."""
    import csv

    output = tmp_path / "run"
    args = arguments(config_file, records, output, "--train-steps", "8", "--steps-per-checkpoint", "2")
    assert run_process(args, fault).returncode == -signal.SIGKILL
    assert run_process(args).returncode == 0
    with open(output / "metrics.csv", newline="") as stream:
        epochs = [int(row["epoch"]) for row in csv.DictReader(stream)]
    assert epochs == [0, 1, 2, 3]


def test_resume_of_a_run_from_an_older_version_keeps_its_metrics_rows(records, config_file, tmp_path):
    """Older versions wrote metrics.csv with a Keras CSVLogger (an `epoch` column, no `step`): a relaunch
    restored before the last interval keeps the earlier rows, drops the later ones and trains them again."""
    import csv

    output = tmp_path / "run"
    args = arguments(config_file, records, output, "--train-steps", "4", "--steps-per-checkpoint", "2")
    assert main(args) == 0
    with open(output / "metrics.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    old_columns = ["epoch", *sorted(name for name in rows[0] if name not in ("step", "epoch"))]
    with open(output / "metrics.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, old_columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    # Killed during the last interval, as an older version would have left it: state at step 2, both rows.
    for path in [output / "training_state.json", output / "backup" / "latest.weights.h5",
                 output / "checkpoints" / "ckpt-4.weights.h5"]:
        path.unlink()
    assert main(args) == 0
    with open(output / "metrics.csv", newline="") as stream:
        resumed = list(csv.DictReader(stream))
    assert [(int(row["step"]), int(row["epoch"])) for row in resumed] == [(2, 0), (4, 1)]
    assert float(resumed[0]["loss"]) == float(rows[0]["loss"]), "the kept row is the older run's"

