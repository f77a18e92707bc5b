"""`create_pretraining_data` end to end on real text and the real ALBERT vocabulary."""

from __future__ import annotations

import bz2
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data import create_pretraining_data as creation
from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
from albert_tf.data.pipeline import pretraining_dataset
from albert_tf.tokenizer import AlbertTokenizer
from conftest import SHARED_DATA, one_line_error

SPM = SHARED_DATA / "albert" / "spiece.model"
SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
WIKI_DUMP = SHARED_DATA / "corpus" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
pytestmark = pytest.mark.skipif(not SPM.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")

CONFIG = PretrainingDataConfig(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=40,
                               documents_per_shard=1, seed=7)


@pytest.fixture(scope="module")
def tokenizer():
    return AlbertTokenizer(SPM)


@pytest.fixture(scope="module")
def records_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("records")
    create_pretraining_data([str(SAMPLE)], str(SPM), str(output), CONFIG, progress=False)
    return output


def read_records(directory):
    files = sorted(directory.glob("part-*.tfrecord"))
    dataset = pretraining_dataset([str(f) for f in files], batch_size=1_000_000, is_training=False)
    return {name: value.numpy() for name, value in next(iter(dataset)).items()}


def document_streams(tokenizer):
    """Each document of the sample as one array of ids."""
    streams, current = [], []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines() + [""]:
        if line.strip():
            current.extend(tokenizer.encode(line))
        elif current:
            streams.append(np.array(current))
            current = []
    return streams


def contains(stream, segment):
    if segment.size > stream.size:
        return False
    windows = np.lib.stride_tricks.sliding_window_view(stream, segment.size)
    return bool((windows == segment).all(axis=1).any())


def test_record_layout_and_statistics(records_dir, tokenizer):
    records = read_records(records_dir)
    ids, mask, types = records["input_word_ids"], records["input_mask"], records["input_type_ids"]
    count = ids.shape[0]
    assert count > 300 and ids.shape[1] == 64 and records["masked_lm_positions"].shape[1] == 10
    assert 0.43 < records["sentence_order_label"].mean() < 0.57

    lengths = mask.sum(axis=1)
    real_tokens = predictions = 0
    for row in range(count):
        length = lengths[row]
        assert np.all(mask[row, :length] == 1) and np.all(mask[row, length:] == 0)
        assert np.all(ids[row, length:] == tokenizer.pad_id) and np.all(types[row, length:] == 0)
        assert ids[row, 0] == tokenizer.cls_id
        separators = np.flatnonzero(ids[row, :length] == tokenizer.sep_id)
        assert separators.size == 2 and separators[1] == length - 1
        # Segment ids: 0 through the first [SEP], 1 after it.
        assert np.all(types[row, :separators[0] + 1] == 0) and np.all(types[row, separators[0] + 1:length] == 1)
        weights = records["masked_lm_weights"][row]
        positions = records["masked_lm_positions"][row][weights > 0]
        assert positions.size >= 1 and np.all(positions < length)
        assert not np.isin(positions, [0, separators[0], separators[1]]).any(), "no prediction on [CLS]/[SEP]"
        assert np.all(weights[positions.size:] == 0)
        real_tokens += length - 3
        predictions += positions.size
    assert 0.13 < predictions / real_tokens < 0.17


def test_pairs_are_consecutive_text_in_the_labelled_order(records_dir, tokenizer):
    records = read_records(records_dir)
    streams = document_streams(tokenizer)
    checked = {0: 0, 1: 0}
    for row in range(records["input_word_ids"].shape[0]):
        ids = records["input_word_ids"][row].copy()
        weights = records["masked_lm_weights"][row] > 0
        ids[records["masked_lm_positions"][row][weights]] = records["masked_lm_ids"][row][weights]
        length = records["input_mask"][row].sum()
        if length - 3 >= CONFIG.max_seq_length - 3:
            continue  # truncated at the ends: the join is still exact, but skip for a clean check
        first_sep = int(np.flatnonzero(ids == tokenizer.sep_id)[0])
        segment_a, segment_b = ids[1:first_sep], ids[first_sep + 1:length - 1]
        label = int(records["sentence_order_label"][row])
        original_order = np.concatenate([segment_b, segment_a] if label == 1 else [segment_a, segment_b])
        assert any(contains(stream, original_order) for stream in streams), "one document, claimed order"
        checked[label] += 1
    assert checked[0] > 30 and checked[1] > 30  # about 95 rows in all; many of each label


def test_same_seed_identical_bytes_and_worker_count_invariance(records_dir, tmp_path):
    again = tmp_path / "again"
    create_pretraining_data([str(SAMPLE)], str(SPM), str(again), CONFIG, progress=False)
    parallel = tmp_path / "parallel"
    create_pretraining_data([str(SAMPLE)], str(SPM), str(parallel), CONFIG, num_workers=2, progress=False)
    names = sorted(p.name for p in records_dir.glob("part-*.tfrecord"))
    assert len(names) == 3
    for other in (again, parallel):
        assert sorted(p.name for p in other.glob("part-*.tfrecord")) == names
        for name in names:
            assert (other / name).read_bytes() == (records_dir / name).read_bytes()
    other_seed = tmp_path / "other_seed"
    create_pretraining_data([str(SAMPLE)], str(SPM), str(other_seed),
                            PretrainingDataConfig(**{**CONFIG.__dict__, "seed": 8}), progress=False)
    assert (other_seed / names[0]).read_bytes() != (records_dir / names[0]).read_bytes()


def record_names(directory):
    return {path.name for path in directory.glob("part-*.tfrecord")}


def serialized_records(directory) -> collections.Counter:
    """Every record of the folder's shards as serialized bytes, counted (a multiset)."""
    return collections.Counter(record.numpy() for path in sorted(directory.glob("part-*.tfrecord"))
                               for record in tf.data.TFRecordDataset(str(path)))


def test_cluster_shards_partition_the_work(records_dir, tmp_path):
    single = serialized_records(records_dir)
    # Jobs each in their own folder: disjoint work whose union is the single run's records, byte for byte.
    jobs = []
    for shard_index in range(2):
        output = tmp_path / f"job-{shard_index}"
        create_pretraining_data([str(SAMPLE)], str(SPM), str(output), CONFIG,
                                num_shards=2, shard_index=shard_index, progress=False)
        jobs.append(output)
    names = [record_names(job) for job in jobs]
    assert names[0] and names[1] and not names[0] & names[1]
    assert names[0] | names[1] == record_names(records_dir)
    union = serialized_records(jobs[0]) + serialized_records(jobs[1])
    missing, extra = single - union, union - single
    assert not missing and not extra, (f"{sum(missing.values())} of the single run's {sum(single.values())} records "
                                       f"missing from the jobs' union, {sum(extra.values())} not in it")
    # A job array sharing one folder, as on a cluster: the same files, byte for byte.
    for shard_index in range(2):
        create_pretraining_data([str(SAMPLE)], str(SPM), str(tmp_path / "split"), CONFIG,
                                num_shards=2, shard_index=shard_index, progress=False)
    assert record_names(tmp_path / "split") == record_names(records_dir)
    for name in record_names(records_dir):
        assert (tmp_path / "split" / name).read_bytes() == (records_dir / name).read_bytes(), name
    assert (tmp_path / "split" / "stats-000-of-002.json").exists()
    assert (tmp_path / "split" / "stats-001-of-002.json").exists()


def test_interrupted_run_leaves_no_complete_looking_shard_and_resumes(tmp_path, monkeypatch, records_dir):
    output = tmp_path / "interrupted"
    first_shard = records_dir / "part-00000-00000.tfrecord"
    first_shard_examples = sum(1 for _ in tf.data.TFRecordDataset(str(first_shard)))
    calls = {"count": 0}
    original = creation._shuffled

    def failing(frames, seed, unit):  # the records of each unit's file, as they are written
        for frame in original(frames, seed, unit):
            calls["count"] += 1
            if calls["count"] > first_shard_examples + 5:  # inside the second shard
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(creation, "_shuffled", failing)
    with pytest.raises(KeyboardInterrupt):
        create_pretraining_data([str(SAMPLE)], str(SPM), str(output), CONFIG, progress=False)
    finished = {p.name for p in output.glob("part-*.tfrecord")}
    assert finished == {first_shard.name}
    assert not list(output.glob("*.incomplete"))
    # A temporary left by a killed process is neither read as a shard nor an obstacle.
    (output / "part-00000-00001.tfrecord.incomplete").write_bytes(b"half a record")
    from albert_tf.data.pipeline import record_files
    assert [os.path.basename(f) for f in record_files(str(output))] == [first_shard.name]
    for name in finished:  # whatever exists is whole
        assert (output / name).read_bytes() == (records_dir / name).read_bytes()
    monkeypatch.setattr(creation, "_shuffled", original)
    stats = create_pretraining_data([str(SAMPLE)], str(SPM), str(output), CONFIG, progress=False)
    assert stats.resumed_shards == len(finished) and stats.written_shards == 3 - len(finished)
    for path in records_dir.glob("part-*.tfrecord"):
        assert (output / path.name).read_bytes() == path.read_bytes()


def create_data_command(inputs, output):
    return [sys.executable, "-m", "albert_tf.cli.main", "create-data", "--input", str(inputs), "--spm-model", str(SPM),
            "--output-dir", str(output), "--max-seq-length", str(CONFIG.max_seq_length),
            "--max-predictions-per-seq", str(CONFIG.max_predictions_per_seq), "--dupe-factor", str(CONFIG.dupe_factor),
            "--documents-per-shard", "1", "--seed", str(CONFIG.seed), "--no-progress"]


@pytest.mark.long
def test_killed_create_data_process_resumes_to_the_uninterrupted_bytes(tmp_path):
    # 36 documents, one unit each: a few seconds of work, a wide window to kill in.
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join([SAMPLE.read_text(encoding="utf-8").strip()] * 12) + "\n", encoding="utf-8")
    uninterrupted = tmp_path / "uninterrupted"
    create_pretraining_data([str(corpus)], str(SPM), str(uninterrupted), CONFIG, progress=False)
    expected = record_names(uninterrupted)
    assert len(expected) == 36

    output = tmp_path / "killed"
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    process = subprocess.Popen(create_data_command(corpus, output), env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None and len(record_names(output)) < 2:
        time.sleep(0.005)
    assert process.poll() is None, "create-data ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = record_names(output)
    assert 2 <= len(finished) < len(expected), f"killed with {len(finished)} of {len(expected)} shards written"
    from albert_tf.data.pipeline import record_files
    assert {os.path.basename(f) for f in record_files(str(output))} == finished  # no half-written shard is read
    for name in finished:
        assert (output / name).read_bytes() == (uninterrupted / name).read_bytes(), name

    resumed = subprocess.run(create_data_command(corpus, output), env=environment, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{len(finished)} already present" in resumed.stdout
    assert record_names(output) == expected
    for name in expected:
        assert (output / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    assert serialized_records(output) == serialized_records(uninterrupted)


def test_resume_with_other_settings_is_refused(records_dir):
    changed = PretrainingDataConfig(**{**CONFIG.__dict__, "max_seq_length": 128})
    with pytest.raises(ValueError, match="other settings \\(--max-seq-length 64 -> 128\\)"):
        create_pretraining_data([str(SAMPLE)], str(SPM), str(records_dir), changed, progress=False)


def test_resume_with_other_settings_names_each_changed_option(records_dir, capsys):
    error = one_line_error(capsys, ["create-data", "--input", str(SAMPLE), "--spm-model", str(SPM), "--output-dir",
                               str(records_dir), "--max-seq-length", "32", "--max-predictions-per-seq", "10",
                               "--dupe-factor", "40", "--documents-per-shard", "1", "--seed", "8", "--no-progress"])
    assert "--max-seq-length 64 -> 32" in error and "--seed 7 -> 8" in error and "--output-dir" in error
    assert "config differ" not in error




def copy_of(records_dir, target):
    shutil.copytree(records_dir, target)
    return target


def assert_same_records(output, fresh):
    names = record_names(fresh)
    assert record_names(output) == names
    for name in names:
        assert (output / name).read_bytes() == (fresh / name).read_bytes(), name


def test_truncated_shard_is_rewritten_to_the_bytes_of_a_fresh_run(records_dir, tmp_path, caplog):
    output = copy_of(records_dir, tmp_path / "truncated")
    shard = output / "part-00000-00001.tfrecord"
    shard.write_bytes(shard.read_bytes()[:5000])
    stats = create_pretraining_data([str(SAMPLE)], str(SPM), str(output), CONFIG, progress=False)
    assert stats.written_shards == 1 and stats.resumed_shards == 2
    assert str(shard) in caplog.text and "damaged" in caplog.text
    assert_same_records(output, records_dir)


def test_shard_with_one_flipped_byte_is_rewritten(records_dir, tmp_path):
    output = copy_of(records_dir, tmp_path / "flipped")
    shard = output / "part-00000-00002.tfrecord"
    damaged = bytearray(shard.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01  # same size, one bit off
    shard.write_bytes(bytes(damaged))
    stats = create_pretraining_data([str(SAMPLE)], str(SPM), str(output), CONFIG, progress=False)
    assert stats.written_shards == 1 and stats.resumed_shards == 2
    assert_same_records(output, records_dir)


def test_shard_without_its_stats_entry_is_rewritten(records_dir, tmp_path):
    output = copy_of(records_dir, tmp_path / "no-stats")
    (output / creation.UNIT_STATS_DIR / "part-00000-00000.json").unlink()
    (output / "part-00000-00000.tfrecord").write_bytes(b"")
    stats = create_pretraining_data([str(SAMPLE)], str(SPM), str(output), CONFIG, progress=False)
    assert stats.written_shards == 1 and stats.resumed_shards == 2
    assert_same_records(output, records_dir)


def test_shards_of_older_stats_files_are_checked_by_their_records(records_dir, tmp_path):
    # Stats files written before the shard's size and CRC were kept: an intact shard is resumed, a truncated
    # one (its records no longer frame to the end) is written again.
    output = copy_of(records_dir, tmp_path / "older")
    for path in (output / creation.UNIT_STATS_DIR).glob("*.json"):
        saved = json.loads(path.read_text())
        saved.pop("shard_bytes", None), saved.pop("shard_crc32", None)
        path.write_text(json.dumps(saved) + "\n")
    shard = output / "part-00000-00000.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-3])
    fresh_stats = json.loads((records_dir / "stats-000-of-001.json").read_text())
    stats = create_pretraining_data([str(SAMPLE)], str(SPM), str(output), CONFIG, progress=False)
    assert stats.written_shards == 1 and stats.resumed_shards == 2
    assert stats.examples == fresh_stats["examples"]
    assert_same_records(output, records_dir)


def test_damaged_metadata_names_the_file_and_the_fix(records_dir, tmp_path, capsys):
    output = copy_of(records_dir, tmp_path / "bad-metadata")
    metadata = output / "metadata.json"
    metadata.write_bytes(metadata.read_bytes()[:100])
    error = one_line_error(capsys, ["create-data", "--input", str(SAMPLE), "--spm-model", str(SPM), "--output-dir",
                               str(output), "--max-seq-length", "64", "--no-progress"])
    assert f"{metadata} is not valid JSON" in error and "--output-dir" in error


@pytest.mark.skipif(not WIKI_DUMP.exists(), reason="needs ../shared/data (Wikipedia dump sample)")
def test_failed_first_run_on_a_truncated_bz2_leaves_no_output(tmp_path, capsys):
    truncated = tmp_path / "truncated.xml.bz2"
    truncated.write_bytes(WIKI_DUMP.read_bytes()[:300])
    output = tmp_path / "out"
    error = one_line_error(capsys, ["create-data", "--input", str(truncated), "--spm-model", str(SPM), "--output-dir",
                               str(output), "--no-progress"])
    assert str(truncated) in error
    assert not output.exists(), sorted(str(path) for path in output.rglob("*"))


def test_resuming_a_folder_of_the_earlier_random_streams_is_refused(records_dir, tmp_path):
    # Folders written before each document had its own stream: their missing units would be drawn
    # from other streams than their written ones.
    earlier = tmp_path / "earlier"
    shutil.copytree(records_dir, earlier)
    metadata = json.loads((earlier / "metadata.json").read_text())
    del metadata["random_streams"]
    (earlier / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match="other settings \\(random_streams differs\\)"):
        create_pretraining_data([str(SAMPLE)], str(SPM), str(earlier), CONFIG, progress=False)


def test_metadata_records_label_meaning(records_dir):
    metadata = json.loads((records_dir / "metadata.json").read_text())
    assert metadata["sentence_task"] == "sop"
    assert metadata["sentence_order_label"]["1"].startswith("swapped")
    assert metadata["config"]["max_seq_length"] == 64 and metadata["vocab_size"] == 30000


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="Input file not found: .*missing.txt"):
        create_pretraining_data([str(tmp_path / "missing.txt")], str(SPM), str(tmp_path / "out"), CONFIG)
    with pytest.raises(ValueError, match="No input file matches"):
        create_pretraining_data([str(tmp_path / "*.nothing")], str(SPM), str(tmp_path / "out"), CONFIG)

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Fine line one.\nA caf\u00e9 line two.\n\nAnother document here.\nIts second line.\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt:2: not valid UTF-8.*--skip-invalid-utf8"):
        create_pretraining_data([str(latin1)], str(SPM), str(tmp_path / "out_latin1"), CONFIG, progress=False)
    stats = create_pretraining_data([str(latin1)], str(SPM), str(tmp_path / "out_skip"), CONFIG,
                                    skip_invalid_utf8=True, progress=False)
    assert stats.skipped_lines == 1 and stats.documents == 2 and stats.examples > 0

    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n   \n\n")
    # Issue 20 item 10: no example from the input is an error, not a silent success.
    with pytest.raises(ValueError, match="No pretraining example could be made from .*empty.txt"):
        create_pretraining_data([str(empty)], str(SPM), str(tmp_path / "out_empty"), CONFIG, progress=False)

    single = tmp_path / "single.txt"
    single.write_text("Just one sentence in this document.\n\nword\n")
    stats = create_pretraining_data([str(single)], str(SPM), str(tmp_path / "out_single"), CONFIG, progress=False)
    assert stats.documents == 2 and stats.examples == CONFIG.dupe_factor, "split sentence kept, one word dropped"

    with pytest.raises(ValueError, match="max_seq_length"):
        PretrainingDataConfig(max_seq_length=4)
    with pytest.raises(ValueError, match="shard_index"):
        create_pretraining_data([str(SAMPLE)], str(SPM), str(tmp_path / "out"), CONFIG, num_shards=2, shard_index=2)


def test_vocabulary_without_mask_is_refused(tmp_path):
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        input=str(SAMPLE), model_prefix=str(tmp_path / "plain"), vocab_size=100, model_type="unigram",
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols="[CLS],[SEP]", minloglevel=2,
    )
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        create_pretraining_data([str(SAMPLE)], str(tmp_path / "plain.model"), str(tmp_path / "out"), CONFIG)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


WIKI_XML = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">
<page><title>Alpha</title><ns>0</ns><revision><text>'''Alpha''' is the first letter of the [[Greek alphabet]].
It was derived from the Phoenician letter aleph.<ref>Some citation, 1990.</ref> In 1990, it was still in use everywhere.

== References ==
* A book that should not appear in the output at all.
</text></revision></page>
<page><title>Beta</title><ns>0</ns><redirect title="B" /><revision><text>#REDIRECT [[B]]</text></revision></page>
<page><title>Talk:Alpha</title><ns>1</ns><revision><text>A talk page that must be skipped entirely.</text></revision></page>
<page><title>Gamma</title><ns>0</ns><revision><text>Gamma is the third letter of the Greek alphabet in order.
It represents a voiced velar stop in ancient Greek speech. [[File:Gamma.svg|thumb|A caption to drop]]
</text></revision></page>
</mediawiki>
"""


def test_wikipedia_dump_bz2(tmp_path):
    from albert_tf.data.documents import read_documents

    dump = tmp_path / "enwiki-test-pages-articles.xml.bz2"
    dump.write_bytes(bz2.compress(WIKI_XML.encode("utf-8")))
    documents = list(read_documents(dump))
    assert len(documents) == 2
    text = " ".join(documents[0])
    assert documents[0][0].startswith("Alpha is the first letter")
    assert "citation" not in text and "should not appear" not in text and "aleph." in text
    assert "caption" not in " ".join(documents[1])
    stats = create_pretraining_data([str(dump)], str(SPM), str(tmp_path / "out"), CONFIG, progress=False)
    assert stats.documents == 2 and stats.examples > 0


def test_dynamic_masking_redraws_masks_over_the_same_text(records_dir, tokenizer):
    from albert_tf.data.masking import NgramMasker

    masker = NgramMasker.for_tokenizer(tokenizer, max_predictions_per_seq=10)
    files = [str(p) for p in sorted(records_dir.glob("part-*.tfrecord"))]
    static = next(iter(pretraining_dataset(files, 64, is_training=False)))
    dynamic = next(iter(pretraining_dataset(files, 64, is_training=False, dynamic_masker=masker, seed=3)))

    def originals(batch):
        ids = batch["input_word_ids"].numpy().copy()
        for row in range(ids.shape[0]):
            real = batch["masked_lm_weights"].numpy()[row] > 0
            ids[row, batch["masked_lm_positions"].numpy()[row, real]] = batch["masked_lm_ids"].numpy()[row, real]
        return ids

    np.testing.assert_array_equal(originals(static), originals(dynamic))
    assert not np.array_equal(static["masked_lm_positions"].numpy(), dynamic["masked_lm_positions"].numpy())
    assert dynamic["input_word_ids"].dtype == tf.int32 and dynamic["masked_lm_weights"].dtype == tf.float32


def test_pipeline_training_mode_and_input_context(records_dir):
    files = [str(p) for p in sorted(records_dir.glob("part-*.tfrecord"))]
    batch = next(iter(pretraining_dataset(files, 8, seed=1)))
    assert batch["input_word_ids"].shape == (8, 64) and batch["sentence_order_label"].shape == (8,)
    seen = []
    for pipeline_id in range(3):
        context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=pipeline_id)
        dataset = pretraining_dataset(files, 1000, is_training=False, input_context=context)
        seen.append({row.tobytes() for row in next(iter(dataset))["input_word_ids"].numpy()})
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2]), "each pipeline reads its own files"
    with pytest.raises(ValueError, match="No record files match"):
        pretraining_dataset(os.path.join(str(records_dir), "nothing-*.tfrecord"), 8)
