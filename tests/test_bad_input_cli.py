"""Bad input and damaged files end as one line (`albert CMD: error: ...`), exit code 2,
naming the path or setting, with no traceback (issue 20, items 8-10)."""

from __future__ import annotations

import errno
import json

import pytest
import tensorflow as tf

from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.cli.errors import describe_user_error
from albert_tf.cli.main import main
from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
from albert_tf.data.documents import read_documents
from conftest import SHARED_DATA, one_line_error

SPM = SHARED_DATA / "albert" / "spiece.model"
SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
needs_data = pytest.mark.skipif(not SPM.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")

TINY = AlbertConfig(vocab_size=30000, embedding_size=16, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=32, max_position_embeddings=32)




@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("One sentence here.\nAnother one there.\n\nA second document.\nWith two lines.\n")
    return path


@pytest.fixture
def regular_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


# --- train-spm -----------------------------------------------------------------

def test_train_spm_prefix_naming_a_folder(capsys, tmp_path, corpus):
    one_line_error(capsys, ["train-spm", str(corpus), "--model-prefix", f"{tmp_path}/vocab/", "--vocab-size", "30"],
                   "--model-prefix", "names a folder", "spiece")
    assert not list(tmp_path.rglob("*.model")) and not list(tmp_path.rglob(".model"))


def test_train_spm_refuses_to_replace_a_vocabulary(capsys, tmp_path, corpus):
    model = tmp_path / "spm.model"
    model.write_bytes(b"an existing vocabulary")
    one_line_error(capsys, ["train-spm", str(corpus), "--model-prefix", str(tmp_path / "spm"), "--vocab-size", "30"],
                   model, "--overwrite")
    assert model.read_bytes() == b"an existing vocabulary"


def test_train_spm_prefix_under_a_regular_file(capsys, corpus, regular_file):
    one_line_error(capsys, ["train-spm", str(corpus), "--model-prefix", str(regular_file / "spm")],
                   regular_file, "is a file, not a folder")


def test_train_spm_input_that_is_a_directory(capsys, tmp_path):
    one_line_error(capsys, ["train-spm", str(tmp_path), "--model-prefix", str(tmp_path / "spm")],
                   tmp_path, "is a directory", absent=["not found"])


# --- create-data ---------------------------------------------------------------

def create_data(input_path, output, *extra):
    return ["create-data", "--input", str(input_path), "--spm-model", str(SPM), "--output-dir", str(output),
            "--max-seq-length", "32", "--max-predictions-per-seq", "5", "--dupe-factor", "1", "--no-progress", *extra]


@needs_data
def test_create_data_empty_input(capsys, tmp_path):
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n  \n")
    one_line_error(capsys, create_data(blank, tmp_path / "out"), "No pretraining example", blank)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    one_line_error(capsys, create_data(empty, tmp_path / "out2"), empty, "is empty")


@needs_data
def test_create_data_output_under_a_regular_file(capsys, corpus, regular_file):
    one_line_error(capsys, create_data(corpus, regular_file / "records"), "--output-dir", regular_file,
                   "is a file, not a folder")


@needs_data
def test_create_data_input_that_is_a_directory(capsys, tmp_path):
    (tmp_path / "inputs").mkdir()
    one_line_error(capsys, create_data(tmp_path / "inputs", tmp_path / "out"), tmp_path / "inputs",
                   "is a directory", absent=["not found"])


@needs_data
def test_create_data_non_utf8_names_file_line_and_its_flag(capsys, tmp_path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Fine line.\nA caf\u00e9 line.\n\nMore text.\nAnd more.\n".encode("latin-1"))
    one_line_error(capsys, create_data(latin1, tmp_path / "out"), f"{latin1}:2: not valid UTF-8",
                   "--skip-invalid-utf8")


def test_shared_document_reader_suggests_no_flag(tmp_path):
    # `albert demo` reads its corpus with this reader and has no --skip-invalid-utf8.
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("A caf\u00e9 line.\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt:1: not valid UTF-8") as raised:
        list(read_documents(latin1))
    assert "--" not in str(raised.value)


# --- config and memory ---------------------------------------------------------

def test_config_too_large_to_allocate(capsys, tmp_path):
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps(dict(vocab_size=3_000_000, embedding_size=100_000, hidden_size=64,
                                    num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                    max_position_embeddings=32)))
    one_line_error(capsys, ["summary", str(huge)], "out of memory", "smaller config")


def test_config_path_that_is_a_directory(capsys, tmp_path):
    one_line_error(capsys, ["summary", str(tmp_path)], tmp_path)


# --- pretrain ------------------------------------------------------------------

@pytest.fixture(scope="module")
def records(tmp_path_factory):
    if not SPM.exists():
        pytest.skip("needs ../shared/data")
    output = tmp_path_factory.mktemp("records")
    create_pretraining_data([str(SAMPLE)], str(SPM), str(output),
                            PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=1),
                            progress=False)
    return output


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "tiny.json"
    TINY.to_json_file(path)
    return path


