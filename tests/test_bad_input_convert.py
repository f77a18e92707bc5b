"""Damaged checkpoint files given to `albert convert` end with one line naming the file (exit code 2)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from albert_tf.backbone import AlbertBackbone
from albert_tf.convert import export_huggingface
from albert_tf.pretrainer import AlbertPretrainer
from convert_helpers import tiny_config

TF_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] ")


def _one_line_error(arguments, *fragments):
    result = subprocess.run([sys.executable, "-m", "albert_tf", "convert", *map(str, arguments)],
                            capture_output=True, text=True)
    lines = [line for line in result.stderr.strip().splitlines() if not TF_LOG_LINE.match(line)]
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(lines) == 1, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hf")
    export_huggingface(AlbertPretrainer(AlbertBackbone(tiny_config())), directory)
    return directory


@pytest.mark.parametrize("damage", ["header", "truncated"])
def test_damaged_safetensors_is_named(hf_dir, tmp_path, damage):
    broken = tmp_path / "hf"
    shutil.copytree(hf_dir, broken)
    weights = broken / "model.safetensors"
    data = bytearray(weights.read_bytes())
    if damage == "header":
        data[8:40] = b"\xff" * 32  # the JSON header
    else:
        data = data[: len(data) // 2]
    weights.write_bytes(bytes(data))
    _one_line_error(["--from", "hf", "--checkpoint", broken, "--output", tmp_path / "out"],
                    str(weights), "safetensors")


def test_damaged_tf_checkpoint_data_is_named(tmp_path):
    import tensorflow as tf

    config = tmp_path / "albert_config.json"
    tiny_config().to_json_file(config)
    prefix = tf.train.Checkpoint(x=tf.Variable(tf.zeros([64, 64]))).write(str(tmp_path / "ckpt"))
    data_file = next(tmp_path.glob("ckpt*.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:100])
    index_file = next(tmp_path.glob("ckpt*.index"))
    index_file.write_bytes(index_file.read_bytes()[: len(index_file.read_bytes()) // 2])
    _one_line_error(["--from", "tf1", "--checkpoint", prefix, "--config", config, "--output", tmp_path / "out"],
                    "ckpt", "checkpoint")
