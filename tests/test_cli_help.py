"""`albert --help` texts, and errors that stay one line once TensorFlow has loaded."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from albert_tf import native_logs
from albert_tf.cli.shared_arguments import number_in
from conftest import subcommand_parsers


def test_every_option_of_every_subcommand_has_help():
    missing = [f"{name} {action.option_strings or action.dest}"
               for name, subparser in subcommand_parsers().items()
               for action in subparser._actions if not (action.help or "").strip()]
    assert not missing, missing


def test_no_option_help_says_default_twice():
    twice = []
    for name, subparser in subcommand_parsers().items():
        formatter = subparser._get_formatter()
        for action in subparser._actions:
            if action.help and action.help != argparse.SUPPRESS:
                if formatter._expand_help(action).lower().count("default") > 1:
                    twice.append(f"{name} {action.option_strings}: {formatter._expand_help(action)}")
        for line in subparser.format_help().splitlines():
            assert line.lower().count("default") <= 1, (name, line)
    assert not twice, twice


def test_finetune_dtype_help_tells_its_real_default():
    subparser = subcommand_parsers()["finetune"]
    action = next(a for a in subparser._actions if "--dtype" in a.option_strings)
    text = subparser._get_formatter()._expand_help(action)
    assert action.default == "float32" and not text.startswith("auto") and "(default: float32)" in text


def test_native_log_level_is_set_only_without_v_or_a_user_setting():
    environ: dict[str, str] = {}
    native_logs.quiet_tensorflow_logs(["predict", "-v"], environ)  # a subcommand's -v is not the top-level one
    assert environ == {"TF_CPP_MIN_LOG_LEVEL": "3"}
    for arguments in (["-v", "predict"], ["-vv", "predict"]):
        environ = {}
        native_logs.quiet_tensorflow_logs(arguments, environ)
        assert environ == {}
    environ = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    native_logs.quiet_tensorflow_logs(["predict"], environ)
    assert environ == {"TF_CPP_MIN_LOG_LEVEL": "0"}
    assert native_logs.is_albert_command(["/venv/bin/albert", "predict"], [])
    assert native_logs.is_albert_command(["-m"], ["python", "-m", "albert_tf", "predict"])
    assert not native_logs.is_albert_command(["pytest"], ["python", "-m", "pytest"])


def test_error_after_tensorflow_loads_is_one_line(tmp_path):
    # Runs the real console entry in a fresh process, without the variable this test process inherited
    # from albert_tf: TensorFlow's native lines (cuInit on a machine with a CUDA driver but no GPU) are hidden.
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    script = ("import sys; sys.argv[0] = 'albert'; from albert_tf.cli.main import main; "
              "import tensorflow as tf; tf.config.list_physical_devices(); sys.exit(main())")
    completed = subprocess.run(
        [sys.executable, "-c", script, "pretrain", "--config", "no-such-config", "--records", str(tmp_path),
         "--output-dir", str(tmp_path / "run")],
        capture_output=True, text=True, env=environment, timeout=300, cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("albert pretrain: error: --config no-such-config"), lines
    assert "albert_tiny" in lines[0]


def test_every_numeric_option_checks_its_range():
    # A bare int/float lets `--batch-size 0` or `--learning-rate -1` reach the library, which names its
    # field (batch_size) after loading TensorFlow, or, for the demo, only after minutes of work.
    unchecked = [f"{name} {action.option_strings}" for name, subparser in subcommand_parsers().items()
                 for action in subparser._actions if action.type in (int, float)]
    assert not unchecked, unchecked


@pytest.mark.parametrize("command, option, value, wanted", [
    ("pretrain", "--learning-rate", "0", "> 0"),
    ("pretrain", "--batch-size", "0", ">= 1"),
    ("pretrain", "--seed", "-1", ">= 0"),
    ("finetune", "--warmup-proportion", "1.5", "in [0, 1]"),
    ("finetune", "--dropout", "1", "in [0, 1)"),
    ("distill", "--alpha", "-0.1", "in [0, 1]"),
    ("distill", "--temperature", "nan", "> 0"),
    ("create-data", "--masked-lm-prob", "1", "in (0, 1)"),
    ("create-data", "--num-workers", "0", ">= 1"),
    ("train-spm", "--character-coverage", "0", "in (0, 1]"),
    ("demo", "--train-steps", "0", ">= 1"),
    ("demo", "--learning-rate", "inf", "> 0"),
])
def test_out_of_range_number_is_refused_naming_the_option(capsys, command, option, value, wanted):
    with pytest.raises(SystemExit) as exit_info:
        subcommand_parsers()[command].parse_args([option, value])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith(f"albert {command}: error: argument {option}: "), error
    assert f"must be a finite number {wanted}" in error or f"must be {wanted}" in error, error
    assert error.endswith(f"(`albert {command} --help` lists the options)"), error


@pytest.mark.parametrize("text, accepted", [("0", True), ("1", False), ("0.999", True), ("-0.0", True),
                                            ("-1e-9", False), ("nan", False), ("x", False)])
def test_number_in_keeps_its_ends(text, accepted):
    dropout_rate = number_in(0, 1, high_open=True)
    if accepted:
        assert dropout_rate(text) == float(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            dropout_rate(text)


def test_an_option_prefix_is_not_taken_for_a_longer_option(capsys):
    # argparse's default would read `--input FILE` as `--input-sentence-size FILE` (train-spm's inputs are
    # positional) and `--learning 0.1` as `--learning-rate 0.1`.
    required = {"train-spm": ["corpus.txt", "--model-prefix", "vocab/spiece"],
                "pretrain": ["--config", "tiny", "--records", "records", "--output-dir", "run"]}
    for command, prefix in (("train-spm", "--input"), ("pretrain", "--learning")):
        with pytest.raises(SystemExit) as exit_info:
            subcommand_parsers()[command].parse_args([*required[command], prefix, "7"])
        assert exit_info.value.code == 2
        last_line = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"unrecognized arguments: {prefix} 7 (" in last_line, last_line
