"""Next-sentence pairs (BERT's task, for ablations) next to sentence-order pairs.

The record-level tests use a corpus in which every document is written with
its own words, each a single vocabulary piece, so that the document of every
token of a record can be read off its id.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from albert_tf import AlbertBackbone
from albert_tf.cli.main import main
from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
from albert_tf.data.next_sentence import next_sentence_pairs
from albert_tf.data.pipeline import pretraining_dataset
from albert_tf.tokenizer import AlbertTokenizer
from conftest import SHARED_DATA

SPM = SHARED_DATA / "albert" / "spiece.model"
WORD_STARTS = np.ones(1_000_000, dtype=bool)


def make_documents(rng, count, max_sentences=10):
    """Document d holds ids d * 1000 + 0, 1, 2, ... in order: source and order readable from ids."""
    documents = []
    for index in range(count):
        sentences, next_token = [], index * 1000
        for _ in range(int(rng.integers(1, max_sentences + 1))):
            length = int(rng.integers(3, 15))
            sentences.append(np.arange(next_token, next_token + length))
            next_token += length
        documents.append(sentences)
    return documents


def starts_of_sentences(document):
    return {int(sentence[0]) for sentence in document}


def test_labels_sources_and_order():
    rng = np.random.default_rng(0)
    documents = make_documents(rng, 200)
    labels = []
    for index, document in enumerate(documents):
        for pair in next_sentence_pairs(documents, index, 60, 0.1, WORD_STARTS, rng):
            labels.append(pair.label)
            assert pair.tokens_a.size >= 1 and pair.tokens_b.size >= 1
            assert pair.tokens_a.size + pair.tokens_b.size <= 60
            assert np.all(pair.tokens_a // 1000 == index), "A comes from the document being cut"
            assert np.all(np.diff(pair.tokens_a) == 1) and np.all(np.diff(pair.tokens_b) == 1)
            source_b = set((pair.tokens_b // 1000).tolist())
            assert len(source_b) == 1, "B is text of one document"
            if pair.is_random_next:
                assert source_b != {index}, "a negative never pairs a document with itself"
            else:
                assert source_b == {index} and pair.tokens_b[0] > pair.tokens_a[-1], "B follows A"
                if pair.tokens_a.size + pair.tokens_b.size < 60:  # not truncated: B starts where A ends
                    assert pair.tokens_b[0] == pair.tokens_a[-1] + 1
    assert 0.45 < np.mean(labels) < 0.55


def test_random_negatives_start_at_a_sentence_and_put_unused_sentences_back():
    rng = np.random.default_rng(1)
    documents = make_documents(rng, 50, max_sentences=8)
    starts = set().union(*(starts_of_sentences(document) for document in documents))
    for index, document in enumerate(documents):
        # A budget that never truncates: the text A and the true-next B use is
        # the whole document, once, in order, also after random negatives.
        pairs = next_sentence_pairs(documents, index, 10_000, 0.0, WORD_STARTS, rng)
        used = [pair.tokens_a if pair.is_random_next else np.concatenate([pair.tokens_a, pair.tokens_b])
                for pair in pairs]
        np.testing.assert_array_equal(np.concatenate(used), np.concatenate(document))
        for pair in pairs:
            if pair.is_random_next:
                assert int(pair.tokens_b[0]) in starts


def test_a_lone_document_gives_only_true_next_pairs():
    rng = np.random.default_rng(2)
    documents = make_documents(rng, 1)
    pairs = [pair for _ in range(20) for pair in next_sentence_pairs(documents, 0, 40, 0.0, WORD_STARTS, rng)]
    assert pairs and not any(pair.is_random_next for pair in pairs)
    with pytest.raises(ValueError, match="documents_per_shard"):
        PretrainingDataConfig(sentence_task="nsp", documents_per_shard=1)
    with pytest.raises(ValueError, match="sentence_task='mlm'"):
        PretrainingDataConfig(sentence_task="mlm")


# ----------------------------------------------------------------- records
needs_vocabulary = pytest.mark.skipif(not SPM.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")
NUM_DOCUMENTS = 12


@pytest.fixture(scope="module")
def tokenizer():
    return AlbertTokenizer(SPM)


@pytest.fixture(scope="module")
def disjoint_corpus(tmp_path_factory, tokenizer):
    """A text file whose documents use disjoint words, and the document of every piece id."""
    words = []
    for index in range(5, tokenizer.vocab_size):
        piece = tokenizer.id_to_piece(index)
        word = piece[1:]
        if piece.startswith("\u2581") and len(word) >= 4 and word.isascii() and word.isalpha() and word.islower():
            if tokenizer.encode(word) == [index]:
                words.append(word)
        if len(words) == NUM_DOCUMENTS * 30:
            break
    rng = np.random.default_rng(3)
    lines, owner = [], {}
    for document in range(NUM_DOCUMENTS):
        vocabulary = words[document * 30:(document + 1) * 30]
        for _ in range(int(rng.integers(4, 12))):
            lines.append(" ".join(rng.choice(vocabulary, size=int(rng.integers(4, 12)))))
        lines.append("")
        for piece_id in tokenizer.encode(" ".join(vocabulary)):
            assert owner.setdefault(piece_id, document) == document, "documents share no piece"
    path = tmp_path_factory.mktemp("corpus") / "disjoint.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, owner


def read_segments(directory, tokenizer):
    """(label, ids of A, ids of B) per record, with the masked tokens restored."""
    dataset = pretraining_dataset(str(directory), batch_size=100_000, is_training=False)
    records = {name: value.numpy() for name, value in next(iter(dataset)).items()}
    for row in range(records["input_word_ids"].shape[0]):
        ids = records["input_word_ids"][row].copy()
        real = records["masked_lm_weights"][row] > 0
        ids[records["masked_lm_positions"][row][real]] = records["masked_lm_ids"][row][real]
        length = int(records["input_mask"][row].sum())
        first_sep = int(np.flatnonzero(ids == tokenizer.sep_id)[0])
        yield int(records["sentence_order_label"][row]), ids[1:first_sep], ids[first_sep + 1:length - 1]


def source(segment, owner):
    documents = {owner[int(piece)] for piece in segment}
    assert len(documents) == 1, "a segment is text of one document"
    return documents.pop()


@needs_vocabulary
def test_nsp_records_pair_other_documents_only_as_negatives(tmp_path, disjoint_corpus, tokenizer, capsys):
    corpus, owner = disjoint_corpus
    output = tmp_path / "nsp"
    assert main(["create-data", "--input", str(corpus), "--spm-model", str(SPM), "--output-dir", str(output),
                 "--sentence-task", "nsp", "--max-seq-length", "32", "--max-predictions-per-seq", "5",
                 "--dupe-factor", "10", "--documents-per-shard", "4", "--no-progress"]) == 0
    assert "random next" in capsys.readouterr().out
    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["sentence_task"] == "nsp" and metadata["config"]["sentence_task"] == "nsp"
    assert metadata["sentence_order_label"]["1"].startswith("random next")
    counts = {0: 0, 1: 0}
    for label, segment_a, segment_b in read_segments(output, tokenizer):
        document_a, document_b = source(segment_a, owner), source(segment_b, owner)
        if label == 1:
            assert document_a != document_b, "a negative never pairs a document with itself"
            assert document_a // 4 == document_b // 4, "negatives come from the same block of documents"
        else:
            assert document_a == document_b
        counts[label] += 1
    assert counts[0] > 50 and counts[1] > 50


@needs_vocabulary
def test_sop_records_never_pair_two_documents(tmp_path, disjoint_corpus, tokenizer):
    corpus, owner = disjoint_corpus
    config = PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=10,
                                   documents_per_shard=4)
    create_pretraining_data([str(corpus)], str(SPM), str(tmp_path / "sop"), config, progress=False)
    assert json.loads((tmp_path / "sop" / "metadata.json").read_text())["sentence_task"] == "sop"
    counts = {0: 0, 1: 0}
    for label, segment_a, segment_b in read_segments(tmp_path / "sop", tokenizer):
        assert source(segment_a, owner) == source(segment_b, owner)
        counts[label] += 1
    assert counts[0] > 50 and counts[1] > 50


@needs_vocabulary
def test_pretraining_takes_nsp_records_and_can_drop_the_sentence_loss(tmp_path, disjoint_corpus):
    from albert_tf import AlbertConfig
    from albert_tf.pretrainer import AlbertPretrainer
    from albert_tf.training.pretraining import PretrainingSettings, run_pretraining

    corpus, _ = disjoint_corpus
    records = tmp_path / "records"
    create_pretraining_data([str(corpus)], str(SPM), str(records),
                            PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=2,
                                                  documents_per_shard=4, sentence_task="nsp"), progress=False)
    config = AlbertConfig(vocab_size=30000, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=32)
    settings = PretrainingSettings(config=config, records=(str(records),), output_dir=str(tmp_path / "run"),
                                   batch_size=4, train_steps=1, steps_per_checkpoint=1, progress=False,
                                   strategy="one_device", sentence_loss_weight=0.0)
    result = run_pretraining(settings)
    # One step, no sentence loss: the total is that batch's masked-LM loss; the head is still measured.
    assert result.history["loss"][-1] == pytest.approx(result.history["mlm_loss"][-1], rel=1e-5)
    assert result.history["sop_loss"][-1] > 0
    state = json.loads((tmp_path / "run" / "training_state.json").read_text())
    assert state["sentence_task"] == "nsp" and state["sentence_loss_weight"] == 0.0
    with pytest.raises(ValueError, match="sentence_loss_weight"):
        PretrainingSettings(config=config, records=(str(records),), output_dir="x", sentence_loss_weight=-1.0)
    with pytest.raises(ValueError, match="sentence_loss_weight"):
        AlbertPretrainer(AlbertBackbone(config), sentence_loss_weight=-0.5)
