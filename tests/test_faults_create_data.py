"""Fault injection for `albert create-data`: a real process killed after a shard, rerun;
and a killed parent whose worker processes must not live on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from albert_tf.io_utils import FAULT_ENVIRONMENT_VARIABLE
from conftest import SHARED_DATA

SPM = SHARED_DATA / "albert" / "spiece.model"
SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
pytestmark = pytest.mark.skipif(not SPM.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")


def command(output, *extra):
    return [sys.executable, "-m", "albert_tf.cli.main", "create-data", "--input", str(SAMPLE), "--spm-model",
            str(SPM), "--output-dir", str(output), "--max-seq-length", "32", "--max-predictions-per-seq", "5",
            "--dupe-factor", "1", "--documents-per-shard", "1", "--no-progress", *extra]


def environment(fault=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop(FAULT_ENVIRONMENT_VARIABLE, None)
    if fault:
        env[FAULT_ENVIRONMENT_VARIABLE] = fault
    return env


def shards(directory):
    return {path.name: path.read_bytes() for path in sorted(directory.glob("part-*.tfrecord"))}


@pytest.mark.long
def test_killed_after_a_shard_rerun_completes_and_counts_every_shard(tmp_path):
    reference = tmp_path / "reference"
    assert subprocess.run(command(reference), env=environment(), capture_output=True).returncode == 0
    expected = json.loads((reference / "stats-000-of-001.json").read_text())
    assert expected["written_shards"] >= 3

    output = tmp_path / "killed"
    killed = subprocess.run(command(output), env=environment("create-data:shard-written@2"), capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert len(shards(output)) == 2 and not (output / "stats-000-of-001.json").exists()

    rerun = subprocess.run(command(output), env=environment(), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert shards(output) == shards(reference), "the resumed folder is byte-identical to an uninterrupted run"
    stats = json.loads((output / "stats-000-of-001.json").read_text())
    assert stats["resumed_shards"] == 2 and stats["written_shards"] == expected["written_shards"] - 2
    for key in ("documents", "sentences", "examples", "swapped", "real_tokens", "predictions"):
        assert stats[key] == expected[key], key
    assert not list(output.rglob(".tmp-*"))

    # A rerun of a complete folder writes nothing and still reports every example.
    again = subprocess.run(command(output), env=environment(), capture_output=True, text=True)
    assert again.returncode == 0
    assert json.loads((output / "stats-000-of-001.json").read_text())["examples"] == expected["examples"]
    assert f"wrote {expected['examples']:,} examples" in again.stdout


def test_workers_die_with_a_killed_parent(tmp_path):
    # The 3-document sample 300 times over, read 50 times: far more work than starting up, so the
    # run is still busy when it is killed (the sample alone finished first once the workers stopped
    # importing TensorFlow). Three workers: this process and two worker processes.
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join([SAMPLE.read_text(encoding="utf-8").strip()] * 300) + "\n", encoding="utf-8")
    arguments = command(tmp_path / "out", "--num-workers", "3", "--dupe-factor", "50")
    arguments[arguments.index(str(SAMPLE))] = str(corpus)
    process = subprocess.Popen(arguments, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(process.pid)
    deadline = time.time() + 240
    workers = []
    while time.time() < deadline and process.poll() is None:
        workers = parent.children(recursive=True)
        # Both worker processes started and working.
        if len(workers) >= 2 and list((tmp_path / "out").glob("part-*.tfrecord")):
            break
        time.sleep(0.2)
    try:
        assert process.poll() is None and len(workers) >= 2, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, f"processes outlived their parent: {[worker.cmdline()[-3:] for worker in alive]}"
    finally:
        for leftover in [process, *workers]:
            try:
                leftover.kill()
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
