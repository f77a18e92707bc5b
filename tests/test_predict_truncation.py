"""`albert predict` counts truncated inputs from the tokenization that feeds the model.

Rows are built from a word that is one piece of the real ALBERT vocabulary, so
each row's packed length is known and the rows sit at the boundary: exactly
`sequence_length` tokens (kept whole), one over (truncated), and pairs whose
two segments together are one over.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertBackbone, AlbertConfig, AlbertGraphTokenizer
from albert_tf.cli.main import main
from albert_tf.preprocessor import AlbertPreprocessor
from albert_tf.tasks import AlbertClassifier, AlbertMultipleChoice, AlbertSpanQA, AlbertTokenClassifier
from albert_tf.tokenizer import AlbertTokenizer
from conftest import SHARED_DATA, needs_data

pytestmark = needs_data("albert/spiece.model")

LENGTH = 16  # the presets' sequence_length


def words(count: int) -> str:
    return " ".join(["word"] * count)  # "▁word" is one piece: `count` tokens


# Per kind: the rows, and how many of them are truncated at LENGTH = 16.
ROWS = {
    # [CLS] A [SEP]: 14 words fill 16 tokens exactly, 15 are one over.
    "classifier": ([(words(13),), (words(14),), (words(15),), (words(200),)], 2),
    "token_classifier": ([(words(13),), (words(14),), (words(15),), (words(200),)], 2),
    # [CLS] A [SEP] B [SEP]: 6 + 7 words fill 16 exactly; 7 + 7 and 1 + 13 are one over.
    "pair_classifier": ([(words(6), words(7)), (words(7), words(7)), (words(1), words(13)), (words(5), words(7))], 2),
    # Each (context, choice) is its own sequence: a row is cut when any of its choices is (here only the last).
    "multiple_choice": ([(words(6), words(7), words(1), words(2)), (words(6), words(1), words(2), words(8)),
                         (words(3), words(1), words(1), words(1))], 1),
}


def build(kind: str) -> object:
    spm = AlbertGraphTokenizer(SHARED_DATA / "albert" / "spiece.model")
    backbone = AlbertBackbone(AlbertConfig(vocab_size=30000, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                                           num_attention_heads=2, intermediate_size=16, max_position_embeddings=32))
    pair = kind in ("pair_classifier", "multiple_choice", "span_qa")
    preprocessor = AlbertPreprocessor(spm, sequence_length=LENGTH, text_pair=pair)
    if kind in ("classifier", "pair_classifier"):
        return AlbertClassifier(backbone, num_classes=2, preprocessor=preprocessor, labels=["neg", "pos"])
    if kind == "multiple_choice":
        return AlbertMultipleChoice(backbone, num_choices=3, preprocessor=preprocessor, labels=["A", "B", "C"])
    if kind == "token_classifier":
        return AlbertTokenClassifier(backbone, num_labels=3, preprocessor=preprocessor, labels=["O", "B", "I"])
    return AlbertSpanQA(backbone, preprocessor=preprocessor)


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("presets")
    made = {}

    def preset(kind: str):
        if kind not in made:
            build(kind).save_to_preset(folder / kind)
            made[kind] = folder / kind
        return made[kind]

    return preset


def true_counts(tokenizer: AlbertTokenizer, kind: str, rows) -> list[int]:
    """Each row's longest packed sequence before truncation, from the Python tokenizer (the reference)."""
    if kind == "multiple_choice":
        return [max(len(tokenizer.encode(row[0])) + len(tokenizer.encode(choice)) + 3 for choice in row[1:])
                for row in rows]
    return [1 + sum(len(tokenizer.encode(text)) + 1 for text in row) for row in rows]


