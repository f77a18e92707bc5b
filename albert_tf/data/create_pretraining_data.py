"""Documents -> sharded TFRecord files of SOP (or NSP) pairs with n-gram masking.

Scaling and reproducibility rest on two rules. The corpus is cut into work
units of `documents_per_shard` consecutive documents of one input file, and
unit (file f, block b) is written to `part-fffff-bbbbb.tfrecord`. Within a
unit, document i draws its pairs and masks, pass after pass, from its own
random generator (child i of the seed sequence (seed, f, b)), and the unit's
records are shuffled by the generator of (seed, f, b) itself. Hence

* the same seed gives byte-identical files, whatever `num_workers`;
* a unit's documents can be worked on in pieces by different processes
  (the pieces are the grain of scheduling, the unit that of output): the
  last piece of a run is short, so no process waits long for another;
* `num_workers` processes on one machine, or `num_shards` jobs of a cluster
  array (each taking `shard_index`), split the units without coordinating;
* memory is bounded by the units in flight, not by the corpus;
* a unit's file appears by atomic rename only once complete, so an
  interrupted run resumes by skipping the files that exist; its counts (and
  its size and CRC-32) are saved first (`stats/part-....json`), so the job's
  stats file counts every unit, whether written by this run or an earlier
  one, and a damaged file is written again instead of trusted.

With `num_workers` > 1 pieces are made by worker processes started once that
never import TensorFlow (`albert_tf.data.worker_pool`; records are serialized
by `albert_tf.data.records` without it) and that die with the parent; this
process makes pieces too, and writes each unit's file (its records come
framed: it only shuffles and concatenates them). Test-only kill point of the
parent (`ALBERT_TF_FAULT_AFTER`, see `albert_tf.io_utils.fault_point`):
`create-data:shard-written` (after each published shard).

SOP needs no other document, so units never need to see each other (unlike
the original script, which loads the whole corpus to draw NSP negatives).
NSP (`sentence_task="nsp"`, for the paper's Table 5 ablation) draws its
negatives from the other documents of the same unit, which keeps that rule
(an NSP unit is one piece).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import json
import logging
import os
import zlib
from typing import Iterator, Sequence

import numpy as np

from albert_tf.data.documents import (InvalidUtf8Error, RawDocument, RawWikiPage, ReadStats, read_raw_documents,
                                      wiki_page_sentences)
from albert_tf.data.masking import NgramMasker
from albert_tf.data.next_sentence import NSP_LABEL_MEANING, next_sentence_pairs
from albert_tf.data.records import (example_features, masked_crc32c, pair_input_ids, serialize_examples,
                                    tfrecord_frame)
from albert_tf.data.sentence_order import SOP_LABEL_MEANING, sentence_order_pairs
from albert_tf.data.worker_pool import LightProcessPool
from albert_tf.io_utils import (InputFileError, atomic_write_text, check_input_file, check_output_path, fault_point,
                                first_line)

logger = logging.getLogger(__name__)

METADATA_FILE = "metadata.json"
UNIT_STATS_DIR = "stats"
RECORD_PATTERN = "part-*.tfrecord"
SENTENCE_TASKS = ("sop", "nsp")
RANDOM_STREAMS = "per document: child i of SeedSequence([seed, file, block]); shuffle: its parent"
LABEL_MEANINGS = {"sop": SOP_LABEL_MEANING, "nsp": NSP_LABEL_MEANING}


@dataclasses.dataclass(frozen=True)
class PretrainingDataConfig:
    """How sequences are built and masked (REFERENCE section 2 defaults).

    Args:
        max_seq_length: tokens per sequence, specials included.
        max_predictions_per_seq: cap on masked-LM targets per sequence.
        masked_lm_prob: fraction of real tokens to predict.
        max_ngram: longest masked n-gram, in words.
        short_seq_prob: probability of a shorter random target length.
        dupe_factor: passes over the data, each with different masks.
        documents_per_shard: documents per work unit and output file.
        seed: the seed of everything random.
        sentence_task: `sop` (ALBERT: segments of one document, label 1 =
            swapped) or `nsp` (BERT: label 1 = segment B from another
            document of the same unit; needs `documents_per_shard` >= 2).
    """

    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    max_ngram: int = 3
    short_seq_prob: float = 0.1
    dupe_factor: int = 10
    documents_per_shard: int = 100
    seed: int = 12345
    sentence_task: str = "sop"

    def __post_init__(self):
        if self.sentence_task not in SENTENCE_TASKS:
            raise ValueError(
                f"`sentence_task` must be one of {list(SENTENCE_TASKS)}. "
                f"Received: sentence_task={self.sentence_task!r}"
            )
        if self.sentence_task == "nsp" and self.documents_per_shard < 2:
            raise ValueError(
                "NSP takes negative segments from the other documents of a work unit, so "
                f"`documents_per_shard` must be >= 2. Received: documents_per_shard={self.documents_per_shard}"
            )
        checks = {
            "max_seq_length": self.max_seq_length >= 5,
            "max_predictions_per_seq": self.max_predictions_per_seq >= 1,
            "masked_lm_prob": 0.0 < self.masked_lm_prob < 1.0,
            "max_ngram": self.max_ngram >= 1,
            "short_seq_prob": 0.0 <= self.short_seq_prob <= 1.0,
            "dupe_factor": self.dupe_factor >= 1,
            "documents_per_shard": self.documents_per_shard >= 1,
        }
        limits = {
            "max_seq_length": ">= 5 ([CLS] A [SEP] B [SEP])", "max_predictions_per_seq": ">= 1",
            "masked_lm_prob": "in (0, 1)", "max_ngram": ">= 1", "short_seq_prob": "in [0, 1]",
            "dupe_factor": ">= 1", "documents_per_shard": ">= 1",
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"`{name}` must be {limits[name]}. Received: {name}={getattr(self, name)}")


@dataclasses.dataclass
class ShardStats:
    """Counts for one output file (or a sum of them)."""

    documents: int = 0
    sentences: int = 0
    examples: int = 0
    swapped: int = 0
    random_next: int = 0
    real_tokens: int = 0
    predictions: int = 0
    skipped_lines: int = 0
    resumed_shards: int = 0
    written_shards: int = 0

    def add(self, other: "ShardStats") -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@dataclasses.dataclass(frozen=True)
class _Unit:
    file_index: int
    block_index: int
    documents: list[RawDocument]
    output_path: str


@dataclasses.dataclass(frozen=True)
class _Piece:
    """Consecutive documents of one unit: what one process works on at a time."""

    unit: _Unit  # without its documents: they travel in `documents`
    piece_index: int
    piece_count: int
    first_document: int  # the index in the unit of `documents[0]`
    documents: list[RawDocument]

    def __str__(self) -> str:  # names the piece in a worker's error
        last = self.first_document + len(self.documents) - 1
        return f"documents {self.first_document}-{last} of {self.unit.output_path}"


@dataclasses.dataclass
class _PieceRecords:
    """A piece's examples, serialized and framed as TFRecords, by pass over the data (dupe), in document order.

    Framed where they are made (the CRCs are most of the cost of writing), so the process that writes
    a unit's file only shuffles and concatenates."""

    piece: _Piece  # without its documents
    frames_by_pass: list[list[bytes]]
    stats: ShardStats


