"""`create-data` workers without TensorFlow: the TF-free record writer, the worker pool, and
byte-identical output for any number of workers."""

from __future__ import annotations

import io
import json
import os
import operator
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data import create_pretraining_data as creation
from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
from albert_tf.data.records import serialize_example, serialize_examples, tfrecord_frame, write_tfrecords
from albert_tf.data.worker_pool import LightProcessPool, WorkerDiedError
from conftest import SHARED_DATA

SPM = SHARED_DATA / "albert" / "spiece.model"
SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
needs_vocabulary = pytest.mark.skipif(not SPM.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")

CONFIG = PretrainingDataConfig(max_seq_length=48, max_predictions_per_seq=6, dupe_factor=3,
                               documents_per_shard=2, seed=11)


def tensorflow_example(row: dict[str, np.ndarray]) -> bytes:
    feature = {}
    for name, values in row.items():
        if values.dtype.kind == "f":
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values.tolist()))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values.tolist()))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def test_serialized_examples_equal_tensorflows_bytes():
    rng = np.random.default_rng(3)
    rows = 50
    features = {
        # Names out of order, so that the sorted (deterministic) map order is exercised.
        "zeta_ids": rng.integers(0, 2**40, (rows, 9)),
        "alpha_weights": rng.normal(size=(rows, 4)).astype(np.float32),
        "mid_ids": rng.integers(-(2**63), 2**63 - 1, (rows, 3), dtype=np.int64),  # negatives take 10 bytes
        "small": rng.integers(0, 200, (rows, 130)),  # payloads past 127 bytes: two-byte lengths
        "empty_ints": np.zeros((rows, 0), dtype=np.int64),
        "empty_floats": np.zeros((rows, 0), dtype=np.float32),
    }
    features["zeta_ids"][0, :3] = [0, 127, 128]
    ours = serialize_examples(features)
    expected = [tensorflow_example({name: values[row] for name, values in features.items()}) for row in range(rows)]
    assert ours == expected
    assert serialize_example({name: values[7] for name, values in features.items()}) == expected[7]


def test_tfrecord_framing_equals_tensorflows_writer(tmp_path):
    records = [b"", b"x", os.urandom(300), os.urandom(70_000)]
    ours = io.BytesIO()
    write_tfrecords(ours, records)
    with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecord")) as writer:
        for record in records:
            writer.write(record)
    assert ours.getvalue() == (tmp_path / "tf.tfrecord").read_bytes()
    assert b"".join(map(tfrecord_frame, records)) == ours.getvalue()  # a file is its frames, concatenated
    (tmp_path / "ours.tfrecord").write_bytes(ours.getvalue())
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(tmp_path / "ours.tfrecord"))] == records


