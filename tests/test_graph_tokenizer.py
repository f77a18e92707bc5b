"""AlbertGraphTokenizer: in-graph ids identical to AlbertTokenizer, exhaustively on Unicode and on real text."""

from __future__ import annotations

import shutil
import sys
import time
import unicodedata

import keras
import numpy as np
import pytest
import sentencepiece as spm
import tensorflow as tf

from albert_tf.graph_tokenizer import AlbertGraphTokenizer
from albert_tf.tokenizer import AlbertTokenizer, normalize_text
from test_tokenizer import EDGE_CASES, SPM, needs_data, real_text_lines

pytestmark = needs_data


@pytest.fixture(scope="module")
def python_tokenizer() -> AlbertTokenizer:
    return AlbertTokenizer(SPM)


@pytest.fixture(scope="module")
def graph_tokenizer() -> AlbertGraphTokenizer:
    return AlbertGraphTokenizer(SPM)


def long_text(words: int = 20_000) -> str:
    """`words` words of real text (the sample lines, repeated as needed) in one string."""
    vocabulary = " ".join(real_text_lines()).split()
    return " ".join(vocabulary[i % len(vocabulary)] for i in range(words))


def _all_code_points() -> list[str]:
    return [chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF]


def test_normalize_equals_python_on_every_code_point(graph_tokenizer):
    chars = _all_code_points()
    # Runs of consecutive code points: every character, next to its neighbours.
    runs = ["".join(chars[i:i + 256]) for i in range(0, len(chars), 256)]
    got = graph_tokenizer.normalize(tf.constant([run.encode("utf-8") for run in runs])).numpy().tolist()
    want = [normalize_text(run).encode("utf-8") for run in runs]
    assert [i for i in range(len(runs)) if got[i] != want[i]] == []


def test_final_sigma_context_equals_python_for_every_neighbour(graph_tokenizer):
    """`str.lower()` turns "Σ" into "ς" or "σ" by its neighbours; every assigned character is tried as one.

    (Unassigned and private-use code points are neither cased nor
    case-ignorable; every 97th of them is tried too.)
    """
    chars = [
        char for i, char in enumerate(_all_code_points())
        if unicodedata.category(char) not in ("Cn", "Co") or i % 97 == 0
    ]
    contexts = []
    for char in chars:
        # "0" neither cased nor case-ignorable: it ends each context.
        sigma = "\u03a3"
        contexts += ["A" + char + sigma + "0", "A" + sigma + char + "0", "A" + sigma + char + "a0", char + sigma + "0"]
    packed = ["".join(contexts[i:i + 1024]) for i in range(0, len(contexts), 1024)]
    got = graph_tokenizer.normalize(tf.constant([text.encode("utf-8") for text in packed])).numpy().tolist()
    want = [normalize_text(text).encode("utf-8") for text in packed]
    assert [i for i in range(len(packed)) if got[i] != want[i]] == []
    assert "ς" in normalize_text("ΟΔΟΣ") and "σ" in normalize_text("ΣΑΣ")  # both outcomes occur


def test_ids_equal_python_on_every_code_point(graph_tokenizer, python_tokenizer):
    chars = _all_code_points()
    runs = ["".join(chars[i:i + 512]) for i in range(0, len(chars), 512)]
    got = graph_tokenizer(tf.constant([run.encode("utf-8") for run in runs])).to_list()
    assert got == python_tokenizer.encode_batch(runs)


def test_ids_equal_python_on_real_text_and_edge_cases(graph_tokenizer, python_tokenizer):
    # 3,500 words are ~28,000 characters; see the next test for longer texts.
    texts = list(real_text_lines()) + EDGE_CASES + [long_text(3_500)]
    got = graph_tokenizer(tf.constant(texts)).to_list()
    want = python_tokenizer.encode_batch(texts)
    assert got == want
    resplit = AlbertTokenizer(SPM, split_digit_comma=False).encode_batch(texts)
    assert sum(a != b for a, b in zip(want, resplit)) >= 5  # the digit-comma table is exercised


