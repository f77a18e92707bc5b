"""AlbertTokenizer against the original ALBERT code, raw SentencePiece and Hugging Face, on real text."""

from __future__ import annotations

import bz2
import functools
import html
import io
import re
import shutil
import time
import unicodedata

import numpy as np
import pytest
import sentencepiece as spm

from albert_tf.tokenizer import AlbertTokenizer, normalize_text, truncated_pair_lengths
from conftest import SHARED_DATA

SPM = SHARED_DATA / "albert" / "spiece.model"
WIKI = SHARED_DATA / "corpus" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
UNDERLINE = "\u2581"

needs_data = pytest.mark.skipif(
    not (SPM.exists() and WIKI.exists() and SAMPLE.exists()),
    reason=f"shared data (real ALBERT spiece.model, Wikipedia excerpt, sample text) not found under {SHARED_DATA}",
)

EDGE_CASES = [
    "Héllo Wörld NAÏVE café ﬁne １２３",
    "In 1990, 2,000 people paid $1990, and 3,",
    "",
    "   \t  \n ",
    "tabs\tand\nnew\r\nlines\u3000ideographic\u00a0nbsp\x1ffile-separator",
    "``Quoted'' text with ``nested ''quotes'' and a lone ` and '",
    "emoji 😀🎉 and CJK 中文 日本語 한국어",
    "Greek ΟΔΟΣ ΣΑΣ Σ, Turkish İSTANBUL, ligature ǅ, NUL a\x00b",
    "Ångström's naïve résumé — déjà vu, Straße, Œuvre",
]


@functools.lru_cache(maxsize=None)
def real_text_lines(stride: int = 40) -> tuple[str, ...]:
    """Real lines: every `stride`-th non-empty line of the Wikipedia excerpt (815 by default) and the sample text.

    Only HTML entities are decoded; wiki markup stays (it is text too, and
    exercises punctuation, URLs and numbers).
    """
    with bz2.open(WIKI, "rt", encoding="utf-8") as handle:
        wiki = [html.unescape(line) for line in handle.read().splitlines() if line.strip()]
    sample = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tuple(wiki[::stride] + sample)


@pytest.fixture(scope="module")
def tokenizer() -> AlbertTokenizer:
    if not SPM.exists():
        pytest.skip(f"real ALBERT spiece.model not found at {SPM}")
    return AlbertTokenizer(SPM)


@pytest.fixture(scope="module")
def raw_sp() -> spm.SentencePieceProcessor:
    if not SPM.exists():
        pytest.skip(f"real ALBERT spiece.model not found at {SPM}")
    return spm.SentencePieceProcessor(model_file=str(SPM))


# ---------------------------------------------- the original code, transcribed
def original_preprocess_text(text: str) -> str:
    """google-research/albert `preprocess_text(lower=True)` plus Hugging Face's quote replacement."""
    outputs = " ".join(text.strip().split())
    outputs = outputs.replace("``", '"').replace("''", '"')
    outputs = unicodedata.normalize("NFKD", outputs)
    outputs = "".join([c for c in outputs if not unicodedata.combining(c)])
    return outputs.lower()


def original_encode_pieces(sp_model: spm.SentencePieceProcessor, text: str) -> list[str]:
    """google-research/albert `encode_pieces` (Python 3, no sampling)."""
    pieces = sp_model.EncodeAsPieces(text)
    new_pieces = []
    for piece in pieces:
        if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
            cur_pieces = sp_model.EncodeAsPieces(piece[:-1].replace(UNDERLINE, ""))
            if piece[0] != UNDERLINE and cur_pieces[0][0] == UNDERLINE:
                if len(cur_pieces[0]) == 1:
                    cur_pieces = cur_pieces[1:]
                else:
                    cur_pieces[0] = cur_pieces[0][1:]
            cur_pieces.append(piece[-1])
            new_pieces.extend(cur_pieces)
        else:
            new_pieces.append(piece)
    return new_pieces


def original_truncate_seq_pair(tokens_a: list, tokens_b: list, max_length: int) -> None:
    """google-research/albert `_truncate_seq_pair`."""
    while True:
        total_length = len(tokens_a) + len(tokens_b)
        if total_length <= max_length:
            break
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


