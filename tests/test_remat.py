"""`--remat`: the shared transformer layer's activations are recomputed in the backward pass.

Gradients equal those without rematerialization, the layer really runs again
during the backward pass, loaded backbones follow `remat_scope`, saved files do
not carry the choice, dropout is refused, and the commands take `--remat`
(a relaunch may change it, as `--jit-compile`)."""

from __future__ import annotations

import functools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.backbone import remat_scope
from albert_tf.layers import AlbertTransformerLayer
from conftest import SHARED_DATA, TINY_FIELDS, make_inputs


def _loss_and_gradients(backbone: AlbertBackbone, inputs: dict, graph: bool):
    def step(inputs):
        with tf.GradientTape() as tape:
            outputs = backbone(inputs, training=True)
            # Weights every position and feature differently, so a wrong gradient anywhere shows.
            sequence = outputs["sequence_output"]
            weights = tf.reshape(tf.range(tf.size(sequence[0]), dtype=sequence.dtype), sequence.shape[1:]) / 100.0
            loss = tf.reduce_sum(tf.sin(sequence * weights)) + tf.reduce_sum(outputs["pooled_output"] ** 2)
        return loss, tape.gradient(loss, backbone.trainable_variables)

    loss, gradients = (tf.function(step) if graph else step)(inputs)
    return float(loss), [np.asarray(tf.convert_to_tensor(gradient)) for gradient in gradients]


@pytest.mark.parametrize("sharing,graph", [("all", True), ("all", False), ("ffn", True)])
def test_gradients_with_remat_equal_those_without(sharing, graph):
    config = AlbertConfig(**{**TINY_FIELDS, "num_hidden_layers": 4, "num_hidden_groups": 2 if sharing == "all" else 1,
                             "inner_group_num": 2 if sharing == "all" else 1, "sharing": sharing})
    plain = AlbertBackbone(config)
    rematerialized = AlbertBackbone(config, remat=True)
    assert not plain.remat and rematerialized.remat
    # Random (initializer) weights, the same in both.
    rematerialized.set_weights(plain.get_weights())
    inputs = make_inputs(3, 12, config.vocab_size, pad=2)
    loss, gradients = _loss_and_gradients(plain, inputs, graph)
    remat_loss, remat_gradients = _loss_and_gradients(rematerialized, inputs, graph)
    assert remat_loss == pytest.approx(loss, rel=1e-6)
    assert len(gradients) == len(remat_gradients) == len(plain.trainable_variables)
    # The attention key bias's exact gradient is 0 (softmax ignores a shift shared by all keys): both sides
    # are rounding noise there, so no variable's tolerance goes below a thousandth of the largest gradient.
    scale = max(np.abs(gradient).max() for gradient in gradients)
    for variable, gradient, remat_gradient in zip(plain.trainable_variables, gradients, remat_gradients):
        assert np.abs(gradient).max() > 0, variable.path
        np.testing.assert_allclose(remat_gradient, gradient, rtol=1e-4,
                                   atol=1e-5 * max(np.abs(gradient).max(), 1e-3 * scale), err_msg=variable.path)


def test_the_shared_layer_runs_again_in_the_backward_pass_only_with_remat(tiny_config, monkeypatch):
    calls = []
    original = AlbertTransformerLayer.call

    @functools.wraps(original)  # Keras reads the signature
    def counted(self, *args, **kwargs):
        calls.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AlbertTransformerLayer, "call", counted)
    inputs = make_inputs(2, 8, tiny_config.vocab_size)
    for remat, backward_calls in ((False, 0), (True, tiny_config.num_hidden_layers)):
        backbone = AlbertBackbone(tiny_config, remat=remat)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(backbone(inputs, training=True)["sequence_output"])
        forward = len(calls)
        tape.gradient(loss, backbone.trainable_variables)
        assert len(calls) - forward == backward_calls, (remat, calls)
        calls.clear()