def test_very_long_input_differs_only_in_float_near_ties(graph_tokenizer, python_tokenizer):
    """20k words in one string: the same ids but for a few near-tie segmentations.

    Both SentencePiece implementations sum float32 piece scores from the start
    of the string; past ~100k characters the sums are so large that their
    rounding decides between segmentations whose scores differ by ~0.01, and
    the two round differently. Model inputs (<= 512 tokens) are far below that.
    """
    text = long_text(20_000)
    start = time.perf_counter()
    got = graph_tokenizer(tf.constant([text])).to_list()[0]
    assert time.perf_counter() - start < 10.0  # linear: well under a second here
    want = python_tokenizer.encode(text)
    sp = spm.SentencePieceProcessor(model_file=str(SPM))
    ours, theirs = _words(sp, got), _words(sp, want)
    assert len(ours) == len(theirs) == 20_000
    differing = [i for i in range(len(ours)) if ours[i] != theirs[i]]
    assert len(differing) <= 10, len(differing)
    for i in differing:
        assert sp.decode(ours[i]) == sp.decode(theirs[i])  # the same word, split differently
        gap = abs(sum(map(sp.get_score, ours[i])) - sum(map(sp.get_score, theirs[i])))
        assert gap < 0.1, gap


def _words(sp: spm.SentencePieceProcessor, ids: list[int]) -> list[list[int]]:
    """ids grouped by word: a new group at each piece that starts with "▁"."""
    groups: list[list[int]] = []
    for index in ids:
        if sp.id_to_piece(index).startswith("\u2581") or not groups:
            groups.append([])
        groups[-1].append(index)
    return groups


@pytest.mark.parametrize("lower_case", [True, False])
@pytest.mark.parametrize("strip_accents", [True, False])
@pytest.mark.parametrize("split_digit_comma", [True, False])
def test_options_match_python(lower_case, strip_accents, split_digit_comma):
    options = dict(lower_case=lower_case, strip_accents=strip_accents, split_digit_comma=split_digit_comma)
    graph, python = AlbertGraphTokenizer(SPM, **options), AlbertTokenizer(SPM, **options)
    texts = list(real_text_lines())[::4] + EDGE_CASES
    assert graph.normalize(tf.constant(texts)).numpy().tolist() == [python.normalize(t).encode() for t in texts]
    assert graph(tf.constant(texts)).to_list() == python.encode_batch(texts)


def test_scalar_input_and_tf_function_and_tf_data(graph_tokenizer, python_tokenizer):
    texts = EDGE_CASES
    assert graph_tokenizer(texts[0]).numpy().tolist() == python_tokenizer.encode(texts[0])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(batch):
        return graph_tokenizer(batch)

    assert tokenize(tf.constant(texts)).to_list() == python_tokenizer.encode_batch(texts)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(3).map(
        lambda batch: graph_tokenizer.pack_inputs(graph_tokenizer(batch), max_seq_length=32)
    )
    word_ids = np.concatenate([batch["input_word_ids"].numpy() for batch in dataset])
    expected = [python_tokenizer.encode_pair(text, max_seq_length=32)["input_word_ids"] for text in texts]
    assert word_ids.tolist() == expected


