"""A run folder belongs to the command that made it: `albert pretrain` into an `albert finetune` folder (or the
reverse) is refused with one line and leaves every file as it was (it used to replace the fine-tuned preset)."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from albert_tf import AlbertConfig
from albert_tf.cli.main import main
from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
from albert_tf.training.resume import SETTINGS_FILE, check_run_settings
from conftest import SHARED_DATA, one_line_error, write_keyword_csv

SPM = SHARED_DATA / "albert" / "spiece.model"
SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
needs_data = pytest.mark.skipif(not SPM.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")

TINY = AlbertConfig(vocab_size=30000, embedding_size=16, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)


def snapshot(folder: pathlib.Path) -> dict[str, bytes]:
    """Every file's bytes (the lock file aside: taking the lock is not a change)."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != ".lock"}




def pretrain_argv(config: pathlib.Path, records: pathlib.Path, output: pathlib.Path) -> list[str]:
    return ["pretrain", "--config", str(config), "--records", str(records), "--output-dir", str(output),
            "--batch-size", "4", "--train-steps", "2", "--steps-per-checkpoint", "2", "--strategy", "one_device",
            "--no-progress"]


def finetune_argv(data: pathlib.Path, init: pathlib.Path, output: pathlib.Path) -> list[str]:
    return ["finetune", "--task", "csv", "--data-dir", str(data), "--output-dir", str(output), "--init", str(init),
            "--epochs", "1", "--batch-size", "8", "--max-seq-length", "32", "--no-progress",
            "--text-column", "review", "--label-column", "stars", "--strategy", "one_device"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished pretraining run (`pt`), a copy of its preset (`init`) and a csv task (`data`)."""
    root = tmp_path_factory.mktemp("runs")
    create_pretraining_data([str(SAMPLE)], str(SPM), str(root / "records"),
                            PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=1),
                            progress=False)
    TINY.to_json_file(root / "tiny.json")
    assert main(pretrain_argv(root / "tiny.json", root / "records", root / "pt")) == 0
    shutil.copytree(root / "pt" / "model", root / "init")
    write_keyword_csv(root / "data", train_rows=24, dev_rows=8)
    return root


@needs_data
def test_pretrain_into_a_finetune_folder_is_refused_and_changes_nothing(capsys, runs, tmp_path):
    finetuned = tmp_path / "ft"
    assert main(finetune_argv(runs / "data", runs / "init", finetuned)) == 0
    assert json.loads((finetuned / "model" / "config.json").read_text())["task"] == "classifier"
    before = snapshot(finetuned)
    one_line_error(capsys, pretrain_argv(runs / "tiny.json", runs / "records", finetuned),
            "`albert finetune` run", str(finetuned / SETTINGS_FILE), "new --output-dir")
    assert snapshot(finetuned) == before


@needs_data
def test_finetune_into_a_pretrain_folder_is_refused_and_changes_nothing(capsys, runs, tmp_path):
    pretrained = tmp_path / "pt"
    shutil.copytree(runs / "pt", pretrained)
    before = snapshot(pretrained)
    one_line_error(capsys, finetune_argv(runs / "data", runs / "init", pretrained),
            "`albert pretrain` run", str(pretrained / SETTINGS_FILE), "new --output-dir")
    assert snapshot(pretrained) == before


@needs_data
def test_overwrite_does_not_clear_another_commands_folder(capsys, runs, tmp_path):
    """`--overwrite` replaces a run of the same command; it used to delete the other command's record first."""
    pretrained = tmp_path / "pt"
    shutil.copytree(runs / "pt", pretrained)
    before = snapshot(pretrained)
    one_line_error(capsys, [*finetune_argv(runs / "data", runs / "init", pretrained), "--overwrite"],
            "`albert pretrain` run", "new --output-dir")
    assert snapshot(pretrained) == before


def test_record_of_another_command_is_refused_even_without_state(tmp_path):
    record = {"command": "albert distill", "settings": {"seed": 1}}
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(record))
    with pytest.raises(ValueError, match="holds an `albert distill` run"):
        check_run_settings(str(tmp_path), {"seed": 1}, has_state=False, command="albert pretrain",
                           alternatives="use a new --output-dir")
    assert json.loads((tmp_path / SETTINGS_FILE).read_text()) == record


def test_record_of_the_same_command_without_state_is_rewritten(tmp_path):
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"command": "albert pretrain", "settings": {"seed": 1}}))
    check_run_settings(str(tmp_path), {"seed": 2}, has_state=False, command="albert pretrain",
                       alternatives="use a new --output-dir")
    assert json.loads((tmp_path / SETTINGS_FILE).read_text())["settings"] == {"seed": 2}
