"""Training an ALBERT SentencePiece vocabulary (the library behind `albert train-spm`).

The recipe of the released 30k model (its `.model` file records it): unigram,
`<pad>`=0, `<unk>`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4 as control symbols, no
BOS/EOS, a few punctuation marks as user-defined symbols, character coverage
0.99995, and a shuffled sample of at most 10M sentences. The text is
normalized exactly as `AlbertTokenizer` normalizes it before encoding
(lowercase, accents stripped), so the vocabulary holds the pieces that the
tokenizer will look for.
"""

from __future__ import annotations

import bz2
import gzip
import os
import pathlib
import re
import sys
import tempfile
from typing import IO, Iterator, Sequence

import sentencepiece as spm

from albert_tf.io_utils import (InputFileError, atomic_write_bytes, check_input_file, check_output_path,
                                check_writable_folder)
from albert_tf.tokenizer import SPECIAL_PIECES, normalize_text

# Ids 0-4, in order; `[CLS]`, `[SEP]`, `[MASK]` are control symbols (never
# produced by encoding text, only inserted by the input pipeline).
ALBERT_CONTROL_SYMBOLS = ("[CLS]", "[SEP]", "[MASK]")
# The released 30k-clean model keeps these as single pieces at ids 5-12.
ALBERT_USER_DEFINED_SYMBOLS = ("(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac")
MODEL_TYPES = ("unigram", "bpe")
# SentencePiece skips longer sentences (bytes); the released model's value.
MAX_SENTENCE_BYTES = 4192


def train_sentencepiece(
    inputs: Sequence[str | os.PathLike],
    model_prefix: str | os.PathLike,
    vocab_size: int = 30000,
    character_coverage: float = 0.99995,
    input_sentence_size: int = 10_000_000,
    model_type: str = "unigram",
    lower_case: bool = True,
    strip_accents: bool = True,
    user_defined_symbols: Sequence[str] = ALBERT_USER_DEFINED_SYMBOLS,
    num_threads: int | None = None,
    verbose: bool = False,
    progress: bool = False,
    overwrite: bool = False,
) -> pathlib.Path:
    """Trains a SentencePiece model for ALBERT and writes `PREFIX.model` and `PREFIX.vocab`.

    Args:
        inputs: text files, one sentence per line; `.bz2` and `.gz` files are
            read compressed. Lines are streamed, never loaded whole.
        model_prefix: output path without extension.
        vocab_size: number of pieces, the 5 special pieces included.
        character_coverage: fraction of characters covered by the vocabulary;
            the rarest others become `<unk>`.
        input_sentence_size: at most this many sentences (> 100), sampled
            uniformly (reservoir sampling) from all the lines; 0 uses every line.
            SentencePiece seeds this sampling with a fixed constant, so the same
            inputs, settings and `num_threads` give the same vocabulary.
        model_type: `unigram` (ALBERT's) or `bpe`.
        lower_case: lowercase the text first (must match the tokenizer's setting).
        strip_accents: strip accents first (must match the tokenizer's setting).
        user_defined_symbols: strings always kept as single pieces.
        num_threads: training threads; all cores by default.
        verbose: let SentencePiece print its (long) training log to stderr.
        progress: show a progress bar of the lines read on stderr.
        overwrite: replace an existing `PREFIX.model`; without it an existing
            vocabulary is refused before training (records and models made
            with it would no longer match it).

    Returns:
        The path of the `.model` file.

    Raises:
        ValueError: a missing input, a line that is not UTF-8 (the message
            names the file and line number), invalid arguments, or a corpus
            that SentencePiece cannot train on (e.g. too small for the
            vocabulary size). No output file is written then.
    """
    paths = [os.fspath(path) for path in inputs]
    _check_arguments(paths, vocab_size, character_coverage, input_sentence_size, model_type, user_defined_symbols)
    if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
        raise ValueError(f"--threads must be a whole number >= 1. Received: {num_threads!r}")
    prefix = _check_prefix(os.fspath(model_prefix), overwrite)
    # Found before a long training run, not after it.
    check_writable_folder(prefix + ".model", "--model-prefix")
    sentences = _SentenceSource(paths, lower_case, strip_accents, progress)
    with tempfile.TemporaryDirectory(prefix="albert-spm-") as directory:
        # Train into a scratch directory: a failed or interrupted run leaves no
        # half-written `.model` at the destination.
        scratch = os.path.join(directory, "spm")
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_prefix=scratch,
                model_type=model_type,
                vocab_size=vocab_size,
                character_coverage=character_coverage,
                input_sentence_size=input_sentence_size,
                shuffle_input_sentence=True,
                max_sentence_length=MAX_SENTENCE_BYTES,
                pad_id=0,
                unk_id=1,
                bos_id=-1,
                eos_id=-1,
                pad_piece=SPECIAL_PIECES["pad"],
                unk_piece=SPECIAL_PIECES["unk"],
                control_symbols=list(ALBERT_CONTROL_SYMBOLS),
                user_defined_symbols=list(user_defined_symbols),
                num_threads=num_threads or os.cpu_count() or 1,
                minloglevel=0 if verbose else 2,
            )
        except RuntimeError as error:
            if sentences.error is not None:
                # Our own error (bad UTF-8 line) raised inside the iterator; the
                # trainer wraps it in a RuntimeError.
                raise sentences.error from None
            if sentences.count == 0:
                raise ValueError(f"The input file(s) {', '.join(paths)} hold no text (no non-empty line); give a "
                                 "corpus with one sentence per line.") from None
            message = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
            # SentencePiece names its own flags (--character_coverage); the command's are spelt with dashes.
            message = re.sub(r"--(\w+)", lambda match: "--" + match.group(1).replace("_", "-"), message)
            raise ValueError(
                f"SentencePiece training failed on {len(paths)} input file(s) "
                f"({sentences.count:,} non-empty lines): {message}"
            ) from None
        finally:
            sentences.close()
        with open(scratch + ".model", "rb") as handle:
            model_bytes = handle.read()
        with open(scratch + ".vocab", "rb") as handle:
            vocab_bytes = handle.read()
    _check_special_ids(model_bytes)
    model_bytes = _with_provenance(model_bytes, prefix, paths)
    # `.vocab` first: the `.model` appearing is the signal that both are complete.
    atomic_write_bytes(prefix + ".vocab", vocab_bytes)
    atomic_write_bytes(prefix + ".model", model_bytes)
    return pathlib.Path(prefix + ".model")