# ------------------------------------------------------------ preprocessing
@needs_data
def test_normalize_equals_the_original_preprocessing():
    texts = list(real_text_lines()) + EDGE_CASES
    assert [normalize_text(text) for text in texts] == [original_preprocess_text(text) for text in texts]
    # The example of shared/REFERENCE.md section 4.
    assert normalize_text("Héllo Wörld NAÏVE café ﬁne １２３") == "hello world naive cafe fine 123"


def test_normalize_options():
    text = "  Café\t``NAÏVE''  "
    assert normalize_text(text, lower_case=False, strip_accents=False) == 'Café "NAÏVE"'
    assert normalize_text(text, lower_case=True, strip_accents=False) == 'café "naïve"'
    assert normalize_text(text, lower_case=False, strip_accents=True) == 'Cafe "NAIVE"'


# ------------------------------------------------------- digit-comma re-split
def _rule_table(raw_sp: spm.SentencePieceProcessor) -> dict[int, tuple[int, ...]]:
    """The original re-split applied to every piece of the vocabulary: id -> replacement ids."""
    expected = {}
    for index in range(raw_sp.vocab_size()):
        piece = raw_sp.id_to_piece(index)
        if raw_sp.is_control(index) or raw_sp.is_unknown(index):
            continue
        # The rule, applied to a text that SentencePiece encodes as this one piece.
        replaced = original_encode_pieces(_SinglePiece(raw_sp, piece), piece)
        if replaced != [piece]:
            expected[index] = tuple(raw_sp.piece_to_id(p) for p in replaced)
    return expected


@needs_data
def test_digit_comma_table_equals_the_rule_on_every_piece(tokenizer, raw_sp):
    expected = _rule_table(raw_sp)
    assert tokenizer.digit_comma_table == expected
    assert len(expected) > 100  # "▁1990,", "▁2,", ... (141 in the released vocabulary)
    year = raw_sp.piece_to_id(UNDERLINE + "1990,")
    assert [tokenizer.id_to_piece(i) for i in expected[year]] == [UNDERLINE + "1990", ","]


def test_digit_comma_rule_on_pieces_without_word_start(tmp_path):
    """The released vocabulary's 141 such pieces all start with "▁"; this one has "1990," and "85,"
    inside words, so the original's removal of the "▁" that re-encoding adds is exercised, both
    where it is a piece of its own ("▁", "8", "5") and where it starts one ("▁19" -> "19", not in
    the vocabulary: <unk>, as the original's PieceToId gives)."""
    lines = [
        f"1 1 1 19 19 it cost ${1900 + i % 7}, then {i}, and later #{i % 13}, as in 19{i % 10}0, too" for i in range(300)
    ]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=42, minloglevel=2, num_threads=1,
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        user_defined_symbols=["1990,", "85,"],
    )
    path = tmp_path / "digits.model"
    path.write_bytes(model.getvalue())
    raw_sp = spm.SentencePieceProcessor(model_file=str(path))
    tokenizer = AlbertTokenizer(path)
    expected = _rule_table(raw_sp)
    assert tokenizer.digit_comma_table == expected
    assert sorted(raw_sp.id_to_piece(index) for index in expected) == ["1990,", "85,"]
    first_pieces = {raw_sp.encode("1990", out_type=str)[0], raw_sp.encode("85", out_type=str)[0]}
    assert first_pieces == {UNDERLINE + "19", UNDERLINE}  # both branches of the "▁" removal
    text = "paid $1990, and x85, then 1990, ok"
    pieces = original_encode_pieces(raw_sp, original_preprocess_text(text))
    assert tokenizer.tokenize(text) == pieces
    assert tokenizer.encode(text) == [raw_sp.PieceToId(piece) for piece in pieces]
    assert tokenizer.unk_id in tokenizer.encode(text)


class _SinglePiece:
    """A SentencePiece stand-in whose first `EncodeAsPieces` returns exactly one given piece."""

    def __init__(self, sp: spm.SentencePieceProcessor, piece: str) -> None:
        self.sp, self.piece, self.first = sp, piece, True

    def EncodeAsPieces(self, text: str) -> list[str]:  # noqa: N802 (the original's name)
        if self.first:
            self.first = False
            return [self.piece]
        return self.sp.EncodeAsPieces(text)


