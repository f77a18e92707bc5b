"""SQuAD features and post-processing: gold positions in, gold answer text out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from albert_tf.finetuning import metrics
from albert_tf.finetuning.squad import create_squad_features, postprocess, read_squad
from albert_tf.tokenizer import AlbertTokenizer
from conftest import SHARED_DATA

SPM_MODEL = SHARED_DATA / "albert" / "spiece.model"
EXAMPLE_DEV = SHARED_DATA / "squad" / "squad_v1.1_example_dev.json"
pytestmark = pytest.mark.skipif(not SPM_MODEL.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")


@pytest.fixture(scope="module")
def tokenizer():
    return AlbertTokenizer(SPM_MODEL)


def gold_logits(features):
    """Logits that peak at each feature's gold start and end (position 0 = [CLS] where it has no answer)."""
    shape = features.inputs["input_word_ids"].shape
    start, end = np.full(shape, -10.0), np.full(shape, -10.0)
    rows = np.arange(shape[0])
    start[rows, features.start_positions] = 10.0
    end[rows, features.end_positions] = 10.0
    return start, end


def round_trip(tokenizer, path, version_2, **feature_args):
    """Predictions from gold positions: training-mode features, then evaluation post-processing."""
    data = read_squad(str(path), is_training=True, version_2=version_2)
    assert not data.skipped
    features = create_squad_features(data.examples, tokenizer, is_training=True, **feature_args)
    assert not features.unaligned
    predictions, null_odds = postprocess(data.examples, features, *gold_logits(features), version_2=version_2)
    return data, features, predictions, null_odds


def squad_file(path, context, qas, title="synthetic"):
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": title, "paragraphs": [
        {"context": context, "qas": qas}]}]}), encoding="utf-8")
    return path


def answer(context, text, occurrence=0):
    start = -1
    for _ in range(occurrence + 1):
        start = context.index(text, start + 1)
    return {"text": text, "answer_start": start}


@pytest.mark.skipif(not EXAMPLE_DEV.exists(), reason="needs ../shared/data/squad")
def test_example_dev_gold_answers_round_trip(tokenizer, tmp_path):
    dataset = json.loads(EXAMPLE_DEV.read_text(encoding="utf-8"))
    # Question 5's first answer "gold" at 488 is inside the single piece "▁golden" (no piece span can give
    # "gold"); its third answer (the "gold" of "gold-themed") is piece-aligned. Train each question on
    # its first piece-aligned answer, as a span model can only ever predict such spans.
    for qa in dataset["data"][0]["paragraphs"][0]["qas"]:
        aligned = [a for a in qa["answers"] if (a["text"], a["answer_start"]) != ("gold", 488)]
        qa["answers"] = [aligned[0]] + [a for a in qa["answers"] if a is not aligned[0]]
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(dataset), encoding="utf-8")
    data, features, predictions, _ = round_trip(tokenizer, path, False, max_seq_length=64, doc_stride=16,
                                                max_query_length=20)
    assert len(features.features) > 3 * len(data.examples)  # 775 characters in many 64-token windows
    assert metrics.squad_v1_scores(data.dataset, predictions) == {"exact_match": 100.0, "f1": 100.0}
    for example in data.examples:
        assert predictions[example.qas_id] == example.orig_answer_text


@pytest.mark.skipif(not EXAMPLE_DEV.exists(), reason="needs ../shared/data/squad")
def test_answer_inside_a_piece_is_the_known_subword_limit(tokenizer):
    data, _, predictions, _ = round_trip(tokenizer, EXAMPLE_DEV, False, max_seq_length=384)
    # Unmodified (first answers): 4 exact; "gold" inside "golden" comes back as the whole piece.
    assert [predictions[e.qas_id] == e.orig_answer_text for e in data.examples] == [True] * 4 + [False]
    assert predictions[data.examples[4].qas_id] == "golden"


def synthetic_context():
    cities = ["Zürich", "São Paulo", "Kraków", "Reykjavík", "Montréal", "Denver", "Nairobi", "Hanoi"]
    # Quotes only now and then: each '' -> '"' makes the LCS alignment band (and its time) wider.
    sentences = [f"In {1900 + 7 * i}, the {quote}Report No. {i}{quote} counted {i},{350 + i} visitors to "
                 f"{cities[i % 8]}." for i in range(24) for quote in ["''" if i % 8 == 7 else ""]]
    return " ".join(sentences)


