"""The oneDNN hint: said on Linux x86 CPUs where TensorFlow left oneDNN off, and the variable it names works."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys

import pytest

from albert_tf.training import cpu_kernels, trainer
from conftest import subcommand_default


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


def test_the_library_leaves_the_hint_to_the_command(monkeypatch, caplog, tmp_path):
    # A run's end logs no hint: the `albert` command does, once (the demo finishes two runs).
    _machine(monkeypatch)
    with caplog.at_level(logging.INFO, logger="albert_tf"):
        trainer.finish_run(str(tmp_path), {"final_step": 2}, "test run")
    assert cpu_kernels.onednn_hint() not in [record.message for record in caplog.records]
    assert (tmp_path / trainer.RESULTS_FILE).exists()


@pytest.mark.parametrize("command", ["pretrain", "finetune", "distill", "demo", "export", "predict", "create-data"])
def test_exactly_the_commands_that_train_are_marked(command):
    assert bool(subcommand_default(command, "trains")) == (command in ("pretrain", "finetune", "distill", "demo"))


@pytest.mark.parametrize("trains", [True, False])
@pytest.mark.parametrize("code", [0, 2])
def test_a_command_logs_the_hint_once_after_it_trained_and_succeeded(monkeypatch, capsys, tmp_path, trains, code):
    from albert_tf.cli import main as cli_main

    _machine(monkeypatch)
    # A command that runs two training runs (as the demo does) and then returns `code`.
    def run(args):
        for _ in range(2):
            trainer.finish_run(str(tmp_path), {"final_step": 1}, "test run")
        return code

    class Parser:
        def parse_args(self, argv):
            return argparse.Namespace(command="test", run=run, trains=trains, log_less=0, log_more=0)

    monkeypatch.setattr(cli_main, "build_parser", Parser)
    # A dependency that configured the root logger (as TensorFlow Lite's converter does mid-demo)
    # must not print the command's lines a second time.
    root_handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(root_handler)
    try:
        assert cli_main.main([]) == code
    finally:
        logging.getLogger().removeHandler(root_handler)
    lines = capsys.readouterr().err.splitlines()
    assert sum("TF_ENABLE_ONEDNN_OPTS=1" in line for line in lines) == (1 if trains and code == 0 else 0)


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
