"""The `albert` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from albert_tf.cli.main import main


def test_summary_prints_measured_counts(capsys, tmp_path):
    config_path = tmp_path / "hf_config.json"
    config_path.write_text(json.dumps({
        "model_type": "albert", "vocab_size": 100, "embedding_size": 16, "hidden_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "hidden_act": "gelu_new",
    }))
    assert main(["summary", "base", str(config_path)]) == 0
    out = capsys.readouterr().out
    base_row = next(line for line in out.splitlines() if line.startswith("base"))
    assert base_row.split()[-2:] == ["11,683,584", "11,683,584"]
    custom_row = next(line for line in out.splitlines() if line.startswith(str(config_path)))
    assert "100" in custom_row.split()


def test_bad_config_is_a_one_line_error(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"hidden_size": 100, "num_attention_heads": 12}))
    assert main(["summary", str(path)]) == 2
    err = capsys.readouterr().err
    assert "albert summary: error:" in err and "hidden_size=100" in err and str(path) in err


def test_console_script_help():
    result = subprocess.run(
        [sys.executable, "-m", "albert_tf.cli.main", "--help"], capture_output=True, text=True, check=True
    )
    assert "summary" in result.stdout


def test_missing_subcommand_exits_with_usage():
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_create_data_command(capsys, tmp_path):
    from conftest import SHARED_DATA

    spm_model = SHARED_DATA / "albert" / "spiece.model"
    if not spm_model.exists():
        pytest.skip("needs ../shared/data (real ALBERT vocabulary)")
    sample = SHARED_DATA / "corpus" / "hf_sample_text.txt"
    arguments = ["create-data", "--input", str(sample), "--spm-model", str(spm_model),
                 "--output-dir", str(tmp_path / "records"), "--max-seq-length", "64", "--no-progress"]
    assert main(arguments) == 0
    assert "from 3 documents (1 new shards, 0 already present)" in capsys.readouterr().out
    assert main(arguments) == 0
    assert "(0 new shards, 1 already present)" in capsys.readouterr().out, "a rerun resumes"
    missing = ["create-data", "--input", str(sample), "--spm-model", str(tmp_path / "none.model"),
               "--output-dir", str(tmp_path / "other")]
    assert main(missing) == 2
    assert "none.model" in capsys.readouterr().err


def test_predict_warns_once_about_truncated_inputs(capsys, tmp_path):
    from albert_tf import AlbertBackbone, AlbertConfig, AlbertGraphTokenizer
    from albert_tf.preprocessor import AlbertPreprocessor
    from albert_tf.tasks import AlbertClassifier
    from conftest import SHARED_DATA

    spm_model = SHARED_DATA / "albert" / "spiece.model"
    if not spm_model.exists():
        pytest.skip("needs ../shared/data")
    backbone = AlbertBackbone(AlbertConfig(vocab_size=30000, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                                           num_attention_heads=2, intermediate_size=16, max_position_embeddings=16))
    preprocessor = AlbertPreprocessor(AlbertGraphTokenizer(spm_model), sequence_length=16)
    AlbertClassifier(backbone, num_classes=2, preprocessor=preprocessor, labels=["neg", "pos"]).save_to_preset(
        tmp_path / "model")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "model"), " ".join(["word"] * 2000), "short", "also short"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if "truncated" in line]
    assert len(warnings) == 1 and "1 of 3 inputs" in warnings[0] and "16 tokens" in warnings[0], captured.err
    assert len(captured.out.splitlines()) == 3


def test_progress_bars_are_drawn_only_on_a_terminal(tmp_path, capsys, monkeypatch):
    """In a log file or a pipe a bar is a line of carriage returns: the command turns it off there, as
    --no-progress does, and draws it when stderr is a terminal."""
    import random
    import sys

    rng = random.Random(0)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(["red", "green", "blue", "cat", "dog", "runs", "fast", "slow"])
                                         for _ in range(8)) for _ in range(300)) + "\n", "utf-8")

    def train_spm(prefix: str) -> str:
        capsys.readouterr()
        assert main(["train-spm", str(corpus), "--model-prefix", str(tmp_path / prefix / "spm"),
                     "--vocab-size", "30"]) == 0
        return capsys.readouterr().err

    assert "reading:" not in train_spm("piped")  # capsys' stderr is not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert "reading:" in train_spm("terminal")
