"""Damaged or inconsistent presets end `albert` with one line naming the file, the key and the fix:
flipped bytes in the weights files, an unreadable weights file, and config.json whose task, head,
labels, sequence length or backbone keys are missing, mistyped or disagree. (Files that differ from
config.json's size and SHA-256 record: tests/test_preset_checksums.py.)"""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import pytest

from albert_tf.cli.main import main
from conftest import one_line_error

CONFIG = dict(vocab_size=100, embedding_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
              intermediate_size=16, max_position_embeddings=32)


@pytest.fixture(scope="module")
def preset(tmp_path_factory) -> pathlib.Path:
    """A tiny two-class classifier preset (labels neg/pos, sequence length 16) with a 100-piece vocabulary."""
    import sentencepiece as spm

    from albert_tf import AlbertBackbone, AlbertConfig
    from albert_tf.preprocessor import AlbertPreprocessor
    from albert_tf.tasks import AlbertClassifier

    folder = tmp_path_factory.mktemp("damaged")
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lines = [" ".join("".join(rng.choice(letters, rng.integers(2, 8))) for _ in range(12)) for _ in range(400)]
    (folder / "corpus.txt").write_text("\n".join(lines), "utf-8")
    spm.SentencePieceTrainer.train(
        input=str(folder / "corpus.txt"), model_prefix=str(folder / "tiny"), vocab_size=100, model_type="unigram",
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols="[CLS],[SEP],[MASK]", hard_vocab_limit=True,
        minloglevel=2)
    model = AlbertClassifier(AlbertBackbone(AlbertConfig(**CONFIG)), num_classes=2, labels=["neg", "pos"],
                             preprocessor=AlbertPreprocessor.from_spm_model(folder / "tiny.model", 16))
    model.save_to_preset(folder / "model")
    return folder / "model"


def _copy(preset: pathlib.Path, tmp_path: pathlib.Path, name: str = "copy") -> pathlib.Path:
    target = tmp_path / name
    shutil.copytree(preset, target)
    return target


def _edit_config(preset: pathlib.Path, edit) -> None:
    config = json.loads((preset / "config.json").read_text())
    edit(config)
    (preset / "config.json").write_text(json.dumps(config))


def _drop_files_record(preset: pathlib.Path) -> None:
    """Makes `preset` one written before config.json recorded its files' sizes and SHA-256 (no check)."""
    _edit_config(preset, lambda config: config.pop("files"))


def _flip_bytes(path: pathlib.Path) -> None:
    """Inverts 400 bytes from the first local heap (the group's link names), keeping the file's size."""
    data = bytearray(path.read_bytes())
    start = data.index(b"HEAP")
    for index in range(start, start + 400):
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))