def reference_answers(model, kind: str, rows) -> list[dict]:
    """The answers from inputs packed by the Python tokenizer, independent of the in-graph path."""
    from albert_tf.tasks.classifier import softmax

    tokenizer = model.preprocessor.tokenizer.python_tokenizer

    def packed(pairs):
        encoded = [tokenizer.encode_pair(a, b, LENGTH) for a, b in pairs]
        return {name: np.array([item[name] for item in encoded], np.int32) for name in encoded[0]}

    if kind == "multiple_choice":
        inputs = packed([(row[0], choice) for row in rows for choice in row[1:]])
        inputs = {name: value.reshape(len(rows), 3, LENGTH) for name, value in inputs.items()}
    else:
        inputs = packed([(row[0], row[1] if len(row) == 2 else None) for row in rows])
    probabilities = softmax(np.asarray(model.predict(inputs, verbose=0), np.float64))
    names = model.labels
    if kind == "token_classifier":
        # Position 0 is [CLS]: piece k sits at position k + 1.
        return [{"tokens": [{"piece": piece, "label": names[int(np.argmax(row[k + 1]))],
                             "score": float(np.max(row[k + 1]))}
                            for k, piece in enumerate(tokenizer.tokenize(text[0])[: LENGTH - 2])]}
                for text, row in zip(rows, probabilities)]
    return [{"label": names[int(np.argmax(row))], "probabilities": dict(zip(names, map(float, row)))}
            for row in probabilities]


def count_tokenizations(monkeypatch) -> dict[str, int]:
    """Counts the strings each tokenizer tokenizes from now on: `python` (AlbertTokenizer's encode,
    encode_batch and tokenize) and `graph` (AlbertGraphTokenizer.tokenize, eager)."""
    counts = {"python": 0, "graph": 0}

    def one_text(original):
        def counted(self, text):
            counts["python"] += 1
            return original(self, text)
        return counted

    for name in ("encode", "tokenize"):
        monkeypatch.setattr(AlbertTokenizer, name, one_text(getattr(AlbertTokenizer, name)))

    def batch(self, texts, _original=AlbertTokenizer.encode_batch):
        texts = list(texts)
        counts["python"] += len(texts)
        return _original(self, texts)

    def graph(self, texts, _original=AlbertGraphTokenizer.tokenize):
        shape = tf.convert_to_tensor(texts).shape
        if shape.rank == 1:  # a scalar is tokenized as a batch of one (counted then)
            assert shape[0] is not None, "tokenized in a traced graph: count rows another way"
            counts["graph"] += int(shape[0])
        return _original(self, texts)

    monkeypatch.setattr(AlbertTokenizer, "encode_batch", batch)
    monkeypatch.setattr(AlbertGraphTokenizer, "tokenize", graph)
    return counts


@pytest.mark.parametrize("kind", sorted(ROWS))
def test_predict_counts_truncated_rows_from_its_one_tokenization(kind, presets, tmp_path, monkeypatch, capsys):
    from albert_tf.presets import load_preset

    rows, expected = ROWS[kind]
    preset = presets(kind)
    model = load_preset(preset)
    truth = true_counts(model.preprocessor.tokenizer.python_tokenizer, kind, rows)
    assert sum(count > LENGTH for count in truth) == expected and LENGTH in truth, "rows at the boundary"
    reference = reference_answers(model, kind, rows)
    source = tmp_path / "rows.tsv"
    source.write_text("".join("\t".join(row) + "\n" for row in rows), "utf-8")
    output = tmp_path / "answers.jsonl"

    counts = count_tokenizations(monkeypatch)
    capsys.readouterr()
    assert main(["predict", str(preset), "--input", str(source), "--output", str(output), "--no-progress"]) == 0
    monkeypatch.undo()
    err = capsys.readouterr().err

    # The warning counts exactly the truncated rows.
    warnings = [line for line in err.splitlines() if "were truncated" in line]
    assert len(warnings) == 1, err
    assert f"{expected} of {len(rows)} inputs" in warnings[0] and f"{LENGTH} tokens" in warnings[0], warnings[0]
    # Each field of each row is tokenized once, in-graph; the Python tokenizer runs only where the answer
    # itself shows the pieces as text (the token classifier).
    assert counts == {"graph": sum(map(len, rows)), "python": len(rows) if kind == "token_classifier" else 0}
    # The answers are those of inputs packed by the Python tokenizer.
    answers = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert [answer.pop("input") for answer in answers] == [list(row) for row in rows]
    for answer, wanted in zip(answers, reference):
        if kind == "token_classifier":
            assert [(tag["piece"], tag["label"]) for tag in answer["tokens"]] == \
                   [(tag["piece"], tag["label"]) for tag in wanted["tokens"]]
            np.testing.assert_allclose([tag["score"] for tag in answer["tokens"]],
                                       [tag["score"] for tag in wanted["tokens"]], atol=1e-6)
        else:
            assert answer["label"] == wanted["label"]
            assert answer["probabilities"] == pytest.approx(wanted["probabilities"], abs=1e-6)
    # Without the rows over the length (those of exactly the length stay), nothing is said.
    source.write_text("".join("\t".join(row) + "\n" for row, count in zip(rows, truth) if count <= LENGTH), "utf-8")
    assert main(["predict", str(preset), "--input", str(source), "--output", str(output), "--no-progress"]) == 0
    assert "were truncated" not in capsys.readouterr().err


