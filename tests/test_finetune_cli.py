"""`albert finetune` end to end: GLUE (SST-2), SQuAD v2, RACE, CSV, errors, and SST-2 learning (slow)."""

from __future__ import annotations

import json

import pytest

from albert_tf.cli.main import main
from conftest import SHARED_DATA, TINY_FIELDS, majority_share, needs_data, write_keyword_csv

SPM_MODEL = SHARED_DATA / "albert" / "spiece.model"
SST2 = SHARED_DATA / "glue" / "SST-2"
# Every run tokenizes with the real vocabulary; only the SST-2 tests need GLUE.
pytestmark = needs_data("albert/spiece.model")
needs_sst2 = needs_data("glue/SST-2")

FAST = ["--max-seq-length", "32", "--batch-size", "8", "--epochs", "1", "--learning-rate", "1e-3", "--no-progress"]


def finetune(*arguments) -> int:
    return main(["finetune", "--spm-model", str(SPM_MODEL), *map(str, arguments)])


@pytest.fixture
def small_sst2(tmp_path):
    """500 train rows, 100 dev rows and a 40-row test.tsv in the GLUE layout."""
    folder = tmp_path / "SST-2"
    folder.mkdir()
    train = SST2.joinpath("train.tsv").read_text(encoding="utf-8").splitlines()
    dev = SST2.joinpath("dev.tsv").read_text(encoding="utf-8").splitlines()
    (folder / "train.tsv").write_text("\n".join(train[:501]) + "\n", encoding="utf-8")
    (folder / "dev.tsv").write_text("\n".join(dev[:101]) + "\n", encoding="utf-8")
    test = ["index\tsentence"] + [f"{i}\t{line.split(chr(9))[0]}" for i, line in enumerate(dev[101:141])]
    (folder / "test.tsv").write_text("\n".join(test) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def small_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY_FIELDS, "vocab_size": 30000}))
    return path


def test_task_names_agree():
    from albert_tf.cli.finetune import TASKS
    from albert_tf.finetuning import TASK_NAMES

    assert set(TASKS) == set(TASK_NAMES)


@pytest.mark.long
@needs_sst2
def test_sst2_one_epoch_writes_results_submission_and_models(small_sst2, tmp_path, capsys):
    out = tmp_path / "out"
    assert finetune("--task", "sst2", "--data-dir", small_sst2, "--output-dir", out, "--config", "tiny",
                    "--max-seq-length", "64", "--batch-size", "32", "--epochs", "1", "--learning-rate", "1e-3",
                    "--no-progress") == 0
    assert "dev: accuracy" in capsys.readouterr().out
    results = json.loads((out / "eval_results.json").read_text())
    assert results["task"] == "sst2" and results["num_train_examples"] == 500
    assert 0.0 <= results["metrics"]["dev"]["accuracy"] <= 1.0
    assert results["prediction_files"] == ["SST-2.tsv"]
    lines = (out / "SST-2.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 41
    assert all(line.split("\t")[1] in ("0", "1") for line in lines[1:]) and lines[1].startswith("0\t")
    from albert_tf.tasks import AlbertClassifier

    model = AlbertClassifier.from_preset(out / "model")
    assert model.labels == ["negative", "positive"] and model.preprocessor.sequence_length == 64
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp")]


def test_squad2_from_pretrainer_checkpoint(tmp_path, small_config):

    from albert_tf import AlbertBackbone, AlbertConfig
    from albert_tf.pretrainer import AlbertPretrainer

    checkpoint = tmp_path / "pretrainer.keras"
    AlbertPretrainer(AlbertBackbone(AlbertConfig.from_json_file(small_config))).save(checkpoint)
    data = tmp_path / "squad"
    data.mkdir()
    context = "Denver beat Carolina 24-10 in Santa Clara, California, on February 7, 2016."
    qas = [{"id": "q1", "question": "Who won?", "is_impossible": False,
            "answers": [{"text": "Denver", "answer_start": 0}]},
           {"id": "q2", "question": "Who sang?", "is_impossible": True, "answers": []}]
    squad = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}
    for name in ("train-v2.0.json", "dev-v2.0.json"):
        (data / name).write_text(json.dumps(squad))
    out = tmp_path / "out"
    assert finetune("--task", "squad2", "--data-dir", data, "--output-dir", out, "--init-checkpoint", checkpoint,
                    "--doc-stride", "8", "--max-query-length", "8", *FAST) == 0
    results = json.loads((out / "eval_results.json").read_text())
    assert {"exact", "f1", "HasAns_exact", "NoAns_exact"} <= set(results["metrics"]["dev"])
    assert set(json.loads((out / "predictions.json").read_text())) == {"q1", "q2"}
    assert set(json.loads((out / "null_odds.json").read_text())) == {"q1", "q2"}
    assert isinstance(AlbertBackbone.from_preset(out / "model"), AlbertBackbone)


def test_race_runs(tmp_path, small_config):
    from test_finetune_race import write_race

    for split in ("train", "dev"):
        write_race(tmp_path / "race", split=split)
    out = tmp_path / "race_out"
    assert finetune("--task", "race", "--data-dir", tmp_path / "race", "--output-dir", out,
                    "--config", small_config, "--max-qa-length", "12", *FAST) == 0
    results = json.loads((out / "eval_results.json").read_text())
    assert results["num_train_examples"] == 2 and set(results["metrics"]) == {"dev"}


