"""train_sentencepiece / `albert train-spm`: ALBERT's special ids, normalization, compressed inputs, atomic output."""

from __future__ import annotations

import bz2
import gzip
import re
import unicodedata

import pytest
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

from albert_tf.cli.main import main
from albert_tf.spm_training import ALBERT_USER_DEFINED_SYMBOLS, train_sentencepiece
from albert_tf.tokenizer import AlbertTokenizer
from conftest import SHARED_DATA

SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason=f"shared sample text not found at {SAMPLE}")


def _pieces(model_path) -> list[tuple[str, float, int]]:
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(model_path.read_bytes())
    return [(piece.piece, piece.score, piece.type) for piece in model.pieces]


@needs_sample
def test_specials_at_ids_0_to_4_and_the_tokenizer_loads(tmp_path):
    path = train_sentencepiece([SAMPLE], tmp_path / "out" / "spiece", vocab_size=300)
    assert path == tmp_path / "out" / "spiece.model" and path.exists()
    assert (tmp_path / "out" / "spiece.vocab").exists()
    sp = spm.SentencePieceProcessor(model_file=str(path))
    assert sp.vocab_size() == 300
    assert [sp.id_to_piece(i) for i in range(5)] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, -1, -1)
    assert all(sp.is_control(i) for i in (0, 2, 3, 4))
    symbols = list(ALBERT_USER_DEFINED_SYMBOLS)
    assert [sp.id_to_piece(i) for i in range(5, 5 + len(symbols))] == symbols
    tokenizer = AlbertTokenizer(path)
    special_ids = (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id)
    assert special_ids == (0, 1, 2, 3, 4)
    line = next(line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if len(line) > 40)
    ids = tokenizer.encode(line)
    assert ids and tokenizer.unk_id not in ids
    assert tokenizer.decode(ids) == tokenizer.normalize(line)
    # The model records where it was written and what it was trained on.
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(path.read_bytes())
    assert model.trainer_spec.model_prefix == "spiece" and list(model.trainer_spec.input) == [SAMPLE.name]


def test_vocabulary_is_trained_on_normalized_text(tmp_path):
    corpus = tmp_path / "accents.txt"
    words = "Café CRÈME brûlée NAÏVE Ångström résumé ﬁne ÉCOLE Über Straße Œuvre façade déjà Zoë Jalapeño".split()
    lines = [f"{a} {b}, {c}." for a in words for b in words for c in words[:3]]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    normalized = train_sentencepiece([corpus], tmp_path / "normalized", vocab_size=45)
    pieces = [piece for piece, _, kind in _pieces(normalized) if kind == 1]  # NORMAL pieces
    assert pieces
    assert not any(char.isupper() or unicodedata.combining(char) or char in "éèêûïåç" for p in pieces for char in p)
    kept = train_sentencepiece(
        [corpus], tmp_path / "kept", vocab_size=70, lower_case=False, strip_accents=False
    )
    kept_text = "".join(piece for piece, _, kind in _pieces(kept) if kind == 1)
    assert any(char.isupper() for char in kept_text) and "é" in unicodedata.normalize("NFC", kept_text)


@needs_sample
def test_compressed_inputs_give_the_same_vocabulary(tmp_path):
    data = SAMPLE.read_bytes()
    (tmp_path / "sample.txt.bz2").write_bytes(bz2.compress(data))
    (tmp_path / "sample.txt.gz").write_bytes(gzip.compress(data))
    plain = train_sentencepiece([SAMPLE], tmp_path / "plain", vocab_size=300, num_threads=1)
    for name in ("sample.txt.bz2", "sample.txt.gz"):
        compressed = train_sentencepiece([tmp_path / name], tmp_path / name, vocab_size=300, num_threads=1)
        assert _pieces(compressed) == _pieces(plain)


WIKI = SHARED_DATA / "corpus" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


@pytest.mark.skipif(not WIKI.exists(), reason=f"shared Wikipedia excerpt not found at {WIKI}")
def test_sampling_a_large_compressed_corpus(tmp_path):
    """32k non-empty lines of the Wikipedia dump read from .bz2, a uniform sample trained on."""
    def train(prefix, size):
        return _pieces(train_sentencepiece(
            [WIKI], tmp_path / prefix, vocab_size=300, input_sentence_size=size, num_threads=1
        ))

    first, again, smaller = train("a", 1000), train("b", 1000), train("c", 150)
    assert first == again  # SentencePiece seeds its sampling with a constant
    assert first != smaller
    assert [p for p, _, _ in first[:5]] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]


def test_non_utf8_line_names_file_and_line_and_writes_nothing(tmp_path):
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes("first line\nsecond line\n".encode() + "troisième ligne\n".encode("latin-1") + b"fourth\n")
    prefix = tmp_path / "out" / "spiece"
    with pytest.raises(ValueError, match=rf"{re.escape(str(corpus))}, line 3: not valid UTF-8"):
        train_sentencepiece([corpus], prefix, vocab_size=100)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    # The same through a compressed file.
    compressed = tmp_path / "latin1.txt.bz2"
    compressed.write_bytes(bz2.compress(corpus.read_bytes()))
    with pytest.raises(ValueError, match=rf"{re.escape(str(compressed))}, line 3"):
        train_sentencepiece([compressed], prefix, vocab_size=100)


@needs_sample
def test_failed_training_leaves_no_output(tmp_path):
    prefix = tmp_path / "out" / "spiece"
    with pytest.raises(ValueError, match="Vocabulary size too high"):
        train_sentencepiece([SAMPLE], prefix, vocab_size=30000)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    # An existing model is not replaced by a failed run.
    train_sentencepiece([SAMPLE], prefix, vocab_size=200)
    before = (tmp_path / "out" / "spiece.model").read_bytes()
    with pytest.raises(ValueError):
        train_sentencepiece([SAMPLE], prefix, vocab_size=30000)
    assert (tmp_path / "out" / "spiece.model").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["spiece.model", "spiece.vocab"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(inputs=[]), "No input files"),
        (dict(inputs=["/nonexistent/corpus.txt"]), "Input file not found: /nonexistent/corpus.txt"),
        (dict(vocab_size=10), "vocab_size"),
        (dict(model_type="wordpiece"), "model_type"),
        (dict(character_coverage=1.5), "character_coverage"),
        (dict(input_sentence_size=-1), "input_sentence_size"),
        (dict(input_sentence_size=50), "input_sentence_size"),
    ],
)
def test_invalid_arguments(tmp_path, kwargs, message):
    corpus = tmp_path / "c.txt"
    corpus.write_text("some text\n")
    arguments = dict(inputs=[corpus], model_prefix=tmp_path / "m") | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        train_sentencepiece(**arguments)


@needs_sample
def test_cli_trains_and_prints_a_summary(tmp_path, capsys):
    prefix = tmp_path / "cli" / "spiece"
    assert main(["train-spm", str(SAMPLE), "--model-prefix", str(prefix), "--vocab-size", "250"]) == 0
    out = capsys.readouterr().out
    assert str(prefix) + ".model" in out and "<pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4" in out
    assert AlbertTokenizer(str(prefix) + ".model").vocab_size == 250


def test_cli_error_is_one_line(tmp_path, capsys):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(b"ok\n\xff\xfe\n")
    assert main(["train-spm", str(corpus), "--model-prefix", str(tmp_path / "m"), "--vocab-size", "50"]) == 2
    err = capsys.readouterr().err
    assert f"albert train-spm: error: {corpus}, line 2: not valid UTF-8" in err
    assert not (tmp_path / "m.model").exists()