def corpus_of_units(tmp_path, copies: int = 4):
    """Two input files of 3 * copies documents each: 2 * ceil(3 * copies / 2) units of CONFIG."""
    text = SAMPLE.read_text(encoding="utf-8").strip()
    paths = []
    for index in range(2):
        path = tmp_path / f"corpus-{index}.txt"
        path.write_text("\n\n".join([text] * copies) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


def shards(directory):
    return {path.name: path.read_bytes() for path in sorted(directory.glob("part-*.tfrecord"))}


@needs_vocabulary
def test_one_two_and_three_workers_write_identical_bytes(tmp_path):
    inputs = corpus_of_units(tmp_path)
    outputs = {}
    for workers in (1, 2, 3):
        output = tmp_path / f"workers-{workers}"
        stats = create_pretraining_data(inputs, str(SPM), str(output), CONFIG, num_workers=workers, progress=False)
        assert stats.written_shards == 12 and stats.examples > 0
        outputs[workers] = (shards(output), stats)
    one, stats_one = outputs[1]
    assert len(one) == 12
    for workers in (2, 3):
        assert outputs[workers][0] == one, f"{workers} workers wrote other bytes than 1"
        assert outputs[workers][1] == stats_one
    # The shards are real records: TensorFlow reads them.
    first = next(iter(tf.data.TFRecordDataset(str(tmp_path / "workers-1" / "part-00000-00000.tfrecord"))))
    parsed = tf.train.Example.FromString(first.numpy())
    assert len(parsed.features.feature["input_word_ids"].int64_list.value) == CONFIG.max_seq_length


@needs_vocabulary
def test_units_cut_into_pieces_for_different_processes_write_the_bytes_of_whole_units(tmp_path, monkeypatch):
    inputs = corpus_of_units(tmp_path, copies=2)
    config = PretrainingDataConfig(max_seq_length=48, max_predictions_per_seq=6, dupe_factor=3,
                                   documents_per_shard=3, seed=5)
    whole = tmp_path / "whole-units"
    monkeypatch.setattr(creation, "_PIECE_WORK", 10**12)
    unit = creation._Unit(0, 0, list(creation.read_raw_documents(inputs[0]))[:3], "part")
    assert len(creation._pieces_of(unit, config)) == 1
    create_pretraining_data(inputs, str(SPM), str(whole), config, progress=False)

    monkeypatch.setattr(creation, "_PIECE_WORK", 1)  # one document per piece
    assert [len(piece.documents) for piece in creation._pieces_of(unit, config)] == [1, 1, 1]
    for workers in (1, 2):
        pieces = tmp_path / f"pieces-{workers}"
        create_pretraining_data(inputs, str(SPM), str(pieces), config, num_workers=workers, progress=False)
        assert shards(pieces) == shards(whole), f"{workers} workers, one document per piece"
        for name in os.listdir(whole / creation.UNIT_STATS_DIR):
            assert (pieces / creation.UNIT_STATS_DIR / name).read_text() == (
                whole / creation.UNIT_STATS_DIR / name).read_text()


@needs_vocabulary
def test_worker_processes_do_not_import_tensorflow(tmp_path):
    inputs = corpus_of_units(tmp_path, copies=1)
    in_process = tmp_path / "in-process"
    create_pretraining_data(inputs[:1], str(SPM), str(in_process), CONFIG, progress=False)

    output = tmp_path / "pool"
    os.makedirs(output / creation.UNIT_STATS_DIR)
    documents = list(creation.read_raw_documents(inputs[0]))[:2]
    unit = creation._Unit(0, 0, documents, str(output / "part-00000-00000.tfrecord"))
    pieces = [creation._Piece(unit, index, len(documents), index, [document])
              for index, document in enumerate(documents)]
    with LightProcessPool(2, creation._WorkerState.create, (str(SPM), CONFIG)) as pool:
        results = list(pool.imap_unordered(creation._WorkerState.make_piece, pieces))
        loaded = pool.loaded_modules()
    parts = sorted(results, key=lambda part: part.piece.piece_index)
    assert creation._write_unit(unit, parts, CONFIG.seed).examples > 0
    assert (output / "part-00000-00000.tfrecord").read_bytes() == (
        in_process / "part-00000-00000.tfrecord").read_bytes()
    for modules in loaded:
        assert "albert_tf.data.create_pretraining_data" in modules and "sentencepiece" in modules
        heavy = sorted(name for name in modules if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
        assert not heavy, f"a worker imported {heavy[:5]}"
        assert "albert_tf.backbone" not in modules, "albert_tf's package __init__ ran in a worker"


@needs_vocabulary
def test_the_light_bootstrap_alone_keeps_tensorflow_out(tmp_path):
    # The same check from outside any pool: a fresh interpreter that imports the worker modules
    # the way a worker does (albert_tf registered without running its __init__).
    from albert_tf.data import worker_pool

    code = worker_pool._BOOTSTRAP.split("from albert_tf.data.worker_pool import serve")[0] + (
        "import albert_tf.data.create_pretraining_data as creation\n"
        f"creation._WorkerState.create({str(SPM)!r}, creation.PretrainingDataConfig())\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, json.dumps(sys.path), worker_pool._PACKAGE_DIR],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


@needs_vocabulary
def test_an_error_in_a_worker_is_raised_in_the_parent(tmp_path):
    documents = list(creation.read_raw_documents(str(SAMPLE)))[:1] + [["a sentence", 17]]
    unit = creation._Unit(0, 0, documents, str(tmp_path / "part-00000-00000.tfrecord"))
    pieces = [creation._Piece(unit, index, 2, index, [document]) for index, document in enumerate(documents)]
    with LightProcessPool(1, creation._WorkerState.create, (str(SPM), CONFIG)) as pool:
        with pytest.raises(ValueError, match="expects str .* Received: int") as raised:
            list(pool.imap_unordered(creation._WorkerState.make_piece, pieces))
    assert any("in worker process" in note for note in getattr(raised.value, "__notes__", []))


@needs_vocabulary
def test_a_killed_worker_is_reported_not_waited_for(tmp_path):
    documents = list(creation.read_raw_documents(str(SAMPLE)))[:1]
    unit = creation._Unit(0, 0, documents, str(tmp_path / "part-00000-00000.tfrecord"))
    piece = creation._Piece(unit, 0, 1, 0, documents)
    with LightProcessPool(1, creation._WorkerState.create, (str(SPM), CONFIG)) as pool:
        os.kill(pool.pids[0], signal.SIGKILL)
        with pytest.raises(WorkerDiedError,
                           match=r"ended \(exit code -9\) while working on documents 0-0 of .*part-00000-00000"):
            list(pool.imap_unordered(creation._WorkerState.make_piece, [piece]))


def test_items_and_results_larger_than_a_pipe_flow_with_two_in_flight():
    # The pool sends a worker its next item before reading its last result; with both larger than a
    # pipe's buffer (64 KiB on Linux) that deadlocks unless the worker reads requests ahead.
    items = [os.urandom(1 << 20) for _ in range(4)]
    results = []
    with LightProcessPool(1, bytes) as pool:  # state b"", and b"" + item is the item
        consumer = threading.Thread(target=lambda: results.extend(pool.imap_unordered(operator.add, items)),
                                    daemon=True)
        consumer.start()
        consumer.join(timeout=60)
        if consumer.is_alive():
            pool.close(kill=True)
            pytest.fail("the pool and its worker wait on each other")
    assert sorted(results) == sorted(items)


def test_the_last_items_go_one_at_a_time_to_whichever_process_is_free():
    # Four items for a worker (1 s each) and this process (0.2 s each). The worker gets one and
    # waits with it; a second item queued in its pipe (as in the middle of a long run) would keep it
    # busy for another second after this process had run out of items.
    import pool_tasks

    def here(seconds):
        time.sleep(seconds / 5)
        return "this process"

    with LightProcessPool(1, str) as pool:
        results = list(pool.imap_unordered(pool_tasks.sleep_then_name, [1.0] * 4, local=here))
    assert sorted(results) == ["this process"] * 3 + ["worker"]


def test_shared_iterator_raises_an_items_error_in_its_turn():
    from albert_tf.data.worker_pool import _SharedIterator

    def items():
        yield from (1, 2, 3)
        raise ValueError("line 4 is not UTF-8")

    source = _SharedIterator(items(), lookahead=5)
    assert next(source) == 1 and source.ending()  # everything is read ahead: the end is in sight
    assert [next(source), next(source)] == [2, 3]
    with pytest.raises(ValueError, match="line 4"):
        next(source)
    assert list(source) == []
    long_source = _SharedIterator(iter(range(10)), lookahead=2)
    assert [next(long_source) for _ in range(7)] == list(range(7)) and not long_source.ending()
    assert next(long_source) == 7 and long_source.ending()


def test_a_units_pieces_come_largest_first_and_cover_its_documents(tmp_path, monkeypatch):
    documents = [["short one.", "two."], ["a much longer sentence " * 20, "and more " * 30], ["mid " * 10, "x."]]
    unit = creation._Unit(0, 0, documents, str(tmp_path / "part-00000-00000.tfrecord"))
    monkeypatch.setattr(creation, "_PIECE_WORK", 1)  # one document per piece
    pieces = creation._pieces_of(unit, CONFIG)
    assert [piece.first_document for piece in pieces] == [1, 2, 0]  # by size, largest first
    by_index = sorted(pieces, key=lambda piece: piece.piece_index)
    assert [document for piece in by_index for document in piece.documents] == documents
