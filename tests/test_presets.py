"""A model travels whole: presets carry weights, tokenizer, label names and task kind through
finetune -> save -> reload in a fresh process -> predict -> export -> MediaPipe, with no
--spm-model or --labels typed again; bad presets end with one line naming the file."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import SHARED_DATA

SPM = SHARED_DATA / "albert" / "spiece.model"
SST2 = SHARED_DATA / "glue" / "SST-2"
pytestmark = pytest.mark.skipif(not (SPM.is_file() and (SST2 / "train.tsv").is_file()),
                                reason="needs ../shared/data (the ALBERT spm model and SST-2)")

TINY = dict(vocab_size=30000, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=64)
TEXTS = ["a gripping , beautifully acted film .", "dull , lifeless and far too long .",
         "Héllo Wörld: I loved 1,000 moments of it!", "not good"]


def albert(*arguments, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "albert_tf", *map(str, arguments)], capture_output=True,
                            text=True)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


# TensorFlow's own C++ log lines (e.g. "failed call to cuInit" on machines without a GPU) are not ours.
TF_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] ")


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.strip().splitlines() if not TF_LOG_LINE.match(line)]
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("presets")


@pytest.fixture(scope="module")
def pretrained(workdir) -> pathlib.Path:
    """A backbone preset with the real vocabulary (what pretrain or convert writes)."""
    from albert_tf import AlbertBackbone, AlbertConfig

    path = workdir / "pretrained"
    AlbertBackbone(AlbertConfig(**TINY)).save_to_preset(path, spm_model=SPM, sequence_length=32,
                                                       provenance={"data": "random init (test)"})
    return path


@pytest.fixture(scope="module")
def finetuned(workdir, pretrained) -> pathlib.Path:
    """`albert finetune --init PRESET` on 300 SST-2 rows, without --spm-model."""
    data = workdir / "sst2"
    data.mkdir()
    lines = (SST2 / "train.tsv").read_text("utf-8").splitlines()
    (data / "train.tsv").write_text("\n".join(lines[:301]) + "\n", "utf-8")
    (data / "dev.tsv").write_text("\n".join((SST2 / "dev.tsv").read_text("utf-8").splitlines()[:41]) + "\n", "utf-8")
    out = workdir / "finetuned"
    albert("finetune", "--task", "sst2", "--data-dir", data, "--output-dir", out, "--init", pretrained,
           "--max-seq-length", "32", "--batch-size", "16", "--epochs", "1", "--learning-rate", "1e-3",
           "--no-progress")
    return out / "model"


def test_finetuned_preset_is_whole(finetuned):
    config = json.loads((finetuned / "config.json").read_text())
    assert config["task"] == "classifier" and config["labels"] == ["negative", "positive"]
    assert config["preprocessor"]["sequence_length"] == 32 and config["preprocessor"]["text_pair"] is False
    assert config["provenance"]["task"] == "sst2" and config["provenance"]["train_examples"] == 300
    assert "dev" in config["provenance"]["dev_metrics"]
    assert (finetuned / "assets" / "tokenizer" / "spiece.model").read_bytes() == SPM.read_bytes()


@pytest.mark.long
def test_reload_in_a_fresh_process_gives_the_same_probabilities(finetuned, workdir):
    from albert_tf.tasks import AlbertClassifier

    model = AlbertClassifier.from_preset(finetuned)
    before = model.classify(TEXTS)
    keras_file = workdir / "classifier.keras"
    model.save(keras_file)
    script = f"""
import json, keras, albert_tf
from albert_tf.presets import load_preset
texts = {TEXTS!r}
print(json.dumps([load_preset({str(finetuned)!r}).classify(texts),
                  keras.saving.load_model({str(keras_file)!r}).classify(texts)]))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    for after in json.loads(result.stdout.strip().splitlines()[-1]):
        assert [row["label"] for row in after] == [row["label"] for row in before]
        for old, new in zip(before, after):
            assert set(new["probabilities"]) == {"negative", "positive"}
            for name in ("negative", "positive"):
                assert abs(old["probabilities"][name] - new["probabilities"][name]) < 1e-6


