"""`albert demo` end to end at a reduced size, resume and refusal, and the corpus download."""

from __future__ import annotations

import json
import pathlib
import subprocess
import zipfile

import pytest

from albert_tf.cli.main import main
from albert_tf.demo import corpus
from albert_tf.demo.pipeline import STATE_FILE, DemoSettings, run_demo
from conftest import SHARED_DATA

WIKI = SHARED_DATA / "corpus" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
SST2 = SHARED_DATA / "glue" / "SST-2"
pytestmark = pytest.mark.skipif(not WIKI.exists(), reason="needs ../shared/data (Wikipedia excerpt)")

SMALL = ["--corpus", str(WIKI), "--max-documents", "12", "--vocab-size", "1500", "--seq-length", "64",
         "--dupe-factor", "1", "--train-steps", "20", "--steps-per-checkpoint", "10", "--export-seq-length", "32",
         "--no-progress"]


def test_demo_runs_end_to_end_then_refuses_to_overwrite(tmp_path, capsys):
    output = tmp_path / "run"
    assert main(["demo", "--output-dir", str(output), *SMALL]) == 0
    report = (output / "report.md").read_text()
    for section in ("## Pretraining", "## Fill-mask", "## Export", "| SOP accuracy |", "TFLite dynamic int8"):
        assert section in report
    assert (output / "training_curves.png").read_bytes().startswith(b"\x89PNG")
    manifest = json.loads((output / "export" / "bundle" / "manifest.json").read_text())
    assert manifest["labels"] == ["in_order", "swapped"]
    assert (output / "export" / "saved_model" / "1" / "saved_model.pb").exists()
    assert json.loads((output / STATE_FILE).read_text())["finished"] is True

    report_bytes = (output / "report.md").read_bytes()
    assert main(["demo", "--output-dir", str(output), *SMALL]) == 2
    assert "holds a finished demo run" in capsys.readouterr().err
    assert (output / "report.md").read_bytes() == report_bytes  # untouched

    # An interrupted run (no report yet) resumes: every stage finds its outputs.
    state = json.loads((output / STATE_FILE).read_text())
    (output / STATE_FILE).write_text(json.dumps(dict(state, finished=False)))
    (output / "report.md").unlink()
    assert main(["demo", "--output-dir", str(output), *SMALL]) == 0
    assert (output / "report.md").exists()
    training_state = json.loads((output / "pretrain" / "training_state.json").read_text())
    assert training_state["resumed_from_step"] == 20 and training_state["final_step"] == 20

    # Resuming with other settings is refused, naming what changed.
    state = json.loads((output / STATE_FILE).read_text())
    (output / STATE_FILE).write_text(json.dumps(dict(state, finished=False)))
    changed = [arg if arg != "20" else "40" for arg in SMALL]
    assert main(["demo", "--output-dir", str(output), *changed]) == 2
    assert "other settings (train_steps)" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not SST2.exists(), reason="needs ../shared/data/glue/SST-2")
def test_demo_fine_tunes_and_exports_a_glue_classifier(tmp_path):
    settings = DemoSettings(output_dir=str(tmp_path / "run"), corpus=str(WIKI), glue_dir=str(SST2),
                            max_documents=8, vocab_size=1500, seq_length=64, dupe_factor=1, train_steps=10,
                            steps_per_checkpoint=10, finetune_examples=64, finetune_epochs=1, export_seq_length=32,
                            progress=False)
    report = run_demo(settings, log=lambda message: None).read_text()
    assert "## Fine-tuning" in report and "accuracy" in report
    manifest = json.loads((tmp_path / "run" / "export" / "bundle" / "manifest.json").read_text())
    assert manifest["labels"] == ["0", "1"]


def test_demo_refuses_a_folder_that_is_not_a_demo_run(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a demo run folder"):
        run_demo(DemoSettings(output_dir=str(tmp_path), corpus=str(WIKI)))
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_corpus_is_unzipped_from_the_downloaded_wheel(tmp_path, monkeypatch):
    def fake_pip(command, capture_output, text):
        destination = pathlib.Path(command[command.index("--dest") + 1])
        with zipfile.ZipFile(destination / "gensim-4.4.0-cp311-none-any.whl", "w") as wheel:
            wheel.writestr(corpus.EXCERPT_MEMBER, b"BZh9 excerpt bytes")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(corpus.subprocess, "run", fake_pip)
    path = corpus.wikipedia_excerpt(tmp_path / "cache")
    assert path.name == corpus.EXCERPT_NAME and path.read_bytes() == b"BZh9 excerpt bytes"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [corpus.EXCERPT_NAME]  # scratch removed

    def failing_pip(command, capture_output, text):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(corpus.subprocess, "run", failing_pip)
    with pytest.raises(ValueError, match="pass a corpus with --corpus"):
        corpus.wikipedia_excerpt(tmp_path / "other")
