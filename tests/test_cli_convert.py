"""`albert convert`: the command line around albert_tf.convert."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from albert_tf.backbone import AlbertBackbone
from albert_tf.cli.main import main
from albert_tf.convert import export_huggingface, model_variables
from albert_tf.pretrainer import AlbertPretrainer
from convert_helpers import randomize_keras, tiny_config


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    model = AlbertPretrainer(AlbertBackbone(tiny_config(num_hidden_layers=4, num_hidden_groups=2)))
    randomize_keras(model, seed=9)
    directory = tmp_path_factory.mktemp("hf")
    export_huggingface(model, directory)
    return directory, {key: np.asarray(v) for key, v in model_variables(model).items()}


def _same_weights(model, expected):
    actual = {key: np.asarray(v) for key, v in model_variables(model).items()}
    assert actual.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)


def test_hf_to_keras_and_back(hf_dir, tmp_path, capsys):
    directory, weights = hf_dir
    output = tmp_path / "out" / "model.keras"
    assert main(["convert", "--from", "hf", "--checkpoint", str(directory), "--output", str(output)]) == 0
    assert "AlbertPretrainer" in capsys.readouterr().out
    loaded = keras.saving.load_model(output)
    assert isinstance(loaded, AlbertPretrainer)
    _same_weights(loaded, weights)
    assert not [p for p in output.parent.iterdir() if p.name.startswith(".tmp")]  # no temporary leftovers

    exported = tmp_path / "hf_again"
    assert main(["convert", "--from", "keras", "--checkpoint", str(output), "--to", "hf",
                 "--output", str(exported)]) == 0
    assert json.loads((exported / "config.json").read_text())["architectures"] == ["AlbertForPreTraining"]
    again = tmp_path / "again.keras"
    assert main(["convert", "--from", "hf", "--checkpoint", str(exported), "--output", str(again)]) == 0
    _same_weights(keras.saving.load_model(again), weights)


def test_backbone_only(hf_dir, tmp_path, capsys):
    directory, weights = hf_dir
    output = tmp_path / "backbone.keras"
    assert main(["convert", "--from", "hf", "--checkpoint", str(directory), "--output", str(output),
                 "--backbone-only"]) == 0
    out = capsys.readouterr().out
    assert "AlbertBackbone" in out and "head variables left out" in out
    loaded = keras.saving.load_model(output)
    assert isinstance(loaded, AlbertBackbone)
    _same_weights(loaded, {k: v for k, v in weights.items() if not k.startswith(("mlm/", "sop/"))})


def test_bad_input_exits_2_with_one_line(hf_dir, tmp_path, capsys):
    directory, _ = hf_dir
    cases = [
        (["--checkpoint", str(tmp_path / "nowhere"), "--output", str(tmp_path / "m.keras")], "does not exist"),
        (["--checkpoint", str(directory), "--output", str(tmp_path / "m.h5")], "must end in .keras"),
    ]
    config = tmp_path / "config.json"
    config.write_text(json.dumps(dict(tiny_config(num_hidden_layers=4, num_hidden_groups=2, vocab_size=120).to_dict())))
    cases.append((["--checkpoint", str(directory), "--config", str(config), "--output", str(tmp_path / "m.keras")],
                  '"vocab_size": 100'))
    for arguments, expected in cases:
        assert main(["convert", "--from", "hf", *arguments]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("albert convert: error:") and expected in err and "\n" not in err, err
    assert not (tmp_path / "m.keras").exists()