class _SentenceSource:
    """Normalized non-empty lines of the inputs, counted, with a progress bar."""

    def __init__(self, paths: list[str], lower_case: bool, strip_accents: bool, progress: bool) -> None:
        self.paths = paths
        self.lower_case = lower_case
        self.strip_accents = strip_accents
        self.count = 0
        self.error: Exception | None = None
        self._bar = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(desc="reading", unit=" lines", file=sys.stderr)

    def __iter__(self) -> Iterator[str]:
        try:
            for path in self.paths:
                if self._bar is not None:
                    self._bar.set_postfix_str(os.path.basename(path))
                for text in _read_lines(path):
                    text = normalize_text(text, self.lower_case, self.strip_accents)
                    if self._bar is not None:
                        self._bar.update()
                    if text:
                        self.count += 1
                        yield text
        except Exception as error:  # re-raised by train_sentencepiece after the trainer returns
            self.error = error
            raise

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _read_lines(path: str) -> Iterator[str]:
    """Lines of a plain, `.bz2` or `.gz` text file, decoded strictly as UTF-8."""
    with _open_binary(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{path}, line {line_number}: not valid UTF-8 ({error.reason} at byte {error.start} of the "
                    f"line: {raw[max(0, error.start - 10):error.start + 10]!r}). Convert the file to UTF-8 "
                    "(e.g. `iconv -f latin1 -t utf-8`) or remove the line."
                ) from None


def _open_binary(path: str) -> IO[bytes]:
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _check_arguments(
    paths: list[str],
    vocab_size: int,
    character_coverage: float,
    input_sentence_size: int,
    model_type: str,
    user_defined_symbols: Sequence[str],
) -> None:
    if not paths:
        raise ValueError("No input files: pass at least one text file (plain, .bz2 or .gz).")
    for path in paths:
        check_input_file(path, "input file")
    reserved = len(SPECIAL_PIECES) + len(user_defined_symbols)
    if not isinstance(vocab_size, int) or vocab_size <= reserved:
        raise ValueError(
            f"`vocab_size` must be an int larger than the {reserved} reserved pieces (5 special + "
            f"{len(user_defined_symbols)} user-defined). Received: vocab_size={vocab_size!r}"
        )
    if not 0.0 < character_coverage <= 1.0:
        raise ValueError(f"`character_coverage` must be in (0, 1]. Received: {character_coverage!r}")
    # SentencePiece's own limit: a sample of 100 sentences or fewer is refused.
    if not isinstance(input_sentence_size, int) or not (input_sentence_size == 0 or input_sentence_size > 100):
        raise ValueError(
            f"`input_sentence_size` must be 0 (every line) or an int > 100. Received: {input_sentence_size!r}"
        )
    if model_type not in MODEL_TYPES:
        raise ValueError(f"`model_type` must be one of {MODEL_TYPES}. Received: {model_type!r}")
    for symbol in user_defined_symbols:
        if not symbol or symbol != normalize_text(symbol, lower_case=False, strip_accents=False):
            raise ValueError(f"User-defined symbols must be non-empty and contain no whitespace. Received: {symbol!r}")


def _check_prefix(prefix: str, overwrite: bool) -> str:
    """The prefix, refused early when it names a folder, lies below a file, or would replace a vocabulary."""
    if not prefix or prefix.endswith((os.sep, "/")) or os.path.isdir(prefix) or os.path.basename(prefix) in (".", ".."):
        raise InputFileError(
            f"--model-prefix {prefix!r} names a folder; give a file prefix inside it, such as "
            f"{os.path.join(prefix or '.', 'spiece')!r} (writes spiece.model and spiece.vocab)."
        )
    check_output_path(prefix + ".model", "--model-prefix", folder=False)
    if os.path.exists(prefix + ".model") and not overwrite:
        raise InputFileError(
            f"{prefix}.model already exists; records and models made with it would no longer match a new one. "
            "Choose another --model-prefix, or pass --overwrite to replace it."
        )
    return prefix


def _with_provenance(model_bytes: bytes, prefix: str, paths: list[str]) -> bytes:
    """The model with its recorded training spec naming the real output and inputs.

    The trainer records the scratch prefix and, fed by an iterator, no input;
    `spm_train` would record these two, and they make the file self-describing.
    """
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(model_bytes)
    model.trainer_spec.model_prefix = os.path.basename(prefix)
    model.trainer_spec.input[:] = [os.path.basename(path) for path in paths]
    return model.SerializeToString()


def _check_special_ids(model_bytes: bytes) -> None:
    processor = spm.SentencePieceProcessor(model_proto=model_bytes)
    received = [processor.id_to_piece(index) for index in range(len(SPECIAL_PIECES))]
    expected = [SPECIAL_PIECES[role] for role in ("pad", "unk", "cls", "sep", "mask")]
    if received != expected:  # the trainer's contract; checked, not assumed
        raise RuntimeError(f"SentencePiece put the special pieces at ids 0-4 as {received}, expected {expected}.")