@pytest.mark.parametrize("max_seq_length", [4, 5, 8, 16, 128])
def test_pack_inputs_equals_encode_pair(graph_tokenizer, python_tokenizer, max_seq_length):
    lines = list(real_text_lines())[:40] + EDGE_CASES
    texts_a, texts_b = lines[0::2], lines[1::2][: len(lines[0::2])]
    texts_a = texts_a[: len(texts_b)]

    @tf.function
    def pack(a, b):
        return graph_tokenizer.pack_inputs(graph_tokenizer(a), graph_tokenizer(b), max_seq_length=max_seq_length)

    got = {key: value.numpy().tolist() for key, value in pack(tf.constant(texts_a), tf.constant(texts_b)).items()}
    for row, (text_a, text_b) in enumerate(zip(texts_a, texts_b)):
        expected = python_tokenizer.encode_pair(text_a, text_b, max_seq_length=max_seq_length)
        assert {key: got[key][row] for key in got} == expected, (text_a, text_b)
    single = graph_tokenizer.pack_inputs(graph_tokenizer(tf.constant(texts_a)), max_seq_length=max_seq_length)
    for row, text_a in enumerate(texts_a):
        expected = python_tokenizer.encode_pair(text_a, max_seq_length=max_seq_length)
        assert {key: value[row].numpy().tolist() for key, value in single.items()} == expected
    for values in got.values():
        assert np.asarray(values).shape == (len(texts_a), max_seq_length)


def test_pack_inputs_rejects_too_short_lengths(graph_tokenizer):
    ids = graph_tokenizer(tf.constant(["a b"]))
    with pytest.raises(ValueError, match=">= 3"):
        graph_tokenizer.pack_inputs(ids, max_seq_length=2)
    with pytest.raises(ValueError, match=">= 4"):
        graph_tokenizer.pack_inputs(ids, ids, max_seq_length=3)


def test_saved_keras_model_reloads_without_the_model_file(tmp_path, python_tokenizer):
    # The layer is built from a copy that is deleted before reloading: the
    # saved file must carry the SentencePiece model itself.
    copy = tmp_path / "copy.model"
    shutil.copyfile(SPM, copy)
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, AlbertGraphTokenizer(copy, name="tokenizer")(inputs))
    path = tmp_path / "tokenizer.keras"
    model.save(path)
    copy.unlink()
    restored = keras.saving.load_model(path)
    texts = EDGE_CASES[:4]
    assert restored(tf.constant(texts)).to_list() == python_tokenizer.encode_batch(texts)
    layer = restored.get_layer("tokenizer")
    assert isinstance(layer, AlbertGraphTokenizer)
    config = layer.get_config()
    assert "spm_model_base64" not in config and not any(isinstance(v, bytes) for v in config.values())
    clone = AlbertGraphTokenizer.from_config(config)
    assert clone.get_config() == config
    assert (clone.lower_case, clone.strip_accents, clone.split_digit_comma) == (True, True, True)
    # The model travels as the asset, not in the config.
    with pytest.raises(ValueError, match="no SentencePiece model"):
        clone(tf.constant(["text"]))
    clone.load_assets(str(_asset_dir(tmp_path, layer)))
    assert clone(tf.constant(texts)).to_list() == python_tokenizer.encode_batch(texts)


def _asset_dir(tmp_path, layer):
    folder = tmp_path / "assets"
    folder.mkdir()
    layer.save_assets(str(folder))
    return folder


def test_keras_files_with_the_model_in_the_config_still_load(python_tokenizer):
    import base64

    legacy = {"name": "tokenizer", "lower_case": True, "strip_accents": True, "split_digit_comma": True,
              "spm_model_base64": base64.b64encode(SPM.read_bytes()).decode("ascii")}
    layer = AlbertGraphTokenizer.from_config(legacy)
    assert layer(tf.constant(EDGE_CASES[:3])).to_list() == python_tokenizer.encode_batch(EDGE_CASES[:3])


def test_bad_inputs(graph_tokenizer):
    with pytest.raises(tf.errors.InvalidArgumentError):
        graph_tokenizer(tf.constant([b"valid", "café".encode("latin-1")]))
    with pytest.raises(ValueError, match="tf.string"):
        graph_tokenizer(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="shape"):
        graph_tokenizer(tf.constant([["a", "b"]]))
    with pytest.raises(ValueError, match="not found"):
        AlbertGraphTokenizer(SPM.parent / "missing.model")
    with pytest.raises(ValueError, match="no SentencePiece model"):
        AlbertGraphTokenizer.from_config({"lower_case": True})(tf.constant(["a"]))
