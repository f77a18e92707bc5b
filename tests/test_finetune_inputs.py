"""Fine-tuning data errors are found before any training, named by file and line."""

from __future__ import annotations

import pytest

from albert_tf.cli.main import main
from conftest import SHARED_DATA

SPM = SHARED_DATA / "albert" / "spiece.model"
pytestmark = pytest.mark.skipif(not SPM.is_file(), reason="needs ../shared/data (the ALBERT spm model)")


def _write_task(folder, dev_rows, train_bytes=None):
    folder.mkdir()
    train = train_bytes or ("sentence\tlabel\n" + "a good film\t1\na bad film\t0\n" * 4).encode()
    (folder / "train.tsv").write_bytes(train)
    (folder / "dev.tsv").write_text("sentence\tlabel\n" + dev_rows, "utf-8")


def _finetune(data, out):
    return main(["finetune", "--task", "sst2", "--data-dir", str(data), "--output-dir", str(out), "--config",
                 "tiny", "--spm-model", str(SPM), "--max-seq-length", "16", "--epochs", "1", "--no-progress"])


def test_bad_dev_label_is_found_before_training(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "out"
    _write_task(data, "fine\t1\nnot a label row\tmaybe\n")
    assert _finetune(data, out) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "dev.tsv, line 3" in error and "'maybe'" in error
    assert not (out / "metrics.csv").exists() and not (out / "model").exists()


def test_non_utf8_training_file_names_file_and_line(tmp_path, capsys):
    data, out = tmp_path / "data", tmp_path / "out"
    rows = "sentence\tlabel\n" + "a good film\t1\n" * 3000  # past the decoder's first read-ahead block
    _write_task(data, "fine\t1\n", rows.encode() + "café\t0\n".encode("latin-1"))
    assert _finetune(data, out) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "train.tsv, line 3002: not UTF-8 (byte 0xe9)" in error


def test_overwrite_refuses_to_delete_its_own_init(tmp_path, capsys):
    from albert_tf import AlbertBackbone, AlbertConfig

    data, out = tmp_path / "data", tmp_path / "out"
    _write_task(data, "fine\t1\n")
    init = out / "model"
    AlbertBackbone(AlbertConfig(vocab_size=30000, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=32, max_position_embeddings=32)
                   ).save_to_preset(init, spm_model=SPM, sequence_length=16)
    code = main(["finetune", "--task", "sst2", "--data-dir", str(data), "--output-dir", str(out), "--init",
                 str(init), "--max-seq-length", "16", "--epochs", "1", "--no-progress", "--overwrite"])
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--init" in error and "lies inside --output-dir" in error
    assert (init / "config.json").is_file()  # nothing deleted