def pretrain(config_file, records, output, *extra):
    return ["pretrain", "--config", str(config_file), "--records", str(records), "--output-dir", str(output),
            "--no-progress", "--strategy", "one_device", "--batch-size", "4", "--train-steps", "2",
            "--steps-per-checkpoint", "2", *extra]


def damaged_copy(records, tmp_path, damage):
    """A copy of the records whose every shard is damaged in its first record (read by the first batch)."""
    copy = tmp_path / "damaged"
    copy.mkdir()
    for path in records.iterdir():
        if path.is_file():
            data = path.read_bytes()
            (copy / path.name).write_bytes(damage(bytearray(data)) if path.suffix == ".tfrecord" else data)
    return copy, sorted(copy.glob("part-*.tfrecord"))[0]


@pytest.mark.parametrize("damage", ["truncated", "bit-flipped"])
def test_pretrain_damaged_record_shard_is_named(capsys, tmp_path, records, config_file, damage):
    def truncate(data):
        return bytes(data[:40])

    def flip(data):
        data[30] ^= 0x10
        return bytes(data)

    copy, shard = damaged_copy(records, tmp_path, truncate if damage == "truncated" else flip)
    one_line_error(capsys, pretrain(config_file, copy, tmp_path / "run"), f"Record shard {shard}",
                   "truncated or corrupt", "albert create-data")


def _onednn_hint_applies(monkeypatch):
    """Makes the oneDNN hint apply on any host: a Linux x86 CPU where oneDNN is off and no choice was made."""
    from albert_tf.training import cpu_kernels

    monkeypatch.delenv(cpu_kernels.ONEDNN_VARIABLE, raising=False)
    monkeypatch.setattr(cpu_kernels.platform, "system", lambda: "Linux")
    monkeypatch.setattr(cpu_kernels.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(cpu_kernels, "onednn_enabled", lambda: False)


def test_a_training_run_that_fails_says_one_line_where_the_oneDNN_hint_applies(capsys, tmp_path, records,
                                                                                config_file, monkeypatch):
    # The shard fails as the first batch is read, after the run has set itself up.
    _onednn_hint_applies(monkeypatch)
    copy, shard = damaged_copy(records, tmp_path, lambda data: bytes(data[:40]))
    one_line_error(capsys, pretrain(config_file, copy, tmp_path / "run"), f"Record shard {shard}",
                   absent=["TF_ENABLE_ONEDNN_OPTS"])


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="the hint is for CPU training")
def test_a_finished_training_run_ends_with_the_oneDNN_hint_where_it_applies(capsys, tmp_path, records, config_file,
                                                                           monkeypatch):
    _onednn_hint_applies(monkeypatch)
    capsys.readouterr()
    assert main(pretrain(config_file, records, tmp_path / "run")) == 0
    captured = capsys.readouterr()
    assert "TF_ENABLE_ONEDNN_OPTS=1" in captured.err.strip().splitlines()[-1]


@pytest.mark.parametrize("damage", ["truncated", "bit-flipped", "directory"])
def test_pretrain_damaged_init_backbone(capsys, tmp_path, records, config_file, damage):
    path = tmp_path / "backbone.keras"
    AlbertBackbone(TINY).save(path)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "bit-flipped":
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    else:
        path.unlink()
        path.mkdir()
    expected = "is a directory" if damage == "directory" else "is not a readable"
    one_line_error(capsys, pretrain(config_file, records, tmp_path / "run", "--init-backbone", str(path)),
                   path, expected, absent=["File not found", "not found"])


def test_pretrain_output_under_a_regular_file(capsys, records, config_file, regular_file):
    one_line_error(capsys, pretrain(config_file, records, regular_file / "run"), "--output-dir", regular_file,
                   "is a file, not a folder")


# --- the one place that words OS errors -----------------------------------------

def test_os_errors_name_their_file(tmp_path, regular_file):
    below = regular_file / "sub" / "x.json"
    message = describe_user_error(NotADirectoryError(errno.ENOTDIR, "Not a directory", str(below)))
    assert f"{regular_file} is a file, not a folder" in message and str(below) in message
    message = describe_user_error(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x")))
    assert message.startswith(f"{tmp_path / 'x'}: permission denied")
    message = describe_user_error(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "y")))
    assert str(tmp_path / "y") in message and "no space left" in message
    assert describe_user_error(IsADirectoryError(errno.EISDIR, "Is a directory", str(tmp_path))) == (
        f"{tmp_path} is a folder; give a file path")
    assert describe_user_error(RuntimeError("a bug")) is None, "bugs keep their traceback"


def test_an_uninstalled_checkout_ends_in_one_line_naming_the_fix(capsys, monkeypatch, tmp_path):
    # A source tree on PYTHONPATH lacks albert_tf.configs (setup.cfg maps configs/ to it at install).
    import importlib.resources

    def files(package):
        raise ModuleNotFoundError(f"No module named {package!r}", name=package)

    monkeypatch.setattr(importlib.resources, "files", files)
    one_line_error(capsys, ["pretrain", "--config", "tiny", "--records", str(tmp_path / "r.tfrecord"),
                            "--output-dir", str(tmp_path / "out")], "albert_tf.configs", "pip install -e .")