def test_preset_loads_and_predicts(preset, capsys):
    assert main(["predict", str(preset), "abc de"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["label"] in ("neg", "pos")


@pytest.mark.parametrize("weights", ["backbone.weights.h5", "head.weights.h5"])
def test_flipped_bytes_in_a_weights_file_are_reported_as_damage(preset, tmp_path, capsys, weights):
    """HDF5's own reading finds the damage (in a preset without the `files` record, which would find it first)."""
    damaged = _copy(preset, tmp_path)
    _drop_files_record(damaged)
    size = (damaged / weights).stat().st_size
    _flip_bytes(damaged / weights)
    assert (damaged / weights).stat().st_size == size
    one_line_error(capsys, ["predict", damaged, "x"], f"{damaged / weights} is damaged (",
                    "export the preset again or restore it")


def test_flipped_bytes_in_the_teacher_and_init_presets(preset, tmp_path, capsys):
    from albert_tf.distillation.runner import load_teacher
    from albert_tf.finetuning.runner import load_backbone_checkpoint

    damaged = _copy(preset, tmp_path)
    _drop_files_record(damaged)
    _flip_bytes(damaged / "backbone.weights.h5")
    for load in (load_teacher, load_backbone_checkpoint):
        with pytest.raises(ValueError, match="backbone.weights.h5 is damaged"):
            load(str(damaged))


def test_unreadable_weights_file_is_a_permission_problem_not_damage(preset, tmp_path, capsys, monkeypatch):
    import h5py

    blocked = _copy(preset, tmp_path)
    weights = blocked / "backbone.weights.h5"
    real_file = h5py.File

    def refuse(name, *arguments, **keywords):
        # What h5py raises for a file without read permission (chmod is no barrier to root, who runs the tests).
        if pathlib.Path(str(name)) == weights:
            raise OSError(13, f"Unable to synchronously open file (unable to open file: name = '{name}', "
                              "errno = 13, error message = 'Permission denied')")
        return real_file(name, *arguments, **keywords)

    monkeypatch.setattr(h5py, "File", refuse)
    line = one_line_error(capsys, ["predict", blocked, "x"], f"{weights} is not readable", "permission")
    assert "damaged" not in line


def test_head_section_missing(preset, tmp_path, capsys):
    broken = _copy(preset, tmp_path)
    _edit_config(broken, lambda config: config.pop("head"))
    one_line_error(capsys, ["predict", broken, "x"], str(broken / "config.json"), "'num_classes'", "add it")


def test_num_classes_given_as_a_string(preset, tmp_path, capsys):
    broken = _copy(preset, tmp_path)
    _edit_config(broken, lambda config: config["head"].update(num_classes="2"))
    for arguments in (["predict", broken, "x"],
                      ["convert", "--from", "preset", "--to", "hf", "--checkpoint", broken, "--output",
                       tmp_path / "hf"]):
        one_line_error(capsys, arguments, str(broken / "config.json"), "head.num_classes is '2'",
                        "a whole number >= 1")
    assert not (tmp_path / "hf").exists()


def test_task_that_disagrees_with_the_head(preset, tmp_path, capsys):
    broken = _copy(preset, tmp_path)
    _edit_config(broken, lambda config: config.update(task="span_qa"))
    one_line_error(capsys, ["predict", broken, "x"], str(broken / "config.json"), "'num_classes'", "span_qa",
                    "\"task\" and \"head\" disagree")


def test_preset_labels_that_disagree_with_the_head(preset, tmp_path, capsys):
    broken = _copy(preset, tmp_path)
    _edit_config(broken, lambda config: config["head"].update(num_classes=3))
    one_line_error(capsys, ["predict", broken, "x"], str(broken / "config.json"), "2 label names",
                    "head.num_classes is 3", "head and labels disagree")


@pytest.mark.parametrize("length", [0, 33, "16"])
def test_bad_sequence_length_in_the_preset(preset, tmp_path, capsys, length):
    broken = _copy(preset, tmp_path)
    _edit_config(broken, lambda config: config["preprocessor"].update(sequence_length=length))
    one_line_error(capsys, ["predict", broken, "x"], str(broken / "config.json"),
                    f"preprocessor.sequence_length is {length!r}", "max_position_embeddings (32)")


def test_backbone_without_vocab_size(preset, tmp_path, capsys):
    broken = _copy(preset, tmp_path)
    _edit_config(broken, lambda config: config["backbone"].pop("vocab_size"))
    one_line_error(capsys, ["predict", broken, "x"], str(broken / "config.json"), "no vocab_size key",
                    '"vocab_size": 100')


def test_preset_without_task(preset, tmp_path, capsys):
    broken = _copy(preset, tmp_path)
    _edit_config(broken, lambda config: config.pop("task"))
    one_line_error(capsys, ["predict", broken, "x"], str(broken / "config.json"), 'no "task" key', "classifier",
                    "span_qa")


def test_head_schema_names_each_heads_constructor_arguments():
    """config.json's `head` is checked against `HEAD_KEYS`, which preset_format (below the task models) keeps
    by hand: it must list exactly the arguments each task head's constructor takes (what `save_to_preset` writes
    there), or presets fail to load. (The pretrainer writes only its sentence_loss_weight; its presets load in
    tests/test_presets.py.)"""
    import inspect

    from albert_tf.preset_format import HEAD_KEYS
    from albert_tf.tasks import AlbertClassifier, AlbertMultipleChoice, AlbertSpanQA, AlbertTokenClassifier

    not_head = {"self", "backbone", "preprocessor", "labels", "kwargs"}
    for kind, model in [("classifier", AlbertClassifier),
                        ("span_qa", AlbertSpanQA), ("multiple_choice", AlbertMultipleChoice),
                        ("token_classifier", AlbertTokenClassifier)]:
        parameters = inspect.signature(model.__init__).parameters
        arguments = {name for name in parameters if name not in not_head}
        assert set(HEAD_KEYS[kind]) == arguments, kind
        required = {name for name in arguments if parameters[name].default is inspect.Parameter.empty}
        assert {key for key, (needed, _, _) in HEAD_KEYS[kind].items() if needed} == required, kind