def expand_inputs(inputs: Sequence[str]) -> list[str]:
    """Files named directly or by glob pattern, sorted, without duplicates."""
    files: list[str] = []
    for pattern in inputs:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise ValueError(f"No input file matches {pattern!r}")
        for match in matches:
            check_input_file(match, "input file")
            files.append(os.path.abspath(match))
    return sorted(dict.fromkeys(files))


def create_pretraining_data(
    inputs: Sequence[str],
    spm_model: str,
    output_dir: str,
    config: PretrainingDataConfig = PretrainingDataConfig(),
    num_workers: int = 1,
    num_shards: int = 1,
    shard_index: int = 0,
    skip_invalid_utf8: bool = False,
    progress: bool = True,
) -> ShardStats:
    """Writes pretraining records for `inputs` into `output_dir`.

    Args:
        inputs: text files or MediaWiki dumps (plain, `.bz2`, `.gz`) or globs.
        spm_model: the SentencePiece model of the vocabulary.
        output_dir: receives `part-*.tfrecord`, `metadata.json` and a stats file.
        config: sequence and masking settings.
        num_workers: processes on this machine: this one and
            `num_workers - 1` worker processes that do not import TensorFlow.
        num_shards: jobs splitting the work (e.g. a cluster job array).
        shard_index: this job's index in [0, num_shards).
        skip_invalid_utf8: skip (and count) lines that are not UTF-8 instead
            of stopping with an error naming the file and line.
        progress: show a progress bar.

    Returns:
        The counts of this job (documents, examples, ...).
    """
    if num_workers < 1:
        raise ValueError(f"`num_workers` must be >= 1. Received: num_workers={num_workers}")
    if not 0 <= shard_index < num_shards:
        raise ValueError(
            f"`shard_index` must be in [0, num_shards). Received: shard_index={shard_index}, num_shards={num_shards}"
        )
    files = expand_inputs(inputs)
    empty = [path for path in files if os.path.getsize(path) == 0]
    if empty:
        raise InputFileError(f"Input file {empty[0]} is empty; pass files with documents in them.")
    check_input_file(spm_model, "SentencePiece model")
    check_output_path(output_dir, "--output-dir", folder=True)
    with contextlib.ExitStack() as cleanup:
        pool = None
        if num_workers > 1:
            # This process is one of the workers; the others are started first, so
            # that they load while this one checks the vocabulary and inputs.
            pool = cleanup.enter_context(LightProcessPool(num_workers - 1, _WorkerState.create, (spm_model, config)))
        worker_state = _WorkerState.create(spm_model, config)  # fails early on a bad vocabulary
        metadata = _metadata(files, worker_state, config)
        _check_metadata(output_dir, metadata)  # fails early on a folder of other settings
        # No sweeping of leftovers here: jobs of a cluster array share the folder.
        # Each unit's temporary names are fixed, so rewriting a unit replaces what
        # a killed run left of it. The folder is made (metadata first) only when
        # the first shard is ready: a run that fails on its input leaves nothing.
        output_ready = False

        def prepare_output() -> None:
            nonlocal output_ready
            if not output_ready:
                os.makedirs(os.path.join(output_dir, UNIT_STATS_DIR), exist_ok=True)
                _write_or_check_metadata(output_dir, metadata)
                output_ready = True

        stats = ShardStats()
        read_stats = ReadStats()
        units = _units(files, output_dir, config, num_shards, shard_index, skip_invalid_utf8, read_stats, stats)
        pieces = (piece for unit in units for piece in _pieces_of(unit, config))
        made = (pool.imap_unordered(_WorkerState.make_piece, pieces, local=worker_state.make_piece)
                if pool is not None else map(worker_state.make_piece, pieces))
        bar = cleanup.enter_context(contextlib.closing(_progress_bar(progress)))
        # Pieces finish in any order; a unit's file is written once all of its pieces are in.
        unfinished: dict[str, list[_PieceRecords | None]] = {}
        try:
            for piece_records in made:
                piece = piece_records.piece
                parts = unfinished.setdefault(piece.unit.output_path, [None] * piece.piece_count)
                parts[piece.piece_index] = piece_records
                bar.update(piece_records.stats.documents)
                if any(part is None for part in parts):
                    continue
                del unfinished[piece.unit.output_path]
                prepare_output()
                stats.add(_write_unit(piece.unit, parts, config.seed))
                fault_point("create-data:shard-written")
                bar.set_postfix(examples=stats.examples, refresh=False)
        except InvalidUtf8Error as error:
            raise InvalidUtf8Error(f"{error} Or skip such lines with --skip-invalid-utf8.") from None
    stats.skipped_lines = read_stats.skipped_lines
    if stats.examples == 0 and num_shards == 1:
        raise InputFileError(
            f"No pretraining example could be made from {', '.join(files)} ({stats.documents} documents, "
            f"{stats.sentences} sentences): documents need at least two sentences (one per line, a blank line "
            "between documents)."
        )
    prepare_output()  # every unit was already there, or this job of a cluster array had none
    stats_path = os.path.join(output_dir, f"stats-{shard_index:03d}-of-{num_shards:03d}.json")
    atomic_write_text(stats_path, json.dumps(dataclasses.asdict(stats), indent=2) + "\n")
    return stats


