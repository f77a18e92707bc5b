"""SavedModel for TF Serving: both signatures reproduce the Keras model after reloading."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece op the text signatures use)

import export_helpers as helpers
from albert_tf.export.golden import GOLDEN_TEXTS
from albert_tf.export.representative_data import encode_texts


def test_versioned_layout_and_both_signatures_listed():
    path = helpers.saved_model_dir()
    assert path.name == "1" and (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    shown = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
                            str(path), "--all"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in ("serving_default", "serve_text", "serve_text_pair", "input_word_ids", "input_mask",
                 "input_type_ids", "probabilities", "logits"):
        assert name in shown.stdout


def test_reloaded_signatures_match_keras():
    loaded = tf.saved_model.load(str(helpers.saved_model_dir()))
    texts = list(GOLDEN_TEXTS)
    inputs = encode_texts(helpers.tokenizer(), texts, helpers.SEQ_LENGTH)
    expected = helpers.keras_outputs(inputs)

    by_ids = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
    for name in ("probabilities", "logits"):
        np.testing.assert_allclose(by_ids[name].numpy(), expected[name], atol=1e-5)

    by_text = loaded.signatures["serve_text"](text=tf.constant(texts))
    np.testing.assert_array_equal(by_text["input_word_ids"].numpy(), inputs["input_word_ids"])
    np.testing.assert_allclose(by_text["probabilities"].numpy(), expected["probabilities"], atol=1e-5)


def test_text_pair_signature_and_edge_inputs():
    loaded = tf.saved_model.load(str(helpers.saved_model_dir()))
    tokenizer = helpers.tokenizer()
    first, second = ["A moving film.", ""], ["Is it good?", "x " * 5000]
    pair = loaded.signatures["serve_text_pair"](text=tf.constant(first), text_pair=tf.constant(second))
    rows = [tokenizer.encode_pair(a, b, helpers.SEQ_LENGTH) for a, b in zip(first, second)]
    expected_ids = np.asarray([row["input_word_ids"] for row in rows])
    np.testing.assert_array_equal(pair["input_word_ids"].numpy(), expected_ids)
    # Empty and very long single texts answer (truncated to the sequence length), not crash.
    out = loaded.signatures["serve_text"](text=tf.constant(["", "great " * 20000]))
    assert out["probabilities"].shape == (2, 2)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, atol=1e-5)


def test_next_version_is_added_beside_the_first(tmp_path):
    from albert_tf.export import export_saved_model

    base = tmp_path / "serving"
    (base / "1").mkdir(parents=True)
    path = export_saved_model(helpers.trained_classifier(), base, helpers.SPM_MODEL, seq_length=8)
    assert path == base / "2" and not [p for p in base.iterdir() if p.name.startswith(".tmp")]