@pytest.mark.parametrize("kind", sorted(ROWS) + ["span_qa"])
def test_predict_rows_gives_each_rows_untruncated_token_count(kind, presets):
    from albert_tf.prediction import predict_rows
    from albert_tf.presets import load_preset

    model = load_preset(presets(kind))
    if kind == "span_qa":
        # Read in windows: a context three windows long loses nothing, so there is no count.
        answers, counts = predict_rows(model, [("word?", words(3 * LENGTH))], return_token_counts=True)
        assert counts == [None] and answers[0]["answer"] in words(3 * LENGTH)
        return
    rows, _ = ROWS[kind]
    answers, counts = predict_rows(model, rows, return_token_counts=True)
    assert counts == true_counts(model.preprocessor.tokenizer.python_tokenizer, kind, rows)
    assert answers == predict_rows(model, rows), "the counts leave the answers as they were"


def test_pack_with_counts_matches_the_packed_inputs():
    """The counts sit beside the inputs they were made with: the kept tokens are min(count, length)."""
    preprocessor = AlbertPreprocessor(AlbertGraphTokenizer(SHARED_DATA / "albert" / "spiece.model"), LENGTH,
                                      text_pair=True)
    tokenizer = preprocessor.tokenizer.python_tokenizer
    pairs = ([words(6), words(7), words(1), "Héllo, wörld: 1,000 ünïcode ﬁ!"],
             [words(7), words(7), words(13), "ΣΑΣ 12,5 x"])
    inputs, counts = preprocessor.pack_with_counts(pairs)
    expected = [len(tokenizer.encode(a)) + len(tokenizer.encode(b)) + 3 for a, b in zip(*pairs)]
    assert counts.numpy().tolist() == expected
    np.testing.assert_array_equal(inputs["input_mask"].numpy().sum(axis=1), np.minimum(expected, LENGTH))
    for name, value in preprocessor(pairs).items():
        np.testing.assert_array_equal(inputs[name], value)

    contexts, choices = [words(6), words(3)], [[words(7), words(1), words(8)], [words(1), "Héllo", words(20)]]
    inputs, counts = preprocessor.pack_with_counts((contexts, choices))
    assert counts.shape == (2, 3)
    assert counts.numpy().tolist() == [[len(tokenizer.encode(context)) + len(tokenizer.encode(choice)) + 3
                                        for choice in row] for context, row in zip(contexts, choices)]
    for b, (context, row) in enumerate(zip(contexts, choices)):
        for c, choice in enumerate(row):
            packed = tokenizer.encode_pair(context, choice, LENGTH)
            for name in packed:
                assert inputs[name][b, c].numpy().tolist() == packed[name], (b, c, name)
