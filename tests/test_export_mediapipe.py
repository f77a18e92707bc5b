"""MediaPipe Tasks TextClassifier loads the bundle's classifier from its metadata alone."""

from __future__ import annotations

import numpy as np
import pytest

import export_helpers as helpers
from albert_tf import AlbertTokenizer
from albert_tf.export.bundle import MODEL_FILES
from albert_tf.export.mediapipe_tokenization import measure_disagreement, mediapipe_encode
from albert_tf.export.metadata import read_metadata
from albert_tf.export.representative_data import encode_texts, read_texts
from albert_tf.export.tflite import make_interpreter, run_ids_model
from conftest import needs_data, needs_mediapipe

pytestmark = needs_data("albert/spiece.model", "glue/SST-2", "corpus/hf_sample_text.txt")

# MediaPipe vs golden.json on the rows where both tokenize alike: measured
# difference 0 for fp32 (same float kernels); allowed 1e-5.
TOLERANCE = 1e-5


def _classify(model_path, texts):
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.text import text_classifier

    options = text_classifier.TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(model_path)),
                                                    max_results=-1)
    rows = []
    with text_classifier.TextClassifier.create_from_options(options) as classifier:
        for text in texts:
            categories = classifier.classify(text).classifications[0].categories
            scores = dict((c.category_name, c.score) for c in categories)
            rows.append([scores[label] for label in helpers.LABELS])
    return np.asarray(rows, np.float32)


def test_metadata_describes_ids_mask_segments_tokenizer_and_labels():
    content = read_metadata((helpers.bundle().directory / MODEL_FILES["none"]).read_bytes())
    graph = content["subgraph_metadata"][0]
    assert sorted(t["name"] for t in graph["input_tensor_metadata"]) == ["ids", "mask", "segment_ids"]
    assert graph["input_process_units"][0]["options_type"] == "SentencePieceTokenizerOptions"
    assert graph["output_tensor_metadata"][0]["associated_files"][0]["type"] == "TENSOR_AXIS_LABELS"
    assert content["packed_associated_files"] == ["labels.txt", "spm.model"]


@needs_mediapipe
@pytest.mark.parametrize("quantize", ["none", "dynamic"])
def test_mediapipe_scores_equal_golden(quantize):
    result = helpers.bundle()
    examples = result.golden["examples"]
    texts = [e["text"] for e in examples]
    scores = _classify(result.directory / MODEL_FILES[quantize], texts)
    same = np.asarray([e["mediapipe_same_ids"] for e in examples])
    golden = np.asarray([e["probabilities"] for e in examples], np.float32)
    # Rows tokenized alike: MediaPipe equals the golden probabilities (fp32) or
    # the same tflite run through ai_edge_litert (quantized).
    reference = golden if quantize == "none" else run_ids_model(
        make_interpreter(result.directory / MODEL_FILES[quantize]),
        {k: np.asarray([e[k] for e in examples], np.int32)
         for k in ("input_word_ids", "input_mask", "input_type_ids")})["probabilities"]
    diff = float(np.max(np.abs(scores[same] - reference[same])))
    print(f"{quantize}: MediaPipe vs reference max diff {diff:.2e} on {same.sum()} of {len(same)} golden texts")
    assert diff <= TOLERANCE
    # Rows tokenized differently (accents, digit commas, LaTeX quotes): MediaPipe
    # equals the model on our emulation of its tokenization, so the difference
    # is the tokenizer's alone.
    emulated = run_ids_model(make_interpreter(result.directory / MODEL_FILES[quantize]),
                             mediapipe_encode(helpers.tokenizer(), texts, helpers.SEQ_LENGTH))["probabilities"]
    assert float(np.max(np.abs(scores - emulated))) <= TOLERANCE


@needs_mediapipe
def test_mediapipe_lowercases_every_text_before_sentencepiece():
    """Why a cased classifier gets no MediaPipe metadata (export/bundle.py): MediaPipe scores capitals as their
    lowercase (Unicode too), as our emulation of its tokenizer says, not as the text's own ids."""
    result = helpers.bundle()
    model = result.directory / MODEL_FILES["none"]
    texts = ["HELLO World, a Great FILM", "ÉCOLE Über ΣΟΦΙΑ"]
    scores = _classify(model, texts)
    np.testing.assert_allclose(scores, _classify(model, [text.lower() for text in texts]), atol=TOLERANCE)
    emulated = run_ids_model(make_interpreter(model), mediapipe_encode(helpers.tokenizer(), texts,
                                                                      helpers.SEQ_LENGTH))["probabilities"]
    np.testing.assert_allclose(scores, emulated, atol=TOLERANCE)
    cased = AlbertTokenizer(helpers.SPM_MODEL, lower_case=False)
    kept_case = run_ids_model(make_interpreter(model), encode_texts(cased, texts, helpers.SEQ_LENGTH))["probabilities"]
    assert np.all(np.max(np.abs(kept_case - scores), axis=-1) > 1e-3), "the texts do not tell the cases apart"


@helpers.needs_data
def test_tokenization_disagreement_rate():
    texts = read_texts(helpers.SST2 / "dev.tsv") + read_texts(helpers.SHARED_DATA / "corpus" / "hf_sample_text.txt")
    result = measure_disagreement(helpers.tokenizer(), texts, seq_length=128)
    print(f"MediaPipe vs ALBERT tokenization: {result.differing_texts}/{result.texts} texts differ "
          f"({result.rate:.2%}); within 128 tokens {result.differing_after_truncation} ({result.rate_after_truncation:.2%})")
    for text, albert, mediapipe in result.differing_examples[:3]:
        print("  ", text[:60], "|", albert[:12], "|", mediapipe[:12])
    assert result.texts == 872 + len(read_texts(helpers.SHARED_DATA / "corpus" / "hf_sample_text.txt"))
    # Measured with mediapipe 1.2.2: 21 of 903 texts (2.33%, the figure the docs state) differ, all within
    # 128 tokens. The bound leaves one text of margin; a tokenizer change that splits more texts fails.
    assert result.differing_texts <= 22 and result.rate <= 0.025, f"{result.differing_texts}/{result.texts}"