def test_strings_and_ids_agree(finetuned):
    from albert_tf import AlbertTokenizer
    from albert_tf.tasks import AlbertClassifier

    model = AlbertClassifier.from_preset(finetuned)
    tokenizer = AlbertTokenizer(SPM)
    ids = [tokenizer.encode_pair(text, max_seq_length=32) for text in TEXTS]
    inputs = {name: np.asarray([row[name] for row in ids], np.int32) for name in ids[0]}
    from_ids = model.predict(inputs, verbose=0)
    from_text = model.predict(TEXTS, verbose=0)
    np.testing.assert_allclose(from_text, from_ids, atol=1e-6)


@pytest.mark.long
def test_predict_cli_equals_the_python_api(finetuned, workdir):
    from albert_tf.presets import load_preset

    expected = load_preset(finetuned).classify(TEXTS)
    inputs = workdir / "texts.txt"
    inputs.write_text("\n".join(TEXTS) + "\n", "utf-8")
    output = workdir / "predictions.jsonl"
    albert("predict", finetuned, "--input", inputs, "--output", output)
    rows = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert [row["input"] for row in rows] == [[text] for text in TEXTS]
    for row, want in zip(rows, expected):
        assert row["label"] == want["label"]
        assert abs(row["score"] - want["score"]) < 1e-6
    printed = albert("predict", finetuned, TEXTS[0]).stdout.strip().splitlines()
    assert json.loads(printed[-1])["label"] == expected[0]["label"]


@pytest.mark.long
def test_finetune_export_mediapipe_without_spm_or_labels(finetuned, workdir):
    pytest.importorskip("mediapipe", reason="MediaPipe validates the on-device contract")
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.text import text_classifier

    from albert_tf.presets import load_preset

    out = workdir / "export"
    albert("export", finetuned, "--output-dir", out, "--quantize", "none")
    assert (out / "bundle" / "labels.txt").read_text().split() == ["negative", "positive"]
    assert (out / "saved_model" / "1").is_dir()
    options = text_classifier.TextClassifierOptions(
        base_options=BaseOptions(model_asset_path=str(out / "bundle" / "model_fp32.tflite")), max_results=-1)
    expected = load_preset(finetuned).classify(TEXTS[:2])
    with text_classifier.TextClassifier.create_from_options(options) as classifier:
        for text, want in zip(TEXTS[:2], expected):
            categories = classifier.classify(text).classifications[0].categories
            scores = {c.category_name: c.score for c in categories}
            assert set(scores) == {"negative", "positive"}
            assert abs(scores[want["label"]] - want["score"]) < 1e-5
    # Rerunning on the same preset adds no duplicate SavedModel version.
    albert("export", finetuned, "--output-dir", out, "--quantize", "none", "--overwrite")
    assert sorted(p.name for p in (out / "saved_model").iterdir()) == ["1"]
    assert not list(out.glob(".tmp-*"))


@pytest.mark.long
def test_failed_export_publishes_nothing(finetuned, workdir):
    out = workdir / "failed_export"
    other_vocabulary = workdir / "other.model"
    _train_small_spm(other_vocabulary)
    result = albert("export", finetuned, "--output-dir", out, "--spm-model", other_vocabulary, check=False)
    one_line_error(result, "pieces")
    assert not (out / "saved_model").exists() and not (out / "bundle").exists()
    assert not list(out.glob(".tmp-*"))


def test_span_qa_answer_is_the_context_slice(workdir):
    from albert_tf import AlbertBackbone, AlbertConfig
    from albert_tf.preprocessor import AlbertPreprocessor
    from albert_tf.tasks import AlbertSpanQA

    preset = workdir / "qa"
    model = AlbertSpanQA(AlbertBackbone(AlbertConfig(**TINY)),
                         preprocessor=AlbertPreprocessor.from_spm_model(SPM, 48, text_pair=True))
    model.save_to_preset(preset)
    context = ("Super Bowl 50 was played on February 7, 2016, at Levi's Stadium in Santa Clara, California. "
               "The Denver Broncos defeated the Carolina Panthers 24–10 to earn their third title.")
    questions = ["Who won?", "Where was the game played?", "When?"]
    rows = workdir / "qa.tsv"
    rows.write_text("".join(f"{question}\t{context}\n" for question in questions), "utf-8")
    output = workdir / "qa.jsonl"
    albert("predict", preset, "--input", rows, "--output", output)
    answers = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert len(answers) == 3
    for answer in answers:
        assert answer["answer"] and context[answer["start"]:answer["end"]] == answer["answer"]
    assert model.answer(questions[0], context)["answer"] == answers[0]["answer"]