def test_remat_scope_reaches_loaded_backbones_and_saved_files_do_not_carry_it(tiny_config, tmp_path):
    plain = AlbertBackbone(tiny_config)
    plain.save(tmp_path / "plain.keras")
    assert "remat" not in plain.get_config()
    with remat_scope():
        loaded = keras.saving.load_model(tmp_path / "plain.keras")
        built = AlbertBackbone(tiny_config)
        with remat_scope(False):
            assert not AlbertBackbone(tiny_config).remat
    assert loaded.remat and built.remat and not AlbertBackbone(tiny_config).remat
    for first, second in zip(plain.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(first, second)
    # The same weight layout: a rematerialized backbone's file loads into a plain one.
    loaded.save(tmp_path / "remat.keras")
    reloaded = keras.saving.load_model(tmp_path / "remat.keras")
    assert not reloaded.remat
    inputs = make_inputs(2, 8, tiny_config.vocab_size)
    np.testing.assert_allclose(reloaded(inputs)["sequence_output"], plain(inputs)["sequence_output"], atol=1e-6)


def test_dropout_in_the_transformer_layers_is_refused(tiny_config):
    config = AlbertConfig(**{**TINY_FIELDS, "hidden_dropout_prob": 0.1})
    with pytest.raises(ValueError, match="--remat needs a model without dropout.*hidden_dropout_prob=0.1"):
        AlbertBackbone(config, remat=True)
    with remat_scope():  # built without it; the runners check `remat` and refuse
        assert not AlbertBackbone(config).remat


needs_data = pytest.mark.skipif(not (SHARED_DATA / "albert" / "spiece.model").exists()
                                or not (SHARED_DATA / "glue" / "SST-2").exists(),
                                reason="needs ../shared/data (ALBERT vocabulary, GLUE SST-2)")


@needs_data
def test_pretraining_with_remat_matches_without_and_a_relaunch_may_change_it(tmp_path):
    import csv

    from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
    from albert_tf.training.pretraining import PretrainingSettings, run_pretraining

    records = tmp_path / "records"
    create_pretraining_data([str(SHARED_DATA / "corpus" / "hf_sample_text.txt")],
                            str(SHARED_DATA / "albert" / "spiece.model"), str(records),
                            PretrainingDataConfig(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=1),
                            progress=False)
    config = AlbertConfig(**{**TINY_FIELDS, "vocab_size": 30000})

    def run(output, remat):
        settings = PretrainingSettings(config=config, records=(str(records),), output_dir=str(output), batch_size=4,
                                       train_steps=3, steps_per_checkpoint=3, progress=False, strategy="one_device",
                                       remat=remat)
        return run_pretraining(settings)

    plain, rematerialized = run(tmp_path / "plain", False), run(tmp_path / "remat", True)
    for name in ("loss", "mlm_loss", "sop_loss"):
        np.testing.assert_allclose(rematerialized.history[name], plain.history[name], rtol=1e-4, err_msg=name)
    with open(tmp_path / "remat" / "metrics.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 1
    # Not a recorded setting (like --jit-compile): relaunching without it is accepted.
    again = run(tmp_path / "remat", False)
    assert again.resumed_from_step == again.final_step == 3


@pytest.mark.long
@needs_data
def test_finetune_and_distill_take_remat_and_refuse_it_with_dropout(tmp_path, capsys):
    from albert_tf.cli.main import main

    data = tmp_path / "SST-2"
    data.mkdir()
    for name, rows in (("train.tsv", 17), ("dev.tsv", 9)):
        lines = (SHARED_DATA / "glue" / "SST-2" / name).read_text(encoding="utf-8").splitlines()
        (data / name).write_text("\n".join(lines[:rows]) + "\n", encoding="utf-8")
    (tmp_path / "config.json").write_text(json.dumps({**TINY_FIELDS, "vocab_size": 30000}))
    (tmp_path / "dropout.json").write_text(json.dumps({**TINY_FIELDS, "vocab_size": 30000,
                                                       "attention_probs_dropout_prob": 0.1}))
    common = ["--data-dir", str(data), "--max-seq-length", "16", "--batch-size", "8", "--epochs", "1",
              "--no-progress"]
    spm = ["--spm-model", str(SHARED_DATA / "albert" / "spiece.model")]
    teacher = tmp_path / "teacher"
    assert main(["finetune", "--task", "sst2", "--output-dir", str(teacher), "--config", str(tmp_path / "config.json"),
                 *spm, *common, "--remat"]) == 0
    # A relaunch without --remat is the same run, already finished.
    assert main(["finetune", "--task", "sst2", "--output-dir", str(teacher), "--config",
                 str(tmp_path / "config.json"), *spm, *common]) == 0
    assert "already finished" in capsys.readouterr().out
    assert main(["distill", "--task", "sst2", "--output-dir", str(tmp_path / "student"), "--teacher",
                 str(teacher / "model"), "--student-config", str(tmp_path / "config.json"), *common, "--remat"]) == 0
    assert (tmp_path / "student" / "model").is_dir()
    capsys.readouterr()
    for command in (["finetune", "--task", "sst2", "--output-dir", str(tmp_path / "refused"), "--config",
                     str(tmp_path / "dropout.json"), *spm],
                    ["distill", "--task", "sst2", "--output-dir", str(tmp_path / "refused_student"), "--teacher",
                     str(teacher / "model"), "--student-config", str(tmp_path / "dropout.json")]):
        assert main([*command, *common, "--remat"]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and "--remat needs a model without dropout" in error[0], error