def test_long_context_needs_several_windows_and_recovers_every_answer(tokenizer, tmp_path):
    context = synthetic_context()
    qas = [
        {"id": "first", "question": "Where did visitors go in 1900?", "answers": [answer(context, "Zürich")]},
        {"id": "middle", "question": "How many visitors in Report No. 20?", "answers": [answer(context, "20,370")]},
        {"id": "quoted", "question": "Which report?", "answers": [answer(context, "''Report No. 15''")]},
        {"id": "last", "question": "Where in 2061?", "answers": [answer(context, "Hanoi", occurrence=2)]},
        {"id": "accent", "question": "Which city?", "answers": [answer(context, "São Paulo", occurrence=2)]},
    ]
    path = squad_file(tmp_path / "train.json", context, qas)
    data, features, predictions, _ = round_trip(tokenizer, path, False, max_seq_length=64, doc_stride=24,
                                                max_query_length=16)
    windows = sum(1 for f in features.features if f.example_index == 0)
    assert windows >= 10, windows  # ~500 context tokens in windows of ~45
    assert {qid: predictions[qid] for qid in predictions} == {qa["id"]: qa["answers"][0]["text"] for qa in qas}
    assert metrics.squad_v1_scores(data.dataset, predictions)["exact_match"] == 100.0


def test_feature_ids_equal_albert_tokenizer_ids(tokenizer, tmp_path):
    context = "The ''Big Café'' sold 1,000,000 CUPS in 1999, at Zürich's ``Old Town''."
    question = "How many ''CUPS'' did Café sell in 1999,?"
    path = squad_file(tmp_path / "train.json", context,
                      [{"id": "q", "question": question, "answers": [answer(context, "1,000,000")]}])
    data = read_squad(str(path), is_training=True, version_2=False)
    features = create_squad_features(data.examples, tokenizer, max_seq_length=128, is_training=True)
    ids = list(features.inputs["input_word_ids"][0])
    question_ids, context_ids = tokenizer.encode(question), tokenizer.encode(context)
    expected = [tokenizer.cls_id, *question_ids, tokenizer.sep_id, *context_ids, tokenizer.sep_id]
    assert ids[:len(expected)] == expected
    assert set(ids[len(expected):]) == {tokenizer.pad_id}


def test_v2_unanswerable_questions_map_to_the_null_answer(tokenizer, tmp_path):
    context = synthetic_context()
    qas = [
        {"id": "yes", "question": "Where in 1907?", "is_impossible": False,
         "answers": [answer(context, "São Paulo")]},
        {"id": "no", "question": "Who won the match?", "is_impossible": True, "answers": [],
         "plausible_answers": [{"text": "Denver", "answer_start": 10}]},
        {"id": "late", "question": "How many in Report No. 23?", "is_impossible": False,
         "answers": [answer(context, "23,373")]},
    ]
    path = squad_file(tmp_path / "train.json", context, qas)
    data, features, predictions, null_odds = round_trip(tokenizer, path, True, max_seq_length=64, doc_stride=24,
                                                        max_query_length=16)
    assert predictions == {"yes": "São Paulo", "no": "", "late": "23,373"}
    assert null_odds["no"] > 0 > null_odds["yes"]
    # Every window of the unanswerable question points at [CLS].
    rows = [i for i, f in enumerate(features.features) if f.example_index == 1]
    assert not features.start_positions[rows].any() and not features.end_positions[rows].any()
    scores = metrics.squad_v2_scores(data.dataset, predictions, null_odds)
    assert scores["exact"] == scores["HasAns_exact"] == scores["NoAns_exact"] == 100.0


def test_answer_offset_mismatch_is_a_counted_reported_skip(tmp_path):
    context = "Denver beat Carolina in Santa Clara."
    path = squad_file(tmp_path / "train.json", context, [
        {"id": "good", "question": "Who won?", "answers": [{"text": "Denver", "answer_start": 0}]},
        {"id": "bad", "question": "Where?", "answers": [{"text": "Santa Clara", "answer_start": 5}]},
    ], title="Super Bowl")
    data = read_squad(str(path), is_training=True, version_2=False)
    assert [e.qas_id for e in data.examples] == ["good"]
    assert len(data.skipped) == 1
    assert "bad" in data.skipped[0] and "'Super Bowl'" in data.skipped[0]
    assert "answer_start 5 points at 'r beat Caro'" in data.skipped[0] and "fix answer_start" in data.skipped[0]


def test_missing_or_malformed_file(tmp_path):
    with pytest.raises(ValueError, match="SQuAD file not found"):
        read_squad(str(tmp_path / "nope.json"), True, False)
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a SQuAD json file"):
        read_squad(str(tmp_path / "bad.json"), True, False)
