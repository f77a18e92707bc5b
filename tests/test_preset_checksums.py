"""config.json's `files` record (each file's size and SHA-256, as written) is checked when a preset loads:
HDF5 keeps no checksums, so a flipped byte inside a weight's values would otherwise load silently. Presets
written before the record load unchecked."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import pathlib
import subprocess
import sys

import h5py
import numpy as np
import pytest

from albert_tf.cli.main import main
from conftest import one_line_error
import test_damaged_presets
from test_damaged_presets import _copy, _drop_files_record, _edit_config

preset = test_damaged_presets.preset  # its tiny classifier preset (fixture), with a tokenizer and a head

CHANGED = "has changed or was damaged since the preset was written"
FIX = "save or export the preset again, or restore the file"


def _flip_a_weight_value(path: pathlib.Path) -> None:
    """Inverts one byte in the middle of the largest dataset's values. HDF5 still reads the file: only that
    value changes."""
    with h5py.File(path, "r") as store:
        datasets: list[h5py.Dataset] = []
        store.visititems(lambda name, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None)
        largest = max(datasets, key=lambda dataset: dataset.id.get_storage_size())
        offset = largest.id.get_offset() + largest.id.get_storage_size() // 2
    with open(path, "r+b") as stream:
        stream.seek(offset)
        byte = stream.read(1)[0]
        stream.seek(offset)
        stream.write(bytes([byte ^ 0xFF]))


def _values(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Every dataset of the HDF5 file `path`, read with h5py (which fails on damage it can see)."""
    values: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as store:
        store.visititems(lambda name, item: values.update({name: item[()]})
                         if isinstance(item, h5py.Dataset) else None)
    return values


def _changed_spm_model(proto: bytes) -> bytes:
    """The SentencePiece model `proto` with one piece's score raised: as many pieces, other tokenization."""
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto.FromString(proto)
    model.pieces[50].score += 5.0
    return model.SerializeToString()


def test_files_record_matches_the_bytes_on_disk(preset):
    from albert_tf.preset_format import read_preset

    files = json.loads((preset / "config.json").read_text())["files"]
    on_disk = {path.relative_to(preset).as_posix(): path.read_bytes() for path in preset.rglob("*")
               if path.is_file() and path.name != "config.json"}
    assert set(files) == set(on_disk) == {"backbone.weights.h5", "head.weights.h5", "assets/tokenizer/spiece.model"}
    for name, data in on_disk.items():
        assert files[name] == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}, name
    assert read_preset(preset).files == files


@pytest.mark.parametrize("weights", ["backbone.weights.h5", "head.weights.h5"])
def test_flipped_byte_in_a_weight_value_is_refused_at_load(preset, tmp_path, weights):
    from albert_tf.presets import load_preset

    damaged = _copy(preset, tmp_path)
    before = _values(damaged / weights)
    _flip_a_weight_value(damaged / weights)
    after = _values(damaged / weights)  # HDF5 reads it without complaint: only the checksum can tell
    assert before.keys() == after.keys()
    assert sum(not np.array_equal(before[name], after[name], equal_nan=True) for name in before) == 1
    with pytest.raises(ValueError) as raised:
        load_preset(damaged)
    message = str(raised.value)
    assert len(message.splitlines()) == 1, message
    assert f"{damaged / weights} {CHANGED} (its SHA-256 differs" in message and FIX in message, message


