"""The bundle's files and formats (what the Android app reads), and `albert export` end to end."""

from __future__ import annotations

import hashlib
import json

import numpy as np

import export_helpers as helpers
from albert_tf.cli.main import main
from albert_tf.export.bundle import ADAPTIVE_MODEL_FILES, MODEL_FILES
from albert_tf.export.tflite import input_shape_signatures, make_interpreter, run_ids_model


def test_manifest_files_and_hashes():
    directory = helpers.bundle().directory
    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    assert manifest["format"] == "albert_tf.bundle/1" and manifest["seq_length"] == helpers.SEQ_LENGTH
    assert manifest["tokenizer"]["special_ids"] == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    assert manifest["tokenizer"]["normalization"] == {
        "collapse_whitespace": True, "replace_latex_quotes": True, "strip_accents": True, "lower_case": True,
        "split_digit_comma": True}
    assert [i["metadata_name"] for i in manifest["inputs"]] == ["ids", "mask", "segment_ids"]
    assert manifest["labels"] == list(helpers.LABELS)
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == entry["sha256"]
    expected = {"spm.model", "spm_vocab.tsv", "labels.txt", "golden.json", "model_fp32.tflite", "model_fp16.tflite",
                "model_dynamic_int8.tflite", "model_int8.tflite", "model_text.tflite", "model_fp32_adaptive.tflite",
                "model_fp16_adaptive.tflite", "model_dynamic_int8_adaptive.tflite"}
    assert set(manifest["files"]) == expected
    assert {p.name for p in directory.parent.iterdir() if p.name.startswith(".tmp")} == set()
    # Sizes without the attached spm model and labels (the metadata carries a copy of each).
    attached = manifest["files"]["spm.model"]["bytes"] + manifest["files"]["labels.txt"]["bytes"]
    sizes = {e["quantization"]: manifest["files"][e["file"]]["bytes"] - attached
             for e in manifest["models"] if e["input"] == "ids" and e["file"] in MODEL_FILES.values()}
    assert sizes["dynamic"] < 0.3 * sizes["none"] and sizes["fp16"] < 0.6 * sizes["none"]


def test_vocab_tsv_in_id_order():
    lines = (helpers.bundle().directory / "spm_vocab.tsv").read_text("utf-8").splitlines()
    tokenizer = helpers.tokenizer()
    assert len(lines) == tokenizer.vocab_size
    rows = [line.split("\t") for line in lines]
    assert all(len(row) == 3 for row in rows)
    assert rows[0] == ["<pad>", "0.0", "CONTROL"] and rows[1][2] == "UNKNOWN" and rows[2][0] == "[CLS]"
    assert {row[2] for row in rows} <= {"NORMAL", "UNKNOWN", "CONTROL", "USER_DEFINED", "UNUSED", "BYTE"}
    for index in (5, 100, 29999):
        assert rows[index][0] == tokenizer.id_to_piece(index)


def test_golden_rows_reproduce_the_tokenizer_and_model():
    golden = json.loads((helpers.bundle().directory / "golden.json").read_text("utf-8"))
    assert golden["format"] == "albert_tf.golden/1" and golden["outputs"] == ["probabilities"]
    tokenizer = helpers.tokenizer()
    texts = [e["text"] for e in golden["examples"]]
    assert "" in texts and any(e["num_tokens"] > helpers.SEQ_LENGTH for e in golden["examples"])
    assert any(not e["mediapipe_same_ids"] for e in golden["examples"])
    for example in golden["examples"]:
        packed = tokenizer.encode_pair(example["text"], None, helpers.SEQ_LENGTH)
        assert all(packed[name] == example[name] for name in packed)
    inputs = {k: np.asarray([e[k] for e in golden["examples"]], np.int32) for k in packed}
    np.testing.assert_allclose(helpers.keras_outputs(inputs)["probabilities"],
                               [e["probabilities"] for e in golden["examples"]], atol=1e-6)
    assert set(golden["tolerance"]) == {"model_fp32.tflite", "model_fp16.tflite", "model_dynamic_int8.tflite",
                                        "model_int8.tflite", "model_text.tflite", "model_fp32_adaptive.tflite",
                                        "model_fp16_adaptive.tflite", "model_dynamic_int8_adaptive.tflite"}


def test_length_adaptive_models_beside_the_fixed_ones():
    """Fixed [1, L] models keep MediaPipe's metadata; each [1, -1] twin has none and answers as its fixed model."""
    directory = helpers.bundle().directory
    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    entries = {e["file"]: e for e in manifest["models"]}
    golden = json.loads((directory / "golden.json").read_text("utf-8"))
    inputs = {k: np.asarray([e[k] for e in golden["examples"]], np.int32)
              for k in ("input_word_ids", "input_mask", "input_type_ids")}
    assert len(set(inputs["input_mask"].sum(-1))) >= 5, "golden rows of several lengths"
    for quantize, file in ADAPTIVE_MODEL_FILES.items():
        fixed_file = MODEL_FILES[quantize]
        assert entries[fixed_file]["metadata"] == "mediapipe_text_classifier"
        assert input_shape_signatures((directory / fixed_file).read_bytes()) == [[1, helpers.SEQ_LENGTH]] * 3
        entry = entries[file]
        assert entry["metadata"] is None and entry["builtin_ops_only"] and entry["quantization"] == quantize
        assert input_shape_signatures((directory / file).read_bytes()) == [[1, -1]] * 3
        assert entry["golden_argmax_agreement"] == 1.0
        fixed = run_ids_model(make_interpreter(directory / fixed_file), inputs)["probabilities"]
        adaptive = run_ids_model(make_interpreter(directory / file), inputs, length_adaptive=True)["probabilities"]
        diff = float(np.max(np.abs(adaptive - fixed)))
        print(f"{file}: max |p - p({fixed_file})| = {diff:.1e}")
        # Measured: fp32 3e-8, fp16 8.6e-6, dynamic int8 1.2e-4 (activations quantized per call, over n or L).
        assert diff < {"none": 1e-5, "fp16": 1e-4, "dynamic": 2e-2}[quantize]
    assert "model_int8_adaptive.tflite" not in entries, "full int8 stays fixed-length"


def test_cli_export_end_to_end(tmp_path, capsys):
    model_path = tmp_path / "classifier.keras"
    helpers.trained_classifier().save(model_path)
    code = main(["export", "--model", str(model_path), "--spm-model", str(helpers.SPM_MODEL), "--output-dir",
                 str(tmp_path / "out"), "--seq-length", "16", "--quantize", "none", "--labels", "neg,pos"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (tmp_path / "out" / "saved_model" / "1" / "saved_model.pb").is_file()
    manifest = json.loads((tmp_path / "out" / "bundle" / "manifest.json").read_text("utf-8"))
    assert manifest["labels"] == ["neg", "pos"] and manifest["seq_length"] == 16
    assert "model_fp32.tflite" in out and "bundle written to" in out
