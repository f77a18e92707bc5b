"""`AlbertTokenizer`: the original ALBERT text preprocessing and SentencePiece ids.

The released ALBERT models were pretrained on text that went through
`preprocess_text` and `encode_pieces` of google-research/albert
`tokenization.py`:

1. collapse whitespace: `" ".join(text.strip().split())`;
2. replace the LaTeX-style quotes "``" and "''" with '"' (as Hugging Face does);
3. NFKD, then drop combining marks (`unicodedata.combining(c) != 0`);
4. lowercase (the 30k vocabulary was trained on lowercased text);
5. SentencePiece-encode;
6. re-split every piece that ends in a digit followed by "," ("▁1990," becomes
   "▁1990", ","), so numbers are tokenized the same with or without a comma.

Step 6 depends on the piece alone, so it is precomputed once over the whole
vocabulary as a table `id -> replacement ids` and applied by lookup; the
in-graph tokenizer (`albert_tf.graph_tokenizer`) applies the same table.
"""

from __future__ import annotations

import os
import unicodedata
from typing import Iterable, Sequence

import numpy as np
import sentencepiece as spm

SPIECE_UNDERLINE = "\u2581"  # "▁": SentencePiece's word-start marker

# Pieces that ALBERT's inputs and pretraining need, by role.
SPECIAL_PIECES = {"pad": "<pad>", "unk": "<unk>", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}


def normalize_text(text: str, lower_case: bool = True, strip_accents: bool = True) -> str:
    """ALBERT's preprocessing of raw text before SentencePiece (steps 1-4 above).

    Args:
        text: the raw text.
        lower_case: lowercase (after accents are stripped), as the released models expect.
        strip_accents: NFKD-decompose and drop combining marks ("café" -> "cafe",
            "ﬁ" -> "fi", "１" -> "1").

    Returns:
        The normalized text.
    """
    return fold_characters(" ".join(text.strip().split()), lower_case, strip_accents)


def fold_characters(text: str, lower_case: bool = True, strip_accents: bool = True) -> str:
    """Steps 2-4 of ALBERT's preprocessing (quotes, accents, case); whitespace is left as it is.

    `normalize_text` is whitespace collapse followed by this. The text-in
    TFLite export folds this part into a SentencePiece normalizer.
    """
    text = text.replace("``", '"').replace("''", '"')
    # ASCII is its own NFKD and has no combining marks; skipping the per-character
    # pass keeps long English text cheap.
    if strip_accents and not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in text if not unicodedata.combining(char))
    if lower_case:
        text = text.lower()
    return text


def truncated_pair_lengths(length_a: int, length_b: int, budget: int) -> tuple[int, int]:
    """Lengths that the original `_truncate_seq_pair` leaves for two segments.

    That function pops one token at a time from the end of the longer segment
    (the second on ties) until `length_a + length_b <= budget`; this is its
    closed form (constant time, and expressible with tensor ops in-graph).
    """
    if length_a + length_b <= budget:
        return length_a, length_b
    shorter = min(length_a, length_b)
    if 2 * shorter <= budget:
        # Only the longer segment is cut.
        return (budget - length_b, length_b) if length_a > length_b else (length_a, budget - length_a)
    # Both are cut down to (almost) half; the first keeps the odd token.
    return (budget + 1) // 2, budget // 2