# ------------------------------------------------------------------ bad presets
def _train_small_spm(path: pathlib.Path) -> None:
    import sentencepiece as spm

    text = path.with_suffix(".txt")
    text.write_text("\n".join(f"line {index} of some words here and there" for index in range(200)), "utf-8")
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(path.with_suffix("")), vocab_size=40,
                                   user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], pad_id=0, unk_id=1,
                                   bos_id=-1, eos_id=-1, minloglevel=2)


def _copy(finetuned: pathlib.Path, workdir: pathlib.Path, name: str) -> pathlib.Path:
    target = workdir / name
    shutil.copytree(finetuned, target)
    return target


def _edit_config(preset: pathlib.Path, **changes) -> None:
    config = json.loads((preset / "config.json").read_text())
    config.update(changes)
    (preset / "config.json").write_text(json.dumps(config))


def _without_tokenizer_record(preset: pathlib.Path) -> None:
    """As a preset assembled by hand: config.json records no tokenizer (a recorded one that is missing or
    changed is refused as damaged, tests/test_preset_checksums.py)."""
    files = json.loads((preset / "config.json").read_text())["files"]
    _edit_config(preset, files={name: record for name, record in files.items() if not name.startswith("assets/")})


def test_preset_without_tokenizer(finetuned, workdir):
    preset = _copy(finetuned, workdir, "no_tokenizer")
    shutil.rmtree(preset / "assets")
    _without_tokenizer_record(preset)
    one_line_error(albert("predict", preset, "text", check=False), str(preset), "no tokenizer", "spiece.model")
    one_line_error(albert("export", preset, "--output-dir", workdir / "x", check=False), "carries no tokenizer",
                   "--spm-model")


def test_tokenizer_size_differs_from_the_config(finetuned, workdir):
    preset = _copy(finetuned, workdir, "wrong_tokenizer")
    _train_small_spm(workdir / "small.model")
    shutil.copyfile(workdir / "small.model", preset / "assets" / "tokenizer" / "spiece.model")
    _without_tokenizer_record(preset)
    one_line_error(albert("predict", preset, "text", check=False), "spiece.model", "40 pieces", "30000")


def test_label_list_length_differs_from_the_head(finetuned, workdir):
    preset = _copy(finetuned, workdir, "three_labels")
    _edit_config(preset, labels=["a", "b", "c"])
    one_line_error(albert("predict", preset, "text", check=False), "3 label names", "2 outputs")
    labels = workdir / "labels.txt"
    labels.write_text("only_one\n")
    one_line_error(albert("export", finetuned, "--output-dir", workdir / "y", "--labels-file", labels, check=False),
                   "1 labels", "2 classes")


def test_text_pair_given_to_a_single_text_model(finetuned, workdir):
    from albert_tf.presets import load_preset

    rows = workdir / "pairs.tsv"
    rows.write_text("first text\tsecond text\n", "utf-8")
    one_line_error(albert("predict", finetuned, "--input", rows, check=False), "row 1", "2 field(s)", "takes 1")
    with pytest.raises(ValueError, match="takes one text per example, but a text pair"):
        load_preset(finetuned).classify((["a"], ["b"]))


def test_unknown_task_kind(finetuned, workdir):
    preset = _copy(finetuned, workdir, "unknown_kind")
    _edit_config(preset, task="summarizer")
    one_line_error(albert("predict", preset, "text", check=False), "config.json", "unknown task kind 'summarizer'")


def test_not_a_preset(workdir):
    folder = workdir / "empty"
    folder.mkdir()
    one_line_error(albert("predict", folder, "text", check=False), "config.json is missing")


