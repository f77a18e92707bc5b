"""The oneDNN hint: said on Linux x86 CPUs where TensorFlow left oneDNN off, and the variable it names works."""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys

import pytest

from albert_tf.training import cpu_kernels, trainer


def _machine(monkeypatch, system="Linux", machine="x86_64", onednn=False, gpus=()):
    monkeypatch.delenv(cpu_kernels.ONEDNN_VARIABLE, raising=False)
    monkeypatch.setattr(cpu_kernels.platform, "system", lambda: system)
    monkeypatch.setattr(cpu_kernels.platform, "machine", lambda: machine)
    monkeypatch.setattr(cpu_kernels, "onednn_enabled", lambda: onednn)
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: list(gpus) if kind == "GPU" else [])


def test_the_hint_names_the_variable_where_oneDNN_is_off_on_linux_x86(monkeypatch):
    _machine(monkeypatch)
    assert "TF_ENABLE_ONEDNN_OPTS=1" in cpu_kernels.onednn_hint()


@pytest.mark.parametrize("machine", [dict(onednn=True), dict(onednn=None), dict(machine="aarch64"),
                                     dict(system="Darwin"), dict(gpus=["/physical_device:GPU:0"])])
def test_no_hint_where_oneDNN_is_on_unknown_elsewhere_or_a_gpu_trains(monkeypatch, machine):
    _machine(monkeypatch, **machine)
    assert cpu_kernels.onednn_hint() is None


@pytest.mark.parametrize("choice", ["0", "1"])
def test_no_hint_once_the_user_chose_either_way(monkeypatch, choice):
    _machine(monkeypatch)
    monkeypatch.setenv(cpu_kernels.ONEDNN_VARIABLE, choice)
    assert cpu_kernels.onednn_hint() is None


def test_a_finished_run_logs_the_hint_once_after_its_results(monkeypatch, caplog, tmp_path):
    _machine(monkeypatch)
    with caplog.at_level(logging.INFO, logger=trainer.logger.name):
        trainer.finish_run(str(tmp_path), {"final_step": 2}, "test run")
    assert [record.message for record in caplog.records].count(cpu_kernels.onednn_hint()) == 1
    assert (tmp_path / trainer.RESULTS_FILE).exists()


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64",
                    reason="TensorFlow's Linux x86 wheels carry oneDNN")
@pytest.mark.parametrize("choice, expected", [("1", True), ("0", False)])
def test_the_variable_the_hint_names_turns_oneDNN_on_and_off(choice, expected):
    # Read once, as TensorFlow loads: so in a fresh process with the variable set before the import.
    code = "from albert_tf.training.cpu_kernels import onednn_enabled; print(onednn_enabled())"
    environment = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=choice, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                            timeout=300, check=True)
    assert result.stdout.strip().splitlines()[-1] == str(expected)