@needs_data
def test_ids_equal_the_original_encode_ids_on_real_text(tokenizer, raw_sp):
    lines = list(real_text_lines()) + EDGE_CASES
    resplit_lines = 0
    for line in lines:
        pieces = original_encode_pieces(raw_sp, original_preprocess_text(line))
        assert tokenizer.tokenize(line) == pieces, line
        # The original `encode_ids`: PieceToId of each piece.
        assert tokenizer.encode(line) == [raw_sp.PieceToId(piece) for piece in pieces], line
        resplit_lines += pieces != raw_sp.EncodeAsPieces(original_preprocess_text(line))
    assert resplit_lines >= 5  # the real text does exercise the re-split


@needs_data
def test_without_digit_comma_split_ids_are_raw_sentencepiece(raw_sp):
    tokenizer = AlbertTokenizer(SPM, split_digit_comma=False)
    assert tokenizer.digit_comma_table == {}
    lines = list(real_text_lines()) + EDGE_CASES
    assert tokenizer.encode_batch(lines) == [raw_sp.encode(original_preprocess_text(line)) for line in lines]


@needs_data
def test_encode_batch_equals_encode(tokenizer):
    lines = list(real_text_lines())[:200] + EDGE_CASES
    assert tokenizer.encode_batch(lines) == [tokenizer.encode(line) for line in lines]


# ------------------------------------------------------------- Hugging Face
def _user_defined_symbols(path) -> list[str]:
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(path.read_bytes())
    return [p.piece for p in model.pieces if p.type == sentencepiece_model_pb2.ModelProto.SentencePiece.USER_DEFINED]


@pytest.fixture(scope="module")
def hugging_face(tmp_path_factory):
    transformers = pytest.importorskip("transformers", reason="transformers not installed (pip install -e '.[test]')")
    if not SPM.exists():
        pytest.skip(f"real ALBERT spiece.model not found at {SPM}")
    folder = tmp_path_factory.mktemp("hf_albert")
    shutil.copyfile(SPM, folder / "spiece.model")
    # `from_pretrained(FOLDER)`: `AlbertTokenizer(vocab_file=...)` is broken in transformers 5.x.
    return transformers.AlbertTokenizer.from_pretrained(str(folder))


def _hf_ids(hf, lines) -> list[list[int]]:
    return hf(list(lines), add_special_tokens=False)["input_ids"]


def _hf_splits_like_sentencepiece(normalized: str, symbols: list[str]) -> bool:
    """False where transformers 5.x's added-token split of user-defined symbols can differ.

    It treats SentencePiece's user-defined symbols ( ) " - . – £ € as added
    tokens: it cuts the text around them and starts a new word after each, so
    "first-letter" becomes "▁first - ▁letter" (sentencepiece: "▁first - letter")
    and " (" loses its "▁". A symbol that ends a word ("end.") is unaffected.
    """
    symbol = "|".join(re.escape(s) for s in symbols)
    return re.search(rf"(?<!\S)({symbol})|({symbol})(?=[^\s{''.join(map(re.escape, symbols))}])", normalized) is None


@needs_data
def test_ids_equal_hugging_face_where_it_follows_sentencepiece(hugging_face):
    symbols = _user_defined_symbols(SPM)
    plain = AlbertTokenizer(SPM, split_digit_comma=False)
    lines = [line for line in real_text_lines(10) if _hf_splits_like_sentencepiece(plain.normalize(line), symbols)]
    lines += [case for case in EDGE_CASES if _hf_splits_like_sentencepiece(plain.normalize(case), symbols)]
    assert len(lines) >= 1000
    assert sum(not line.isascii() for line in lines) >= 20          # accents, dashes, CJK ...
    assert sum(bool(re.search(r"\d,", line)) for line in lines) >= 20  # "1990," style
    hf_ids = _hf_ids(hugging_face, lines)
    # transformers 5.x does not re-split digit-commas: equal to the plain tokenizer ...
    assert plain.encode_batch(lines) == hf_ids
    # ... and the default tokenizer differs from it by exactly the re-split table.
    tokenizer = AlbertTokenizer(SPM)
    table = tokenizer.digit_comma_table
    resplit = [[i for index in ids for i in table.get(index, (index,))] for ids in hf_ids]
    ours = tokenizer.encode_batch(lines)
    assert ours == resplit
    assert sum(a != b for a, b in zip(ours, hf_ids)) >= 10