def test_pretraining_writes_a_preset_that_finetuning_starts_from(workdir):
    import keras

    from albert_tf import AlbertConfig
    from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
    from albert_tf.presets import load_preset
    from albert_tf.pretrainer import AlbertPretrainer
    from albert_tf.tasks import AlbertClassifier
    from albert_tf.training.pretraining import PretrainingSettings, run_pretraining

    records = workdir / "records"
    create_pretraining_data([str(SHARED_DATA / "corpus" / "hf_sample_text.txt")], str(SPM), str(records),
                            PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=1),
                            progress=False)
    output = workdir / "pretrain"
    run_pretraining(PretrainingSettings(config=AlbertConfig(**TINY), records=(str(records),), output_dir=str(output),
                                        batch_size=4, train_steps=2, steps_per_checkpoint=2, progress=False,
                                        strategy="one_device"))
    preset = output / "model"
    config = json.loads((preset / "config.json").read_text())
    assert config["task"] == "pretrainer" and config["provenance"]["train_steps"] == 2
    assert config["preprocessor"]["sequence_length"] == 32
    assert (preset / "assets" / "tokenizer" / "spiece.model").read_bytes() == SPM.read_bytes()
    saved = keras.saving.load_model(output / "pretrainer.keras", compile=False)
    loaded = load_preset(preset)
    assert isinstance(loaded, AlbertPretrainer)
    for ours, theirs in zip(loaded.weights, saved.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    classifier = AlbertClassifier.from_preset(preset, num_classes=2, labels=["no", "yes"])
    np.testing.assert_array_equal(classifier.backbone.token_embedding.embeddings.numpy(),
                                  saved.backbone.token_embedding.embeddings.numpy())
    assert classifier.preprocessor.sequence_length == 32 and len(classifier.classify(["a text"])) == 1


@pytest.mark.parametrize("kind", ["multiple_choice", "token_classifier"])
def test_other_task_models_take_text_and_travel_whole(kind, workdir):
    import keras

    from albert_tf import AlbertBackbone, AlbertConfig
    from albert_tf.preprocessor import AlbertPreprocessor
    from albert_tf.presets import load_preset
    from albert_tf.tasks import AlbertMultipleChoice, AlbertTokenClassifier

    backbone = AlbertBackbone(AlbertConfig(**TINY))
    if kind == "multiple_choice":
        model = AlbertMultipleChoice(backbone, 3, preprocessor=AlbertPreprocessor.from_spm_model(SPM, 24, True),
                                     labels=["A", "B", "C"])
        x = (["the sky is", "grass is"] * 4, [["blue", "green", "red"], ["red", "green", "blue"]] * 4)
        y = np.array([0, 1] * 4)
    else:
        model = AlbertTokenClassifier(backbone, 3, preprocessor=AlbertPreprocessor.from_spm_model(SPM, 24),
                                      labels=["O", "B", "I"])
        x = ["Paris is in France", "I like tea"] * 4
        y = np.zeros((8, 24), np.int32)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    before = model.predict(x, verbose=0)
    model.save_to_preset(workdir / kind)
    loaded = load_preset(workdir / kind)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, atol=1e-6)
    assert loaded.labels == model.labels
    if kind == "multiple_choice":
        choice = loaded.choose(["the sky is"], [["blue", "green", "red"]])[0]
        assert choice["label"] in {"A", "B", "C"} and abs(sum(choice["probabilities"].values()) - 1) < 1e-6
    else:
        tags = loaded.tag(["Paris is in France"])[0]
        assert [tag["piece"] for tag in tags] == loaded.preprocessor.tokenizer.python_tokenizer.tokenize(
            "Paris is in France")


def test_corrupt_keras_file_given_to_export_is_named(workdir):
    bad = workdir / "corrupt.keras"
    bad.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    one_line_error(albert("export", bad, "--output-dir", workdir / "z", "--spm-model", SPM, check=False),
                   str(bad), "corrupt")


@pytest.mark.long
@pytest.mark.parametrize("event", ["export:built", "export:saved-model-published"])
def test_killed_export_then_rerun_publishes_one_complete_set(finetuned, workdir, event):
    import os

    out = workdir / f"killed_export_{event.split(':')[1]}"
    command = [sys.executable, "-m", "albert_tf", "export", str(finetuned), "--output-dir", str(out),
               "--quantize", "dynamic"]
    killed = subprocess.run(command, capture_output=True, text=True,
                            env=dict(os.environ, ALBERT_TF_FAULT_AFTER=event))
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (out / "bundle").exists()  # never a half-published bundle
    assert list(out.glob(".tmp-export-*"))  # the killed run's work folder is left...
    albert("export", finetuned, "--output-dir", out, "--quantize", "dynamic")
    assert not list(out.glob(".tmp-*"))  # ...and removed by the rerun
    assert (out / "bundle" / "manifest.json").is_file()
    assert sorted(p.name for p in (out / "saved_model").iterdir()) == ["1"]
