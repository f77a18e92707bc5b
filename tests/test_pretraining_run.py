"""`albert pretrain`: outputs, preemption and resume, strategies, bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.pretrainer import AlbertPretrainer
from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
from albert_tf.training.pretraining import PretrainingSettings, run_pretraining
from conftest import SHARED_DATA

SPM = SHARED_DATA / "albert" / "spiece.model"
SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
pytestmark = pytest.mark.skipif(not SPM.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")

# albert_tiny's widths, smaller still in depth, with the real 30k vocabulary of the records.
TINY = AlbertConfig(vocab_size=30000, embedding_size=32, hidden_size=64, num_hidden_layers=2,
                    num_attention_heads=2, intermediate_size=128, max_position_embeddings=64)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    output = tmp_path_factory.mktemp("records")
    create_pretraining_data([str(SAMPLE)], str(SPM), str(output),
                            PretrainingDataConfig(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=10),
                            progress=False)
    return output


@pytest.fixture(scope="module")
def tiny_config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "tiny.json"
    TINY.to_json_file(path)
    return path


def pretrain_command(config_file, records, output, *extra):
    return [sys.executable, "-m", "albert_tf.cli.main", "pretrain", "--config", str(config_file),
            "--records", str(records), "--output-dir", str(output), "--no-progress", *extra]


def environment():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def losses(output):
    with open(output / "metrics.csv", newline="") as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle)]


def test_run_writes_backbone_checkpoints_and_metrics(records, tmp_path):
    settings = PretrainingSettings(config=TINY, records=(str(records),), output_dir=str(tmp_path), batch_size=8,
                                   train_steps=6, steps_per_checkpoint=2, keep_checkpoints=2, progress=False,
                                   strategy="one_device", eval_records=(str(records),))
    result = run_pretraining(settings)
    assert result.final_step == 6 and result.resumed_from_step == 0
    backbone = keras.saving.load_model(tmp_path / "backbone.keras")
    assert isinstance(backbone, AlbertBackbone) and backbone.config == TINY
    pretrainer = keras.saving.load_model(tmp_path / "pretrainer.keras")
    assert isinstance(pretrainer, AlbertPretrainer)
    np.testing.assert_array_equal(pretrainer.backbone.token_embedding.embeddings.numpy(),
                                  backbone.token_embedding.embeddings.numpy())
    with open(tmp_path / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Held-out evaluation at every checkpoint: real numbers, not NA.
    assert all(0.0 <= float(row["val_sop_accuracy"]) <= 1.0 and float(row["val_mlm_loss"]) > 0 for row in rows)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["ckpt-4.weights.h5", "ckpt-6.weights.h5"]
    assert len(losses(tmp_path)) == 3
    # The training core's outputs: each row names its step and interval, curves, TensorBoard scalars.
    assert [(int(row["step"]), int(row["epoch"])) for row in rows] == [(2, 0), (4, 1), (6, 2)]
    assert result.history["loss"] == losses(tmp_path)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path / "logs"))
    state = json.loads((tmp_path / "training_state.json").read_text())
    assert state["final_step"] == 6
    assert AlbertConfig.from_json_file(tmp_path / "albert_config.json") == TINY
    # Relaunching a finished run trains no further, and reports the run's metrics.
    again = run_pretraining(settings)
    assert again.final_step == 6 and again.resumed_from_step == 6
    assert again.history["val_sop_accuracy"] == result.history["val_sop_accuracy"]
    assert len(losses(tmp_path)) == 3


@pytest.mark.long
def test_killed_run_resumes_from_last_checkpoint(records, tiny_config_file, tmp_path):
    output = tmp_path / "run"
    command = pretrain_command(tiny_config_file, records, output, "--batch-size", "32", "--train-steps", "90",
                               "--steps-per-checkpoint", "3", "--strategy", "one_device")
    process = subprocess.Popen(command, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metadata = output / "backup" / "training_metadata.json"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if metadata.exists() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    reached = json.loads(metadata.read_text())["epoch"] * 3
    assert 6 <= reached < 90 and not (output / "backbone.keras").exists()

    finished = subprocess.run(command, env=environment(), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    state = json.loads((output / "training_state.json").read_text())
    assert state["resumed_from_step"] >= reached, "resumed, not restarted from zero"
    assert state["final_step"] == 90
    assert f"resumed at step {state['resumed_from_step']}" in finished.stdout


@pytest.mark.long
def test_mirrored_two_cpus_matches_one_device(records, tiny_config_file, tmp_path):
    runs = {}
    for name, extra in (("one", ["--strategy", "one_device"]),
                        ("mirrored", ["--strategy", "mirrored", "--cpu-devices", "2"])):
        output = tmp_path / name
        result = subprocess.run(
            pretrain_command(tiny_config_file, records, output, "--batch-size", "8", "--train-steps", "8",
                             "--steps-per-checkpoint", "2", "--dtype", "float32", *extra),
            env=environment(), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "finished at step 8 in float32: loss" in result.stdout
        runs[name] = losses(output)
        assert json.loads((output / "training_state.json").read_text())["replicas"] == (2 if name == "mirrored" else 1)
    # Same global batch, same data order, float32 by name (`auto`, the default, would train in bfloat16 on a
    # CPU that has it): the curves agree to float32 reduction-order noise.
    np.testing.assert_allclose(runs["mirrored"], runs["one"], rtol=1e-4)
    assert runs["one"][-1] < runs["one"][0]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.long
def test_multi_worker_two_processes_match_one_process_and_only_chief_writes_model(records, tiny_config_file,
                                                                                   tmp_path):
    # float32 by name: `auto`, the default, would train in bfloat16 on a CPU that has it.
    steps = ["--batch-size", "8", "--train-steps", "6", "--steps-per-checkpoint", "2", "--dtype", "float32"]
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    output = tmp_path / "multi"
    processes = []
    for index in range(2):
        env = environment()
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            pretrain_command(tiny_config_file, records, output, *steps, "--strategy", "multi_worker"),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [process.communicate(timeout=300) for process in processes]
    for process, (_, stderr) in zip(processes, results):
        assert process.returncode == 0, stderr[-3000:]
    assert (output / "backbone.keras").exists()
    assert json.loads((output / "training_state.json").read_text())["replicas"] == 2
    worker_dir = output / "workers" / "worker-1"
    assert (worker_dir / "metrics.csv").exists() and not (worker_dir / "backbone.keras").exists()

    # The same global batch of 8 in one process: each worker's replica took
    # half of every batch, so the losses and the trained weights must agree up
    # to float32 reduction order.
    single = tmp_path / "single"
    result = subprocess.run(pretrain_command(tiny_config_file, records, single, *steps, "--strategy", "one_device"),
                            env=environment(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    print("multi-worker losses", losses(output), "one process", losses(single))
    assert len(losses(output)) == 3
    np.testing.assert_allclose(losses(output), losses(single), rtol=1e-5)
    np.testing.assert_allclose(losses(worker_dir), losses(single), rtol=1e-5)
    trained = [keras.saving.load_model(path / "backbone.keras").get_weights() for path in (output, single)]
    for multi_weight, single_weight in zip(*trained):
        np.testing.assert_allclose(multi_weight, single_weight, atol=1e-5)


def test_bad_inputs_give_clear_errors(records, tiny_config_file, tmp_path):
    with pytest.raises(ValueError, match="No record files match"):
        run_pretraining(PretrainingSettings(config=TINY, records=(str(tmp_path / "none-*.tfrecord"),),
                                            output_dir=str(tmp_path / "a"), strategy="one_device"))
    short = TINY.replace(max_position_embeddings=32)
    with pytest.raises(ValueError, match="sequences of 64 tokens .* max_position_embeddings=32"):
        run_pretraining(PretrainingSettings(config=short, records=(str(records),), output_dir=str(tmp_path / "b"),
                                            strategy="one_device"))
    with pytest.raises(ValueError, match="vocab_size=100"):
        run_pretraining(PretrainingSettings(config=TINY.replace(vocab_size=100), records=(str(records),),
                                            output_dir=str(tmp_path / "c"), strategy="one_device"))
    shorter_records = tmp_path / "records32"
    create_pretraining_data([str(SAMPLE)], str(SPM), str(shorter_records),
                            PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=10, dupe_factor=1),
                            progress=False)
    with pytest.raises(ValueError, match="eval records .* max_seq_length=32 but the training records have 64"):
        run_pretraining(PretrainingSettings(config=TINY, records=(str(records),), output_dir=str(tmp_path / "e"),
                                            strategy="one_device", eval_records=(str(shorter_records),)))
    with pytest.raises(ValueError, match="multiple of `steps_per_checkpoint`"):
        PretrainingSettings(config=TINY, records=(str(records),), output_dir="x", train_steps=10,
                            steps_per_checkpoint=3)
    result = subprocess.run(
        pretrain_command(tiny_config_file, records, tmp_path / "d", "--batch-size", "7", "--strategy", "mirrored",
                         "--cpu-devices", "2"),
        env=environment(), capture_output=True, text=True)
    assert result.returncode == 2
    assert "--batch-size 7 is not divisible by the 2 replicas" in result.stderr
    # Keras 3's multi-step loop fails under MirroredStrategy (keras-team/keras#19246): refused before training.
    result = subprocess.run(
        pretrain_command(tiny_config_file, records, tmp_path / "f", "--batch-size", "8", "--strategy", "mirrored",
                         "--cpu-devices", "2", "--steps-per-execution", "2"),
        env=environment(), capture_output=True, text=True)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--steps-per-execution 2 fails under MirroredStrategy" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "f").exists()