@needs_data
def test_hugging_face_differences_are_its_added_token_split(hugging_face):
    """Where transformers 5.x differs from SentencePiece (the original), it is its user-defined-symbol split."""
    symbols = _user_defined_symbols(SPM)
    plain = AlbertTokenizer(SPM, split_digit_comma=False)
    raw_sp = spm.SentencePieceProcessor(model_file=str(SPM))
    cut = re.compile("(" + "|".join(re.escape(s) for s in symbols) + ")")

    def added_token_split(line: str) -> list[int]:
        # Added tokens match the raw text; every other chunk is normalized and
        # encoded word by word, each word with its own "▁".
        ids = []
        for chunk in cut.split(line):
            if chunk in symbols:
                ids.append(raw_sp.piece_to_id(chunk))
            elif chunk:
                for word in plain.normalize(chunk).split(" "):
                    ids.extend(raw_sp.encode(word) if word else [])
        return ids

    lines = list(real_text_lines())
    ours, hf_ids = plain.encode_batch(lines), _hf_ids(hugging_face, lines)
    differing = [i for i in range(len(lines)) if ours[i] != hf_ids[i]]
    assert len(differing) >= 100  # the split matters on real text
    unexplained = [lines[i] for i in differing if added_token_split(lines[i]) != hf_ids[i]]
    assert unexplained == []


# ------------------------------------------------------------- model inputs
def test_truncated_pair_lengths_equals_the_original_loop():
    for budget in range(1, 30):
        for length_a in range(0, 35):
            for length_b in range(0, 35):
                tokens_a, tokens_b = list(range(length_a)), list(range(length_b))
                original_truncate_seq_pair(tokens_a, tokens_b, budget)
                assert truncated_pair_lengths(length_a, length_b, budget) == (len(tokens_a), len(tokens_b))


@needs_data
def test_encode_pair_layout_and_truncation(tokenizer):
    lines = [line for line in real_text_lines() if line.strip()][:60]
    cls, sep, pad = tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id
    for max_seq_length in (4, 5, 9, 16, 64):
        for text_a, text_b in zip(lines[0::2], lines[1::2]):
            a, b = tokenizer.encode(text_a), tokenizer.encode(text_b)
            a_kept, b_kept = list(a), list(b)
            original_truncate_seq_pair(a_kept, b_kept, max_seq_length - 3)
            expected = [cls, *a_kept, sep, *b_kept, sep]
            got = tokenizer.encode_pair(text_a, text_b, max_seq_length=max_seq_length)
            n = len(expected)
            assert got["input_word_ids"] == expected + [pad] * (max_seq_length - n)
            assert got["input_mask"] == [1] * n + [0] * (max_seq_length - n)
            segments = [0] * (len(a_kept) + 2) + [1] * (len(b_kept) + 1)
            assert got["input_type_ids"] == segments + [0] * (max_seq_length - n)
            single = tokenizer.encode_pair(text_a, max_seq_length=max_seq_length)
            kept = a[: max_seq_length - 2]
            assert single["input_word_ids"] == [cls, *kept, sep] + [pad] * (max_seq_length - len(kept) - 2)
            assert single["input_mask"] == [1] * (len(kept) + 2) + [0] * (max_seq_length - len(kept) - 2)
            assert single["input_type_ids"] == [0] * max_seq_length


@needs_data
def test_encode_pair_rejects_too_short_lengths(tokenizer):
    with pytest.raises(ValueError, match="max_seq_length.*>= 3"):
        tokenizer.encode_pair("a", max_seq_length=2)
    with pytest.raises(ValueError, match="max_seq_length.*>= 4"):
        tokenizer.encode_pair("a", "b", max_seq_length=3)
    assert len(tokenizer.encode_pair("a", "b", max_seq_length=4)["input_word_ids"]) == 4