def test_flipped_weight_value_ends_albert_predict_with_one_line(preset, tmp_path):
    """The real command in a fresh process: exit code 2 and one stderr line. (Without the TF_CPP_MIN_LOG_LEVEL
    this process inherited from albert_tf: the command hides TensorFlow's native lines itself.)"""
    damaged = _copy(preset, tmp_path)
    _flip_a_weight_value(damaged / "backbone.weights.h5")
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    environment["PYTHONPATH"] = str(pathlib.Path(__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-m", "albert_tf", "predict", str(damaged), "abc de"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path, env=environment,
                            check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("albert predict: error: ") and result.stdout == "", lines
    assert f"{damaged / 'backbone.weights.h5'} {CHANGED}" in lines[0] and FIX in lines[0], lines


@pytest.mark.parametrize("change", ["other scores", "truncated", "deleted"])
def test_changed_tokenizer_is_refused(preset, tmp_path, capsys, change):
    spm_model = tmp_path / "copy" / "assets" / "tokenizer" / "spiece.model"
    changed = _copy(preset, tmp_path)
    if change == "other scores":  # a valid model of the right size: it would load and tokenize differently
        spm_model.write_bytes(_changed_spm_model(spm_model.read_bytes()))
    elif change == "truncated":
        spm_model.write_bytes(spm_model.read_bytes()[:-100])
    else:
        spm_model.unlink()
    one_line_error(capsys, ["predict", changed, "abc de"], f"{spm_model} {CHANGED}", FIX)


def test_preset_written_before_the_record_loads_and_predicts_the_same(preset, tmp_path, capsys):
    from albert_tf.presets import load_preset

    old = _copy(preset, tmp_path)
    _drop_files_record(old)
    texts = ["abc de", "fgh ij klm"]
    np.testing.assert_array_equal(load_preset(old).predict(texts), load_preset(preset).predict(texts))
    capsys.readouterr()
    outputs = []
    for folder in (preset, old):
        assert main(["predict", str(folder), *texts]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 2


@pytest.mark.parametrize("files", [[], {"backbone.weights.h5": {"size": -1, "sha256": "0" * 64}},
                                   {"backbone.weights.h5": {"size": 1, "sha256": "xyz"}},
                                   {"../backbone.weights.h5": {"size": 1, "sha256": "0" * 64}}])
def test_malformed_files_record_is_named(preset, tmp_path, capsys, files):
    broken = _copy(preset, tmp_path)
    _edit_config(broken, lambda config: config.update(files=files))
    one_line_error(capsys, ["predict", broken, "x"], f"{broken / 'config.json'}: ", "files",
                   'remove the "files" section')


def test_each_file_is_checked_once_per_load(preset, monkeypatch):
    """`read_preset` runs several times per load; the hashing runs once per file."""
    from albert_tf import preset_format
    from albert_tf.presets import load_preset

    checked: collections.Counter[str] = collections.Counter()
    real_verify = preset_format.verify_file

    def counting(path, record, data=None):
        checked[pathlib.Path(path).relative_to(preset).as_posix()] += 1
        real_verify(path, record, data)

    monkeypatch.setattr(preset_format, "verify_file", counting)
    load_preset(preset)
    assert checked == {"backbone.weights.h5": 1, "head.weights.h5": 1, "assets/tokenizer/spiece.model": 1}


@pytest.mark.parametrize("reader", ["finetune", "convert"])
def test_changed_tokenizer_is_refused_where_it_is_read_without_a_model(preset, tmp_path, reader):
    """`albert finetune --init PRESET` and `albert convert` read a backbone preset's tokenizer bytes
    themselves (no preprocessor is built from them, so loading checks nothing): they check the record too."""
    from albert_tf.convert.api import load_source
    from albert_tf.finetuning.runner import tokenizer_source
    from albert_tf.preset_format import read_preset, save_model_preset
    from albert_tf.presets import load_preset

    classifier = load_preset(preset)
    backbone_preset = tmp_path / "backbone"
    save_model_preset(backbone_preset, classifier.backbone, classifier.backbone, "backbone",
                      tokenizer_proto=read_preset(preset).read_tokenizer())
    spm_model = backbone_preset / "assets" / "tokenizer" / "spiece.model"
    spm_model.write_bytes(_changed_spm_model(spm_model.read_bytes()))
    with pytest.raises(ValueError, match=CHANGED):
        if reader == "convert":
            load_source("preset", backbone_preset)
        else:
            tokenizer_source(None, str(backbone_preset))
