"""The text-in TFLite model: ALBERT's preprocessing folded into SentencePiece, run in ai_edge_litert."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sentencepiece as spm
import tensorflow as tf
import tensorflow_text as tf_text

import export_helpers as helpers
from albert_tf import AlbertTokenizer
from albert_tf.backbone import INPUT_NAMES
from albert_tf.export.bundle import TEXT_MODEL_FILE
from albert_tf.export.folded_normalizer import fold_preprocessing
from albert_tf.export.lite_text_tokenizer import LiteTextTokenizer
from albert_tf.export.tflite import non_builtin_ops, op_names, run_text_model

pytestmark = helpers.needs_data

# Text where the preprocessing matters: LaTeX quotes, accents, case, odd
# whitespace, decomposed Hangul, compatibility forms, digit commas.
TRICKY_TEXTS = (
    "``Amélie'' is a CAFÉ film ''' ``", " \x1c tabs\tand\u3000ideographic  spaces \n", "a\u1100\u1161b e\u0301\u0301",
    "İstanbul ǅ Ⅻ ﬁne", "In 1990, 1,000,000 people paid $1990, or 5,5.", "",
)


@functools.lru_cache(maxsize=None)
def folded_model() -> bytes:
    return fold_preprocessing(helpers.SPM_MODEL.read_bytes())


def _reference() -> AlbertTokenizer:
    return AlbertTokenizer(helpers.SPM_MODEL, split_digit_comma=False)


def _real_texts() -> list[str]:
    lines = [line.split("\t")[0] for line in (helpers.SST2 / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    sample = helpers.SHARED_DATA / "corpus" / "hf_sample_text.txt"
    lines += [line for line in sample.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines


def test_folded_normalizer_equals_python_preprocessing_on_every_code_point():
    # Each code point inside and at the edge of a word, through the sentencepiece library.
    texts = [f"Ab{chr(code)}cD {chr(code)}" for code in range(0x110000) if not 0xD800 <= code < 0xE000]
    folded = spm.SentencePieceProcessor(model_proto=folded_model())
    expected = _reference().encode_batch(texts)
    got = folded.encode(texts)
    differ = [hex(ord(texts[i][-1])) for i in range(len(texts)) if expected[i] != got[i]]
    assert differ == [], f"{len(differ)} code points differ, e.g. {differ[:10]}"


def test_fast_tokenizer_with_folded_model_equals_albert_ids_on_real_text():
    texts = _real_texts() + list(TRICKY_TEXTS)
    got = tf_text.FastSentencepieceTokenizer(folded_model()).tokenize(tf.constant(texts)).to_list()
    expected = _reference().encode_batch(texts)
    differ = [texts[i] for i in range(len(texts)) if got[i] != expected[i]]
    assert len(texts) > 900 and differ == []


def test_final_sigma_is_the_documented_difference():
    # str.lower() gives a word-final "ς"; a character table can only give "σ".
    folded = spm.SentencePieceProcessor(model_proto=folded_model())
    assert _reference().tokenize("ΟΔΟΣ")[-1].endswith("ς")
    assert folded.encode("ΟΔΟΣ", out_type=str)[-1].endswith("σ")


def test_fold_respects_lower_case_and_accent_flags():
    proto = helpers.SPM_MODEL.read_bytes()
    kept = spm.SentencePieceProcessor(model_proto=fold_preprocessing(proto, lower_case=False, strip_accents=False))
    reference = AlbertTokenizer(helpers.SPM_MODEL, lower_case=False, strip_accents=False, split_digit_comma=False)
    texts = ["Café AU LAIT", "``Naïve''", "ÉCOLE"]
    assert [kept.encode(t) for t in texts] == [reference.encode(t) for t in texts]
    assert kept.encode("Café") != spm.SentencePieceProcessor(model_proto=folded_model()).encode("Café")


@pytest.mark.parametrize("split_digit_comma", [True, False])
def test_lite_tokenizer_packs_like_albert_tokenizer(split_digit_comma):
    seq_length = 16
    tokenizer = AlbertTokenizer(helpers.SPM_MODEL, split_digit_comma=split_digit_comma)
    lite = LiteTextTokenizer(helpers.SPM_MODEL.read_bytes(), seq_length, split_digit_comma=split_digit_comma)
    texts = list(TRICKY_TEXTS) + ["word " * 40, "1,000, 2,000, 3,000, 4,000, 5,000, 6,000, 7,000, 8,000"]
    got = {name: value.numpy().tolist() for name, value in lite(tf.constant(texts)).items()}
    for row, text in enumerate(texts):
        expected = tokenizer.encode_pair(text, None, seq_length)
        assert {name: got[name][row] for name in INPUT_NAMES} == expected, text


@pytest.mark.long
def test_text_model_uses_builtins_and_the_tokenizer_op_only():
    result = helpers.bundle()
    flatbuffer = (result.directory / TEXT_MODEL_FILE).read_bytes()
    assert non_builtin_ops(flatbuffer) == ["TFText>FastSentencepieceTokenize"]
    assert not any(op.startswith("Flex") for op in op_names(flatbuffer))
    entry = next(e for e in result.manifest["models"] if e["file"] == TEXT_MODEL_FILE)
    assert entry["requires"] == ["TFText>FastSentencepieceTokenize"]
    assert entry["max_abs_diff_vs_keras"] < 1e-4


def test_text_model_matches_golden_outputs_for_raw_text():
    result = helpers.bundle()
    examples = result.golden["examples"]
    outputs = run_text_model(result.directory / TEXT_MODEL_FILE, [e["text"] for e in examples], num_threads=2)
    expected = np.asarray([e["probabilities"] for e in examples])
    diff = float(np.max(np.abs(outputs["probabilities"] - expected)))
    print(f"text-in TFLite vs golden (Keras fp32): max |p| diff {diff:.1e} over {len(examples)} texts")
    assert diff < 1e-4
    assert result.golden["tolerance"][TEXT_MODEL_FILE] >= 1e-4


def test_text_model_answers_empty_and_very_long_strings():
    result = helpers.bundle()
    texts = ["", "a remarkably long review " * 5000]
    got = run_text_model(result.directory / TEXT_MODEL_FILE, texts)["probabilities"]
    tokenizer = helpers.tokenizer()
    inputs = {name: np.asarray([tokenizer.encode_pair(t, None, helpers.SEQ_LENGTH)[name] for t in texts], np.int32)
              for name in INPUT_NAMES}
    np.testing.assert_allclose(got, helpers.keras_outputs(inputs)["probabilities"], atol=1e-5)