# --------------------------------------------------------------- vocabulary
@needs_data
def test_special_ids_and_vocabulary(tokenizer, raw_sp):
    assert tokenizer.vocab_size == raw_sp.vocab_size()
    for role, piece in [("pad", "<pad>"), ("unk", "<unk>"), ("cls", "[CLS]"), ("sep", "[SEP]"), ("mask", "[MASK]")]:
        index = getattr(tokenizer, f"{role}_id")
        assert raw_sp.id_to_piece(index) == piece == tokenizer.id_to_piece(index)
        assert tokenizer.piece_to_id(piece) == index
    assert tokenizer.pieces == tuple(raw_sp.id_to_piece(index) for index in range(raw_sp.vocab_size()))


@needs_data
def test_decode_gives_the_normalized_text(tokenizer):
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    checked = 0
    for line in lines:
        ids = tokenizer.encode(line)
        if tokenizer.unk_id in ids:  # <unk> decodes to " ⁇ "
            continue
        assert tokenizer.decode([tokenizer.cls_id, *ids, tokenizer.sep_id]) == tokenizer.normalize(line)
        assert tokenizer.decode(np.asarray(ids)) == tokenizer.normalize(line)
        checked += 1
    assert checked >= 10
    with pytest.raises(ValueError, match="out of range"):
        tokenizer.decode([tokenizer.vocab_size])


@needs_data
def test_very_long_input(tokenizer, raw_sp):
    lines = list(real_text_lines())
    chunks, words = [], 0
    while words < 20_000:
        chunks.extend(lines)
        words += sum(len(line.split()) for line in lines)
    long_text = "\n".join(chunks)
    start = time.perf_counter()
    ids = tokenizer.encode(long_text)
    # Linear work takes well under a second here; a quadratic pass would take minutes.
    assert time.perf_counter() - start < 5.0
    pieces = original_encode_pieces(raw_sp, original_preprocess_text(long_text))
    assert ids == [raw_sp.PieceToId(piece) for piece in pieces]
    # Not compared with the lines encoded one by one: SentencePiece's Viterbi
    # sums float scores from the start of the text, so exact ties between two
    # segmentations of a word ("869" as "8 69" or "86 9") can break differently.
    no_spaces = "abc" * 300_000
    assert tokenizer.decode(tokenizer.encode(no_spaces)) == no_spaces


# ------------------------------------------------------------------- errors
def test_missing_model_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "spiece.model"
    with pytest.raises(ValueError, match=re.escape(str(path))):
        AlbertTokenizer(path)
    with pytest.raises(ValueError, match="directory"):
        AlbertTokenizer(tmp_path)


@pytest.mark.parametrize("content", [b"", b"this is a text file\n", bytes(range(256))])
def test_non_sentencepiece_file_is_rejected(tmp_path, content):
    path = tmp_path / "vocab.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"{re.escape(str(path))} is not a SentencePiece model"):
        AlbertTokenizer(path)


def _train_tiny_model(**specials) -> bytes:
    text = [f"the quick brown fox {i} jumps over the lazy dog {i * 7}" for i in range(200)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text), model_writer=model, vocab_size=60, hard_vocab_limit=False,
        minloglevel=2, num_threads=1, **specials,
    )
    return model.getvalue()


@pytest.mark.parametrize(
    "specials, missing",
    [
        (dict(), "<pad>"),  # sentencepiece's defaults: <unk>, <s>, </s>, no <pad>
        (dict(pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]"]), "[MASK]"),
    ],
)
def test_vocabulary_without_albert_specials_says_how_to_fix(tmp_path, specials, missing):
    path = tmp_path / "plain.model"
    path.write_bytes(_train_tiny_model(**specials))
    with pytest.raises(ValueError, match=re.escape(repr(missing))) as error:
        AlbertTokenizer(path)
    assert "albert train-spm" in str(error.value) and str(path) in str(error.value)


@needs_data
def test_bad_text_inputs(tokenizer):
    assert tokenizer.encode("café".encode("utf-8")) == tokenizer.encode("café")
    with pytest.raises(ValueError, match="not valid UTF-8"):
        tokenizer.encode("café".encode("latin-1"))
    with pytest.raises(ValueError, match="expects str.*Received: int"):
        tokenizer.encode(42)
    with pytest.raises(ValueError, match="lone surrogate"):
        tokenizer.encode("a\ud800b")
    with pytest.raises(ValueError, match="expects str"):
        tokenizer.encode_pair("a", ["b"])