class AlbertTokenizer:
    """ALBERT's tokenizer: the original preprocessing and a SentencePiece model.

    Special pieces are looked up by name, so any SentencePiece model with
    `<pad>`, `<unk>`, `[CLS]`, `[SEP]` and `[MASK]` works (`albert train-spm`
    trains such models; the released 30k model has them at ids 0-4).

    Args:
        spm_model_path: the SentencePiece `.model` file.
        lower_case: lowercase the text (the released models were trained on
            lowercased text: uppercase letters are mostly `<unk>` otherwise).
        strip_accents: NFKD-decompose and drop combining marks.
        split_digit_comma: re-split pieces ending in a digit and "," as the
            original `encode_pieces` does ("▁1990," -> "▁1990", ","). Hugging
            Face's tokenizer in transformers 5.x does not do this.

    Example:
    >>> tokenizer = AlbertTokenizer("spiece.model")  # doctest: +SKIP
    >>> tokenizer.tokenize("Héllo, World!")  # doctest: +SKIP
    ['▁hello', ',', '▁world', '!']
    >>> tokenizer.encode_pair("A question?", "An answer.", max_seq_length=12)  # doctest: +SKIP
    {'input_word_ids': [2, ..., 3, ..., 3, 0, 0], 'input_mask': [...], 'input_type_ids': [...]}
    """

    def __init__(
        self,
        spm_model_path: str | os.PathLike,
        lower_case: bool = True,
        strip_accents: bool = True,
        split_digit_comma: bool = True,
    ) -> None:
        path = os.fspath(spm_model_path)
        try:
            with open(path, "rb") as handle:
                proto = handle.read()
        except FileNotFoundError:
            raise ValueError(f"SentencePiece model file not found: {path}") from None
        except IsADirectoryError:
            raise ValueError(f"SentencePiece model path is a directory, not a .model file: {path}") from None
        self._init(proto, path, lower_case, strip_accents, split_digit_comma)

    @classmethod
    def from_serialized_proto(
        cls,
        proto: bytes,
        lower_case: bool = True,
        strip_accents: bool = True,
        split_digit_comma: bool = True,
        source: str = "<serialized SentencePiece model>",
    ) -> "AlbertTokenizer":
        """A tokenizer from the bytes of a `.model` file (e.g. a saved model's asset).

        `source` names the bytes' origin in error messages (a path, say)."""
        tokenizer = cls.__new__(cls)
        tokenizer._init(bytes(proto), source, lower_case, strip_accents, split_digit_comma)
        return tokenizer

    def _init(self, proto: bytes, source: str, lower_case: bool, strip_accents: bool, split_digit_comma: bool) -> None:
        self.lower_case = bool(lower_case)
        self.strip_accents = bool(strip_accents)
        self.split_digit_comma = bool(split_digit_comma)
        self.source = source
        self._proto = proto
        self._sp = _load_processor(proto, source)
        self._special_ids = {role: _special_id(self._sp, piece, source) for role, piece in SPECIAL_PIECES.items()}
        self._digit_comma_ids: dict[int, tuple[int, ...]] = {}
        self._digit_comma_pieces: dict[str, tuple[str, ...]] = {}
        # Every piece in one call (a loop of 30k `id_to_piece` calls takes ~20 ms;
        # data workers build a tokenizer before their first document).
        self._pieces: tuple[str, ...] = tuple(self._sp.id_to_piece(list(range(self._sp.vocab_size()))))
        if self.split_digit_comma:
            for index, piece in enumerate(self._pieces):
                if not _is_digit_comma_piece(piece) or self._sp.is_control(index) or self._sp.is_unknown(index):
                    continue
                replacement = _split_digit_comma_piece(self._sp, piece)
                if replacement is not None:
                    self._digit_comma_pieces[piece] = replacement
                    self._digit_comma_ids[index] = tuple(self._sp.piece_to_id(p) for p in replacement)

    # ------------------------------------------------------------- vocabulary
    @property
    def vocab_size(self) -> int:
        """Number of pieces in the SentencePiece model."""
        return self._sp.vocab_size()

    @property
    def pad_id(self) -> int:
        """Id of `<pad>`."""
        return self._special_ids["pad"]

    @property
    def unk_id(self) -> int:
        """Id of `<unk>`."""
        return self._special_ids["unk"]

    @property
    def cls_id(self) -> int:
        """Id of `[CLS]`."""
        return self._special_ids["cls"]

    @property
    def sep_id(self) -> int:
        """Id of `[SEP]`."""
        return self._special_ids["sep"]

    @property
    def mask_id(self) -> int:
        """Id of `[MASK]`."""
        return self._special_ids["mask"]

    @property
    def serialized_model_proto(self) -> bytes:
        """The bytes of the SentencePiece `.model`."""
        return self._proto

    @property
    def digit_comma_table(self) -> dict[int, tuple[int, ...]]:
        """`id -> replacement ids` for every piece that the digit-comma rule re-splits.

        Empty when `split_digit_comma=False`. A replacement piece that is not in
        the vocabulary maps to `unk_id`, as `PieceToId` does in the original.
        """
        return dict(self._digit_comma_ids)

    @property
    def pieces(self) -> tuple[str, ...]:
        """Every piece of the vocabulary, indexed by id."""
        return self._pieces

    def id_to_piece(self, index: int) -> str:
        """The piece of id `index`."""
        self._check_id(index)
        return self._sp.id_to_piece(int(index))

    def piece_to_id(self, piece: str) -> int:
        """The id of `piece`, or `unk_id` when it is not in the vocabulary."""
        return self._sp.piece_to_id(piece)

    # -------------------------------------------------------------- encoding
    def normalize(self, text: str | bytes) -> str:
        """The preprocessing alone (whitespace, quotes, accents, case) as configured."""
        return normalize_text(_as_text(text), self.lower_case, self.strip_accents)

    def tokenize(self, text: str | bytes) -> list[str]:
        """The pieces of `text` (no special tokens), as the original `encode_pieces`."""
        pieces = self._sp.encode(self.normalize(text), out_type=str)
        if not self._digit_comma_pieces:
            return pieces
        result: list[str] = []
        for piece in pieces:
            replacement = self._digit_comma_pieces.get(piece)
            if replacement is None:
                result.append(piece)
            else:
                result.extend(replacement)
        return result

    def encode(self, text: str | bytes) -> list[int]:
        """The ids of `text` (no special tokens).

        Encode a document's text as the model should see it, not in other
        chunks: SentencePiece sums float32 scores from the start of the string,
        so on rare near-ties a word's split can depend on the text before it.
        """
        return self._split_digit_comma(self._sp.encode(self.normalize(text), out_type=int))

    def encode_batch(self, texts: Iterable[str | bytes]) -> list[list[int]]:
        """`encode` for many texts; SentencePiece runs them on all cores."""
        normalized = [self.normalize(text) for text in texts]
        return [self._split_digit_comma(ids) for ids in self._sp.encode(normalized, out_type=int)]

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Text from ids (control pieces such as `[CLS]` and `<pad>` decode to nothing).

        Preprocessing is lossy (case, accents, whitespace), so
        `decode(encode(text))` is the normalized text, not `text`.
        """
        ids = [int(index) for index in np.asarray(ids).reshape(-1)]
        for index in ids:
            self._check_id(index)
        return self._sp.decode(ids)

    def encode_pair(
        self, text_a: str | bytes, text_b: str | bytes | None = None, max_seq_length: int = 128
    ) -> dict[str, list[int]]:
        """Model inputs `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, padded to `max_seq_length`.

        Too-long inputs are truncated from the end, the longer segment first, as
        the original `_truncate_seq_pair` does. `text_b=None` means one segment;
        `text_b=""` gives an empty second segment (`... [SEP] [SEP]`).

        Returns:
            `input_word_ids` (padded with `pad_id`), `input_mask` (1 on real
            tokens), `input_type_ids` (0 for `[CLS] A [SEP]`, 1 for `B [SEP]`,
            0 on padding), each a list of `max_seq_length` ints.
        """
        ids_a = self.encode(text_a)
        ids_b = None if text_b is None else self.encode(text_b)
        return self.pack_ids(ids_a, ids_b, max_seq_length)

    def pack_ids(
        self, ids_a: Sequence[int], ids_b: Sequence[int] | None = None, max_seq_length: int = 128
    ) -> dict[str, list[int]]:
        """`encode_pair` for already-encoded segments."""
        _check_max_seq_length(max_seq_length, pair=ids_b is not None)
        if ids_b is None:
            ids_a = list(ids_a)[: max_seq_length - 2]
            word_ids = [self.cls_id, *ids_a, self.sep_id]
            type_ids = [0] * len(word_ids)
        else:
            length_a, length_b = truncated_pair_lengths(len(ids_a), len(ids_b), max_seq_length - 3)
            word_ids = [self.cls_id, *list(ids_a)[:length_a], self.sep_id, *list(ids_b)[:length_b], self.sep_id]
            type_ids = [0] * (length_a + 2) + [1] * (length_b + 1)
        padding = max_seq_length - len(word_ids)
        return {
            "input_word_ids": word_ids + [self.pad_id] * padding,
            "input_mask": [1] * len(word_ids) + [0] * padding,
            "input_type_ids": type_ids + [0] * padding,
        }

    # --------------------------------------------------------------- private
    def _split_digit_comma(self, ids: list[int]) -> list[int]:
        table = self._digit_comma_ids
        if not table:
            return ids
        result: list[int] = []
        for index in ids:
            replacement = table.get(index)
            if replacement is None:
                result.append(index)
            else:
                result.extend(replacement)
        return result

    def _check_id(self, index: int) -> None:
        if not 0 <= int(index) < self.vocab_size:
            raise ValueError(f"Token id {index} is out of range for a vocabulary of {self.vocab_size} pieces.")

    def __repr__(self) -> str:
        return (
            f"AlbertTokenizer({self.source!r}, vocab_size={self.vocab_size}, lower_case={self.lower_case}, "
            f"strip_accents={self.strip_accents}, split_digit_comma={self.split_digit_comma})"
        )


def _split_digit_comma_piece(sp: spm.SentencePieceProcessor, piece: str) -> tuple[str, ...] | None:
    """The original `encode_pieces` rule for one piece; None when it does not apply."""
    if not _is_digit_comma_piece(piece):
        return None
    pieces = sp.encode(piece[:-1].replace(SPIECE_UNDERLINE, ""), out_type=str)
    # Encoding adds a word-start "▁" that the original piece did not have
    # (e.g. "1990," inside "$1990,"): drop it, as the original does.
    if piece[0] != SPIECE_UNDERLINE and pieces and pieces[0][0] == SPIECE_UNDERLINE:
        pieces = pieces[1:] if len(pieces[0]) == 1 else [pieces[0][1:], *pieces[1:]]
    return (*pieces, piece[-1])


def _is_digit_comma_piece(piece: str) -> bool:
    """Whether the original `encode_pieces` re-splits `piece` (a digit, then a final comma)."""
    return len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()


def _load_processor(proto: bytes, source: str) -> spm.SentencePieceProcessor:
    try:
        processor = spm.SentencePieceProcessor(model_proto=proto)
    except RuntimeError:
        processor = None
    # An empty file parses as an empty model; count it as "not a model" too.
    if processor is None or processor.vocab_size() == 0:
        raise ValueError(
            f"{source} is not a SentencePiece model (expected the binary `.model` file written by "
            "`albert train-spm` or `spm_train`, e.g. spiece.model)."
        )
    return processor


def _special_id(sp: spm.SentencePieceProcessor, piece: str, source: str) -> int:
    index = sp.piece_to_id(piece)
    if sp.id_to_piece(index) != piece:
        raise ValueError(
            f"SentencePiece model {source} has no {piece!r} piece; ALBERT needs <pad>, <unk>, [CLS], "
            "[SEP] and [MASK]. Train the vocabulary with `albert train-spm`, which adds them at ids 0-4 "
            "(or pass --control_symbols=[CLS],[SEP],[MASK] --pad_id=0 --unk_id=1 to spm_train)."
        )
    return index


def _as_text(text: str | bytes) -> str:
    if isinstance(text, (bytes, bytearray)):
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(
                f"Text bytes are not valid UTF-8 ({error.reason} at byte {error.start}): "
                f"{bytes(text)[max(0, error.start - 20):error.start + 20]!r}. Decode them to str first."
            ) from None
    if not isinstance(text, str):
        raise ValueError(f"AlbertTokenizer expects str (or UTF-8 bytes). Received: {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"Text is not valid Unicode: lone surrogate {text[error.start]!r} at index {error.start}."
        ) from None
    return text


def _check_max_seq_length(max_seq_length: int, pair: bool) -> None:
    minimum = 4 if pair else 3
    if not isinstance(max_seq_length, (int, np.integer)) or max_seq_length < minimum:
        layout = "[CLS] A [SEP] B [SEP]" if pair else "[CLS] A [SEP]"
        raise ValueError(
            f"`max_seq_length` must be an int >= {minimum} for {layout}. Received: max_seq_length={max_seq_length!r}"
        )