def _progress_bar(enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(desc="create-data", unit="doc", disable=not enabled, dynamic_ncols=True)


def _units(files, output_dir, config, num_shards, shard_index, skip_invalid_utf8, read_stats, stats) -> Iterator[_Unit]:
    """Streams this job's work units; units whose file exists are skipped (resume)."""
    by_file = len(files) >= num_shards  # many files: a job reads only its own files
    for file_index, path in enumerate(files):
        if by_file and file_index % num_shards != shard_index:
            continue
        block: list[RawDocument] = []
        block_index = 0
        documents = read_raw_documents(path, "skip" if skip_invalid_utf8 else "raise", read_stats)
        for document in documents:
            block.append(document)
            if len(block) == config.documents_per_shard:
                yield from _unit_if_owned(file_index, block_index, block, output_dir, by_file, num_shards,
                                          shard_index, stats)
                block, block_index = [], block_index + 1
        if block:
            yield from _unit_if_owned(file_index, block_index, block, output_dir, by_file, num_shards,
                                      shard_index, stats)


def _unit_if_owned(file_index, block_index, block, output_dir, by_file, num_shards, shard_index, stats):
    if not by_file and (file_index + block_index) % num_shards != shard_index:
        return
    output_path = os.path.join(output_dir, f"part-{file_index:05d}-{block_index:05d}.tfrecord")
    if os.path.exists(output_path):
        existing, problem = _existing_unit_stats(output_path)
        if existing is not None:
            # Counted as if written now, so the stats file covers every unit.
            stats.add(existing)
            stats.resumed_shards += 1
            return
        # Its bytes are a function of the settings and the input: writing it again restores it.
        logger.warning("%s is damaged (%s); writing it again", output_path, problem)
    yield _Unit(file_index, block_index, list(block), output_path)


def unit_stats_path(record_path: str) -> str:
    """Where the counts of the unit written to `record_path` are kept."""
    name = os.path.basename(record_path).removesuffix(".tfrecord")
    return os.path.join(os.path.dirname(record_path), UNIT_STATS_DIR, f"{name}.json")


# Kept in a unit's stats file beside its counts: what its shard must be to be resumed.
_SHARD_BYTES, _SHARD_CRC32 = "shard_bytes", "shard_crc32"


def _existing_unit_stats(record_path: str) -> tuple[ShardStats | None, str]:
    """The counts of a unit an earlier run wrote, or (None, what is wrong) when its shard cannot be trusted.

    A shard is trusted when its size and CRC-32 are those recorded in its stats file when it was written; with
    a stats file of an older version (no size), when its records frame correctly to the end and their number is
    the recorded one. A shard without a stats file (a folder of an older version, or damage) is not trusted.
    """
    path = unit_stats_path(record_path)
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        size, crc = saved.pop(_SHARD_BYTES, None), saved.pop(_SHARD_CRC32, None)
        counts = ShardStats(**saved)
    except FileNotFoundError:
        return None, f"no counts in {path}"
    except (ValueError, TypeError, AttributeError) as error:  # damaged JSON, unknown or missing fields
        return None, f"{path} is unreadable: {first_line(str(error))}"
    if size is not None:
        actual_size = os.path.getsize(record_path)
        if actual_size != size:
            return None, f"{actual_size} bytes, {size} when written"
        if _file_crc32(record_path) != crc:
            return None, "its CRC-32 differs from the one recorded when it was written"
    else:
        framed = _count_framed_records(record_path)
        if framed != counts.examples:
            return None, (f"{counts.examples} records when written, "
                          f"{'unreadable records' if framed is None else framed} now")
    return dataclasses.replace(counts, written_shards=0, resumed_shards=0, skipped_lines=0), ""


def _file_crc32(path: str) -> int:
    crc = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            crc = zlib.crc32(block, crc)
    return crc


def _count_framed_records(path: str) -> int | None:
    """The number of records of a TFRecord file whose framing and CRCs are intact to the end, else None."""
    count = 0
    with open(path, "rb") as handle:
        while header := handle.read(12):
            if len(header) < 12 or masked_crc32c(header[:8]) != int.from_bytes(header[8:], "little"):
                return None
            length = int.from_bytes(header[:8], "little")
            record, footer = handle.read(length), handle.read(4)
            if len(record) < length or len(footer) < 4 or masked_crc32c(record) != int.from_bytes(footer, "little"):
                return None
            count += 1
    return count


# Work per piece, in characters times passes over the data: enough that handing a piece over
# costs little, small enough that the last piece of a run keeps no process waiting long (~70 ms
# on the 2-core machine of docs/benchmarks.md; a single longer document is a piece of its own).
_PIECE_WORK = 160_000


def _pieces_of(unit: _Unit, config: PretrainingDataConfig) -> list[_Piece]:
    """Cuts a unit into pieces of consecutive documents (the output depends neither on the cut nor on the
    order in which pieces are made), largest first: the last pieces of a run are then a unit's smallest,
    so no process waits long for another at the end."""
    bare_unit = dataclasses.replace(unit, documents=[])
    if config.sentence_task == "nsp":  # negatives come from any document of the unit
        return [_Piece(bare_unit, 0, 1, 0, unit.documents)]
    cuts = []  # (start, stop, work): a piece's documents and their characters x dupe_factor
    start = work = 0
    for index, document in enumerate(unit.documents):
        work += _characters(document) * config.dupe_factor
        if work >= _PIECE_WORK and index + 1 < len(unit.documents):
            cuts.append((start, index + 1, work))
            start, work = index + 1, 0
    cuts.append((start, len(unit.documents), work))
    pieces = [_Piece(bare_unit, index, len(cuts), start, unit.documents[start:stop])
              for index, (start, stop, _) in enumerate(cuts)]
    largest_first = sorted(range(len(cuts)), key=lambda index: -cuts[index][2])  # stable: ties keep their order
    return [pieces[index] for index in largest_first]


def _characters(document: RawDocument) -> int:
    return len(document.wikitext) if isinstance(document, RawWikiPage) else sum(map(len, document))


def _document_generator(seed: int, unit: _Unit, document_index: int) -> np.random.Generator:
    """Document `document_index` of `unit`: its own stream, child of the unit's seed sequence."""
    return np.random.default_rng(np.random.SeedSequence([seed, unit.file_index, unit.block_index],
                                                        spawn_key=(document_index,)))


def _write_unit(unit: _Unit, parts: list[_PieceRecords], seed: int) -> ShardStats:
    """Writes a unit's shard (and its counts) from all of its pieces; returns the counts."""
    stats = ShardStats(written_shards=1)
    for part in parts:
        stats.add(part.stats)
    passes = len(parts[0].frames_by_pass)
    frames = [frame for dupe in range(passes) for part in parts for frame in part.frames_by_pass[dupe]]
    temporary = _temporary_name(unit.output_path)
    stats_path = unit_stats_path(unit.output_path)
    size = crc = 0
    try:
        with open(temporary, "wb") as handle:
            for frame in _shuffled(frames, seed, unit):
                handle.write(frame)
                size, crc = size + len(frame), zlib.crc32(frame, crc)
        # The counts first: a published shard always has them (and its size and CRC, checked on resume).
        with open(_temporary_name(stats_path), "w", encoding="utf-8") as handle:
            handle.write(json.dumps({**dataclasses.asdict(stats), _SHARD_BYTES: size, _SHARD_CRC32: crc}) + "\n")
        os.replace(_temporary_name(stats_path), stats_path)
        os.replace(temporary, unit.output_path)
    finally:
        for path in (temporary, _temporary_name(stats_path)):
            if os.path.exists(path):
                os.remove(path)
    return stats


def _shuffled(frames: list[bytes], seed: int, unit: _Unit) -> Iterator[bytes]:
    """A unit's records in file order: shuffled by the unit's own seed sequence (the documents' parent)."""
    shuffle = np.random.default_rng(np.random.SeedSequence([seed, unit.file_index, unit.block_index]))
    return (frames[index] for index in shuffle.permutation(len(frames)))


@dataclasses.dataclass
class _WorkerState:
    """What a process needs to turn pieces of units into records."""

    spm_model: str
    config: PretrainingDataConfig
    tokenizer: object
    masker: NgramMasker

    @classmethod
    def create(cls, spm_model: str, config: PretrainingDataConfig) -> "_WorkerState":
        from albert_tf.tokenizer import AlbertTokenizer

        tokenizer = AlbertTokenizer(spm_model)
        masker = NgramMasker.for_tokenizer(tokenizer, config.masked_lm_prob, config.max_predictions_per_seq,
                                           config.max_ngram)
        return cls(os.fspath(spm_model), config, tokenizer, masker)

    def make_piece(self, piece: _Piece) -> _PieceRecords:
        """Tokenizes, pairs, masks, serializes and frames one piece's documents, every pass over them."""
        config = self.config
        stats = ShardStats(documents=len(piece.documents))
        documents: list[tuple[int, list[np.ndarray]]] = []  # (index in the unit, sentences' ids)
        for offset, raw in enumerate(piece.documents):
            sentences = wiki_page_sentences(raw) if isinstance(raw, RawWikiPage) else raw
            ids = [np.asarray(self.tokenizer.encode(sentence), dtype=np.int64) for sentence in sentences]
            ids = [sentence for sentence in ids if sentence.size]
            stats.sentences += len(ids)
            if ids:
                documents.append((piece.first_document + offset, ids))

        frames_by_pass: list[list[bytes]] = [[] for _ in range(config.dupe_factor)]
        pending: list[tuple[int, dict[str, np.ndarray]]] = []  # (pass, features) not yet serialized

        def serialize_pending() -> None:
            for (dupe, _), record in zip(pending, _serialize([features for _, features in pending])):
                frames_by_pass[dupe].append(tfrecord_frame(record))
            pending.clear()

        max_num_tokens = config.max_seq_length - 3
        word_starts = self.masker.word_starts
        every_document = [ids for _, ids in documents]
        for position, (document_index, document) in enumerate(documents):
            rng = _document_generator(config.seed, piece.unit, document_index)
            for dupe in range(config.dupe_factor):
                if config.sentence_task == "nsp":
                    pairs = next_sentence_pairs(every_document, position, max_num_tokens, config.short_seq_prob,
                                                word_starts, rng)
                else:
                    pairs = sentence_order_pairs(document, max_num_tokens, config.short_seq_prob, word_starts, rng)
                for pair in pairs:
                    ids, type_ids = pair_input_ids(pair, self.tokenizer.cls_id, self.tokenizer.sep_id)
                    masked = self.masker(ids, rng)
                    pending.append((dupe, example_features(masked, type_ids, pair.label, config.max_seq_length,
                                                           config.max_predictions_per_seq)))
                    if len(pending) == _SERIALIZE_BATCH:
                        serialize_pending()
                    if config.sentence_task == "nsp":
                        stats.random_next += pair.label
                    else:
                        stats.swapped += pair.label
                    stats.real_tokens += ids.size - 3
                    stats.predictions += masked.positions.size
        serialize_pending()
        stats.examples = sum(map(len, frames_by_pass))
        bare_piece = dataclasses.replace(piece, documents=[])
        return _PieceRecords(bare_piece, frames_by_pass, stats)


_SERIALIZE_BATCH = 1024


def _serialize(features: list[dict[str, np.ndarray]]) -> list[bytes]:
    if not features:
        return []
    return serialize_examples({name: np.stack([row[name] for row in features]) for name in features[0]})


def _temporary_name(path: str) -> str:
    """A fixed temporary name per output: a rerun of the unit overwrites what a killed run left."""
    return os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _metadata(files: list[str], state: _WorkerState, config: PretrainingDataConfig) -> dict:
    """What `metadata.json` records of a run's settings, input and vocabulary."""
    tokenizer = state.tokenizer
    metadata = {
        "format": "albert_tf pretraining records",
        "format_version": 1,
        # How examples are drawn; a folder written by albert_tf before 2026-11-30 (one stream per
        # unit) gets other bytes for its remaining units, so resuming it is refused.
        "random_streams": RANDOM_STREAMS,
        "sentence_task": config.sentence_task,
        # Keyed by the record feature it explains (the feature keeps its name for NSP).
        "sentence_order_label": {str(key): value for key, value in LABEL_MEANINGS[config.sentence_task].items()},
        "config": dataclasses.asdict(config),
        "inputs": files,
        "spm_model": os.path.abspath(state.spm_model),
        "spm_model_sha256": _sha256(state.spm_model),
        "vocab_size": tokenizer.vocab_size,
        "special_ids": {"pad": tokenizer.pad_id, "unk": tokenizer.unk_id, "cls": tokenizer.cls_id,
                        "sep": tokenizer.sep_id, "mask": tokenizer.mask_id},
    }
    return metadata


def _check_metadata(output_dir: str, metadata: dict) -> bool:
    """Refuses a folder whose `metadata.json` records other settings; returns whether it has one."""
    path = os.path.join(output_dir, METADATA_FILE)
    if not os.path.exists(path):
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            existing = json.load(handle)
        if not isinstance(existing, dict):
            raise ValueError(f"a JSON {type(existing).__name__}, not an object")
    except ValueError as error:  # bad JSON or bytes that are not UTF-8
        raise ValueError(
            f"{path} is not valid JSON ({first_line(str(error))}): remove the folder {output_dir} or choose "
            "another --output-dir."
        ) from None
    # The vocabulary is compared by content (sha256), not by where it lies.
    differences = _describe_differences(existing, metadata)
    if differences:
        raise ValueError(
            f"{output_dir} holds records made with other settings ({'; '.join(differences)}); "
            "resuming would mix them. Use a new --output-dir, or delete this one to start over."
        )
    return True


def _write_or_check_metadata(output_dir: str, metadata: dict) -> None:
    """Checks `output_dir/metadata.json` against `metadata`, or writes it there (another job of a cluster array
    may have written it since the first check)."""
    if not _check_metadata(output_dir, metadata):
        atomic_write_text(os.path.join(output_dir, METADATA_FILE), json.dumps(metadata, indent=2) + "\n")


# The command-line option of each recorded setting, as a user would change it.
_OPTIONS = {"inputs": "--input", "spm_model_sha256": "--spm-model (its content, sha256)",
            "sentence_task": "--sentence-task"}


def _describe_differences(recorded: dict, current: dict) -> list[str]:
    """`--option recorded -> current` for each setting that differs (the config's fields one by one); other
    recorded fields (format, random streams, the vocabulary's ids) by name."""
    changes = []
    for key in sorted(set(recorded) | set(current)):
        old, new = recorded.get(key), current.get(key)
        if key == "spm_model" or old == new:
            continue
        if key == "config" and isinstance(old, dict) and isinstance(new, dict):
            changes.extend(f"--{name.replace('_', '-')} {_short(old.get(name))} -> {_short(new.get(name))}"
                           for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name))
        elif key in _OPTIONS:
            changes.append(f"{_OPTIONS[key]} {_short(old)} -> {_short(new)}")
        else:
            changes.append(f"{key} differs")
    return changes


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."


def read_metadata(output_dir: str) -> dict:
    """The metadata of a record directory written by `create_pretraining_data`."""
    path = os.path.join(output_dir, METADATA_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise ValueError(f"No {METADATA_FILE} in {output_dir}: is it a record directory made by `albert create-data`?") from None
    except ValueError as error:  # bad JSON or bytes that are not UTF-8
        raise ValueError(f"{path} is not valid JSON ({first_line(str(error))}); make the records again with "
                         "`albert create-data`.") from None
