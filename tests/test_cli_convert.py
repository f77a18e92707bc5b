"""`albert convert`: the command line around albert_tf.convert."""

from __future__ import annotations

import json

import numpy as np
import pytest

from albert_tf.backbone import AlbertBackbone
from albert_tf.cli.main import main
from albert_tf.convert import export_huggingface, load_checkpoint, model_variables
from albert_tf.presets import load_preset
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


def test_hf_to_preset_and_back(hf_dir, tmp_path, capsys):
    directory, weights = hf_dir
    output = tmp_path / "out" / "model"
    assert main(["convert", "--from", "hf", "--checkpoint", str(directory), "--output", str(output)]) == 0
    captured = capsys.readouterr()
    assert "AlbertPretrainer" in captured.out
    assert "no tokenizer" in captured.err and "--spm-model" in captured.err  # an HF folder without spiece.model
    loaded = load_preset(output)
    assert isinstance(loaded, AlbertPretrainer)
    _same_weights(loaded, weights)
    assert not [p for p in output.parent.iterdir() if p.name.startswith(".tmp")]  # no temporary leftovers

    exported = tmp_path / "hf_again"
    assert main(["convert", "--from", "preset", "--checkpoint", str(output), "--to", "hf",
                 "--output", str(exported)]) == 0
    assert json.loads((exported / "config.json").read_text())["architectures"] == ["AlbertForPreTraining"]
    again = tmp_path / "again"
    assert main(["convert", "--from", "hf", "--checkpoint", str(exported), "--output", str(again)]) == 0
    _same_weights(load_preset(again), weights)


def test_old_keras_file_with_spm_model_becomes_a_preset(hf_dir, tmp_path, capsys):
    directory, weights = hf_dir
    result = load_checkpoint("hf", directory)
    result.model.save(tmp_path / "model.keras")
    spm = tmp_path / "spiece.model"
    spm.write_bytes(_tiny_spm(tmp_path))
    output = tmp_path / "preset"
    assert main(["convert", "--from", "keras", "--checkpoint", str(tmp_path / "model.keras"),
                 "--spm-model", str(spm), "--output", str(output)]) == 0
    assert (output / "assets" / "tokenizer" / "spiece.model").read_bytes() == spm.read_bytes()
    _same_weights(load_preset(output), weights)


def test_backbone_only(hf_dir, tmp_path, capsys):
    directory, weights = hf_dir
    output = tmp_path / "backbone"
    assert main(["convert", "--from", "hf", "--checkpoint", str(directory), "--output", str(output),
                 "--backbone-only"]) == 0
    out = capsys.readouterr().out
    assert "AlbertBackbone" in out and "head variables left out" in out
    loaded = load_preset(output)
    assert isinstance(loaded, AlbertBackbone)
    _same_weights(loaded, {k: v for k, v in weights.items() if not k.startswith(("mlm/", "sop/"))})


def test_bad_input_exits_2_with_one_line(hf_dir, tmp_path, capsys):
    directory, _ = hf_dir
    cases = [
        (["--checkpoint", str(tmp_path / "nowhere"), "--output", str(tmp_path / "m.keras")], "does not exist"),
        (["--checkpoint", str(directory), "--output", str(tmp_path / "m.keras")], "preset folder, not a .keras file"),
        (["--checkpoint", str(directory), "--output", str(tmp_path / "m"), "--labels", "a,b"], "--labels"),
    ]
    config = tmp_path / "config.json"
    config.write_text(json.dumps(dict(tiny_config(num_hidden_layers=4, num_hidden_groups=2, vocab_size=120).to_dict())))
    cases.append((["--checkpoint", str(directory), "--config", str(config), "--output", str(tmp_path / "m")],
                  '"vocab_size": 100'))
    for arguments, expected in cases:
        assert main(["convert", "--from", "hf", *arguments]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("albert convert: error:") and expected in err and "\n" not in err, err
    assert not (tmp_path / "m.keras").exists() and not (tmp_path / "m").exists()


def _tiny_spm(tmp_path) -> bytes:
    """A 100-piece SentencePiece model with ALBERT's special pieces (the tiny config's vocab_size)."""
    import sentencepiece as spm

    text = tmp_path / "corpus.txt"
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lines = [" ".join("".join(rng.choice(letters, rng.integers(2, 8))) for _ in range(12)) for _ in range(400)]
    text.write_text("\n".join(lines), "utf-8")
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(tmp_path / "tiny"), vocab_size=100, model_type="unigram",
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols="[CLS],[SEP],[MASK]", hard_vocab_limit=True,
        minloglevel=2,
    )
    return (tmp_path / "tiny.model").read_bytes()