@pytest.mark.long
def test_csv_learns_a_keyword_task_from_backbone_checkpoint(tmp_path, small_config):
    from albert_tf import AlbertBackbone, AlbertConfig

    backbone = tmp_path / "backbone.keras"
    AlbertBackbone(AlbertConfig.from_json_file(small_config)).save(backbone)
    csv_dir = tmp_path / "csv"
    write_keyword_csv(csv_dir, train_rows=480, dev_rows=80)
    out = tmp_path / "csv_out"
    # 120 steps: measured dev accuracy 1.0 (2 epochs, 60 steps, stay at chance).
    assert finetune("--task", "csv", "--data-dir", csv_dir, "--output-dir", out, "--init-checkpoint", backbone,
                    "--text-column", "review", "--label-column", "stars", "--max-seq-length", "16",
                    "--batch-size", "16", "--epochs", "4", "--learning-rate", "3e-3", "--no-progress") == 0
    accuracy = json.loads((out / "eval_results.json").read_text())["metrics"]["dev"]["accuracy"]
    majority = majority_share(csv_dir / "dev.csv")
    assert majority < 0.65 and accuracy >= 0.9, f"dev accuracy {accuracy} (majority class {majority})"
    lines = (out / "predictions.tsv").read_text().splitlines()
    assert len(lines) == 81 and {line.split("\t")[1] for line in lines[1:]} <= {"neg", "pos"}


@needs_sst2
def test_bad_inputs_are_one_line_errors(tmp_path, small_sst2, capsys):
    out = tmp_path / "out"
    assert finetune("--task", "sst2", "--data-dir", tmp_path / "missing", "--output-dir", out,
                    "--config", "tiny", *FAST) == 2
    assert "Data directory not found" in capsys.readouterr().err
    with open(small_sst2 / "train.tsv", "a", encoding="utf-8") as handle:
        handle.write("a fine film\tpositive\n")
    assert finetune("--task", "sst2", "--data-dir", small_sst2, "--output-dir", out, "--config", "tiny", *FAST) == 2
    assert "train.tsv, line 502: label 'positive' is not one of the task's labels" in capsys.readouterr().err
    only_train = tmp_path / "only_train"
    only_train.mkdir()
    (only_train / "train.tsv").write_text("sentence\tlabel\na fine film\t1\n")
    assert finetune("--task", "sst2", "--data-dir", only_train, "--output-dir", out, "--config", "tiny", *FAST) == 2
    assert "Data file not found: " + str(only_train / "dev.tsv") in capsys.readouterr().err
    assert finetune("--task", "csv", "--data-dir", small_sst2, "--output-dir", out, "--config", "tiny", *FAST) == 2
    assert "needs --text-column and --label-column" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
@needs_sst2
def test_sst2_tiny_from_scratch_beats_majority_class(tmp_path, capsys):
    """albert_tiny from random weights, 3,000 SST-2 rows, 2 epochs (a few CPU minutes)."""
    out = tmp_path / "out"
    assert finetune("--task", "sst2", "--data-dir", SST2, "--output-dir", out, "--config", "tiny",
                    "--max-seq-length", "64", "--max-train-examples", "3000", "--epochs", "2",
                    "--learning-rate", "1e-3", "--batch-size", "32", "--no-progress") == 0
    accuracy = json.loads((out / "eval_results.json").read_text())["metrics"]["dev"]["accuracy"]
    majority = 444 / 872  # positives in dev.tsv
    assert accuracy >= 0.65 > majority + 0.1, accuracy


def test_no_progress_reaches_the_features_bar_and_dropout_is_checked(tmp_path, capsys):
    from conftest import write_keyword_csv

    data = tmp_path / "csv"
    data.mkdir()
    write_keyword_csv(data, train_rows=16, dev_rows=8)
    base = ["--task", "csv", "--data-dir", data, "--config", "tiny", "--text-column", "review", "--label-column",
            "stars", "--batch-size", "8", "--epochs", "1", "--no-progress"]
    for extra, fragment in (
        (["--dropout", "1.5", "--output-dir", tmp_path / "a"], "--dropout"),  # refused by the parser
        (["--labels", "neg,neg,pos", "--output-dir", tmp_path / "b"], "--labels"),
        (["--max-seq-length", "2", "--output-dir", tmp_path / "c"], "--max-seq-length"),
    ):
        capsys.readouterr()
        try:
            code = finetune(*base, *extra)
        except SystemExit as exit_info:
            code = exit_info.code
        assert code == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and error.startswith("albert finetune: error: "), error
        assert fragment in error and "features" not in error and "%|" not in error, error


def test_feature_bars_follow_no_progress(capsys):
    from albert_tf.finetuning.features import ChoiceExample, TextExample, encode_choice_examples, encode_text_examples
    from albert_tf.tokenizer import AlbertTokenizer

    tokenizer = AlbertTokenizer(SPM_MODEL)
    capsys.readouterr()
    encode_text_examples([TextExample("1", "a fine film", None, "pos")], tokenizer, 16, "train features",
                         progress=False)
    encode_choice_examples([ChoiceExample("1", "a context", "why?", ("a", "b"), 0)], tokenizer, 16,
                           description="choice features", progress=False)
    assert "features" not in capsys.readouterr().err
