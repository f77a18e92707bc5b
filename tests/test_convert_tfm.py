"""TF Model Garden interop: AlbertEncoder / BertPretrainerV2 tf.train.Checkpoints -> albert_tf, same outputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.convert import UnsupportedCheckpointError, UnusedVariablesWarning, load_checkpoint
from albert_tf.pretrainer import AlbertPretrainer
from convert_helpers import BATCH, SEQ, assert_close, inputs_for, our_outputs, tiny_config

networks = pytest.importorskip("official.nlp.modeling.networks")
models = pytest.importorskip("official.nlp.modeling.models")
nlp_layers = pytest.importorskip("official.nlp.modeling.layers")
activations = pytest.importorskip("official.modeling.activations")

CONFIG = tiny_config(num_hidden_layers=3)


def random_encoder(seed: int = 0):
    encoder = networks.AlbertEncoder(
        vocab_size=CONFIG.vocab_size, embedding_width=CONFIG.embedding_size, hidden_size=CONFIG.hidden_size,
        num_layers=CONFIG.num_hidden_layers, num_attention_heads=CONFIG.num_attention_heads,
        max_sequence_length=CONFIG.max_position_embeddings, type_vocab_size=CONFIG.type_vocab_size,
        intermediate_size=CONFIG.intermediate_size, dropout_rate=0.0, attention_dropout_rate=0.0,
        dict_outputs=True,
    )
    randomize_tf(encoder.weights, seed)
    return encoder


def randomize_tf(weights, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for weight in weights:
        values = rng.normal(0.0, 0.2, weight.shape)
        weight.assign((values + 1.0 if "gamma" in weight.name else values).astype("float32"))


def test_model_garden_encoder_checkpoint_converts_with_same_outputs(tmp_path):
    import tf_keras

    encoder = random_encoder()
    # Saved mid-training: optimizer slots and counters sit beside the weights and must be skipped.
    optimizer = tf_keras.optimizers.Adam()
    optimizer.apply_gradients([(tf.zeros_like(w), w) for w in encoder.trainable_weights])
    path = tf.train.Checkpoint(encoder=encoder, optimizer=optimizer).write(str(tmp_path / "encoder" / "ckpt"))
    inputs = inputs_for(CONFIG.vocab_size)
    expected = {name: np.asarray(value) for name, value in encoder(inputs).items()
                if name in ("sequence_output", "pooled_output")}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = load_checkpoint("tfm", path, CONFIG)
    assert result.kind == "backbone" and len(result.report.skipped) > 2 * len(result.report.loaded)
    diffs = assert_close(our_outputs(result.model, inputs), expected, names=("sequence_output", "pooled_output"))
    print("tfm encoder -> albert_tf max abs diff:", diffs)


@pytest.mark.filterwarnings("ignore:Input dict contained keys")  # Model Garden's own call of its encoder
def test_model_garden_pretrainer_checkpoint_keeps_the_mlm_head(tmp_path):
    encoder = random_encoder(seed=1)
    pretrainer = models.BertPretrainerV2(
        encoder_network=encoder, mlm_activation=activations.gelu,
        classification_heads=[nlp_layers.ClassificationHead(inner_dim=0, num_classes=2, name="next_sentence")],
    )
    _ = pretrainer(pretrainer.inputs)
    randomize_tf(pretrainer.weights, seed=2)
    path = tf.train.Checkpoint(model=pretrainer).write(str(tmp_path / "pretrainer" / "ckpt"))
    inputs = inputs_for(CONFIG.vocab_size)
    positions = np.tile(np.arange(SEQ, dtype="int32"), (BATCH, 1))
    reference = pretrainer({**inputs, "masked_lm_positions": positions})
    encoded = encoder(inputs)
    expected = {"sequence_output": np.asarray(encoded["sequence_output"]),
                "pooled_output": np.asarray(encoded["pooled_output"]),
                "mlm_logits": np.asarray(reference["mlm_logits"])}

    # Its classification head reads the raw [CLS] vector, which AlbertPretrainer's SOP head does not.
    with pytest.warns(UnusedVariablesWarning, match="next_sentence"):
        result = load_checkpoint("tfm", path, CONFIG, new_sop_head=True)
    assert result.kind == "pretrainer" and isinstance(result.model, AlbertPretrainer)
    diffs = assert_close(our_outputs(result.model, inputs), expected,
                         names=("sequence_output", "pooled_output", "mlm_logits"))
    print("tfm pretrainer -> albert_tf max abs diff:", diffs)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backbone = load_checkpoint("tfm", path, CONFIG)
    messages = [str(w.message) for w in caught]
    assert any("MLM head but no SOP head" in m for m in messages), messages
    assert any("not used: bert/next_sentence/logits/bias" in m for m in messages), messages
    assert backbone.kind == "backbone"
    with pytest.raises(UnsupportedCheckpointError, match="no SOP head"):
        load_checkpoint("tfm", path, CONFIG, model="pretrainer")


def test_model_garden_encoder_cannot_hold_several_groups(tmp_path):
    path = tf.train.Checkpoint(encoder=random_encoder()).write(str(tmp_path / "ckpt"))
    with pytest.raises(UnsupportedCheckpointError, match="one transformer layer"):
        load_checkpoint("tfm", path, CONFIG.replace(num_hidden_layers=4, num_hidden_groups=2))