def test_other_missing_modules_keep_their_traceback():
    assert describe_user_error(ModuleNotFoundError("No module named 'numpy'", name="numpy")) is None


# --- audit fixes: one line, named as the command spells it ------------------------

def _usage_error(capsys, argv, *fragments):
    """argparse refuses the value: exit code 2, its message naming the option."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in error, (fragment, error)


def test_train_spm_no_progress_keeps_corpus_errors_one_line(capsys, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    one_line_error(capsys, ["train-spm", str(empty), "--model-prefix", str(tmp_path / "v" / "spm"), "--vocab-size",
                            "30", "--no-progress"], empty, "no text", absent=["reading"])
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\u00e9\n".encode("latin-1"))
    one_line_error(capsys, ["train-spm", str(latin), "--model-prefix", str(tmp_path / "v" / "spm"), "--vocab-size",
                            "30", "--no-progress"], latin, "not valid UTF-8", absent=["reading"])


def test_train_spm_threads_must_be_positive(capsys, tmp_path, corpus):
    _usage_error(capsys, ["train-spm", str(corpus), "--model-prefix", str(tmp_path / "spm"), "--threads", "-2"],
                 "--threads", ">= 1")


def test_train_spm_names_its_own_character_coverage_option(capsys, tmp_path, corpus):
    one_line_error(capsys, ["train-spm", str(corpus), "--model-prefix", str(tmp_path / "spm"), "--vocab-size", "14",
                            "--no-progress"], "--character-coverage", absent=["--character_coverage"])


def test_train_spm_unwritable_output_is_found_before_training(capsys, monkeypatch, tmp_path, corpus):
    import tempfile

    import sentencepiece

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".tmp-x"))

    def never(*args, **kwargs):
        raise AssertionError("trained before checking the output folder")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # root ignores permission bits: simulate the refusal
    monkeypatch.setattr(sentencepiece.SentencePieceTrainer, "train", never)
    one_line_error(capsys, ["train-spm", str(corpus), "--model-prefix", str(tmp_path / "spm"), "--vocab-size", "30",
                            "--no-progress"], "--model-prefix", "cannot write in", absent=[".tmp-"])


def test_atomic_writer_errors_name_the_target(monkeypatch, tmp_path, regular_file):
    import tempfile

    from albert_tf.io_utils import atomic_write_text

    with pytest.raises(IsADirectoryError) as raised:
        atomic_write_text(tmp_path, "x")
    assert describe_user_error(raised.value) == f"{tmp_path} is a folder; give a file path"
    with pytest.raises(OSError) as raised:
        atomic_write_text(regular_file / "out.jsonl", "x")
    message = describe_user_error(raised.value)
    assert f"{regular_file} is a file, not a folder" in message and "already exists" not in message

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".tmp-abcd"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError) as raised:
        atomic_write_text(tmp_path / "out.jsonl", "x")
    message = describe_user_error(raised.value)
    assert str(tmp_path / "out.jsonl") in message and ".tmp-" not in message and "permission denied" in message


def test_pretrain_settings_refused_up_front_by_their_option(capsys, records, config_file, tmp_path):
    one_line_error(capsys, pretrain(config_file, records, tmp_path / "a", "--warmup-steps", "10"),
                   "--warmup-steps", "--train-steps", absent=["decay_steps"])
    _usage_error(capsys, pretrain(config_file, records, tmp_path / "b", "--weight-decay", "-5"), "--weight-decay")
    _usage_error(capsys, pretrain(config_file, records, tmp_path / "c", "--cpu-devices", "0"), "--cpu-devices")
    one_line_error(capsys, pretrain("tinyy", records, tmp_path / "d"), "--config tinyy", "albert_tiny",
                   "albert_base")
    one_line_error(capsys, pretrain(config_file, records, tmp_path / "e", "--init-backbone", str(tmp_path)),
                   "--init-backbone", "a .keras backbone file", absent=["give a file inside it"])


def test_export_version_and_labels_file_errors(capsys, tmp_path):
    model = str(tmp_path / "no-model")
    _usage_error(capsys, ["export", model, "--output-dir", str(tmp_path / "e"), "--version", "-1"], "--version")
    latin = tmp_path / "labels.txt"
    latin.write_bytes("n\u00e9g\npos\n".encode("latin-1"))
    one_line_error(capsys, ["export", model, "--output-dir", str(tmp_path / "e"), "--labels-file", str(latin)],
                   "--labels-file", latin, "UTF-8")
    one_line_error(capsys, ["export", model, "--output-dir", str(tmp_path / "e"), "--labels-file", str(tmp_path)],
                   "--labels-file", "is a folder", absent=["not found"])
