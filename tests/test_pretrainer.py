"""AlbertPretrainer: sizes, tied decoder, losses, metrics, accumulation, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.pretrainer import PRETRAINER_INPUT_NAMES, AlbertPretrainer

# REFERENCE section 1: parameters with the MLM and SOP heads.
WITH_HEADS = {"base": 11_813_810, "large": 17_847_474}


def make_batch(config, batch=8, seq_length=16, predictions=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "input_word_ids": rng.integers(5, config.vocab_size, (batch, seq_length)).astype("int32"),
        "input_mask": np.ones((batch, seq_length), "int32"),
        "input_type_ids": np.zeros((batch, seq_length), "int32"),
        "masked_lm_positions": rng.integers(1, seq_length, (batch, predictions)).astype("int32"),
        "masked_lm_ids": rng.integers(5, config.vocab_size, (batch, predictions)).astype("int32"),
        "masked_lm_weights": (rng.random((batch, predictions)) < 0.75).astype("float32"),
        "sentence_order_label": rng.integers(0, 2, (batch,)).astype("int32"),
    }


def model_inputs(batch):
    return {name: batch[name] for name in PRETRAINER_INPUT_NAMES}


@pytest.mark.parametrize("preset", sorted(WITH_HEADS))
def test_parameter_count_with_heads(preset):
    pretrainer = AlbertPretrainer(AlbertBackbone(AlbertConfig.from_preset(preset)))
    assert pretrainer.count_params() == WITH_HEADS[preset]


def test_outputs_and_tied_decoder(tiny_config):
    pretrainer = AlbertPretrainer(AlbertBackbone(tiny_config))
    batch = make_batch(tiny_config)
    outputs = pretrainer(model_inputs(batch))
    assert outputs["mlm_logits"].shape == (8, 4, tiny_config.vocab_size)
    assert outputs["sop_logits"].shape == (8, 2)
    embeddings = pretrainer.backbone.token_embedding.embeddings
    decoders = [w for w in pretrainer.masked_lm_head.weights if tuple(w.shape) == tuple(embeddings.shape)]
    assert decoders and all(w is embeddings for w in decoders), "the decoder is the embedding matrix itself"
    embeddings.assign(embeddings * 2.0)
    changed = pretrainer(model_inputs(batch))["mlm_logits"]
    assert not np.allclose(changed, outputs["mlm_logits"])


def test_loss_and_metrics_match_hand_computation(tiny_config):
    pretrainer = AlbertPretrainer(AlbertBackbone(tiny_config))
    batch = make_batch(tiny_config)
    outputs = pretrainer(model_inputs(batch))
    loss = float(pretrainer._forward_and_loss({k: tf.constant(v) for k, v in batch.items()}, training=False))

    def cross_entropy(logits, labels):
        logits = logits - logits.max(-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]

    weights = batch["masked_lm_weights"]
    token_loss = cross_entropy(outputs["mlm_logits"].numpy(), batch["masked_lm_ids"])
    mlm = (token_loss * weights).sum() / (weights.sum() + 1e-5)
    sop = cross_entropy(outputs["sop_logits"].numpy(), batch["sentence_order_label"]).mean()
    assert loss == pytest.approx(mlm + sop, rel=1e-5)
    correct = outputs["mlm_logits"].numpy().argmax(-1) == batch["masked_lm_ids"]
    assert float(pretrainer.mlm_accuracy.result()) == pytest.approx((correct * weights).sum() / weights.sum(), rel=1e-5)
    assert float(pretrainer.mlm_perplexity.result()) == pytest.approx(
        np.exp((token_loss * weights).sum() / weights.sum()), rel=1e-4)


def test_fit_learns_a_repeated_batch(tiny_config):
    pretrainer = AlbertPretrainer(AlbertBackbone(tiny_config))
    pretrainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    dataset = tf.data.Dataset.from_tensors(make_batch(tiny_config)).repeat()
    history = pretrainer.fit(dataset, epochs=3, steps_per_epoch=20, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["sop_accuracy"][-1] == 1.0
    assert set(history) == {"loss", "mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy", "mlm_perplexity"}


def test_gradient_accumulation_equals_the_large_batch(tiny_config):
    batch = make_batch(tiny_config, batch=8)  # unequal real predictions per micro-batch
    results = []
    for steps in (1, 2):
        keras.utils.set_random_seed(5)
        pretrainer = AlbertPretrainer(AlbertBackbone(tiny_config), gradient_accumulation_steps=steps)
        pretrainer.compile(optimizer=keras.optimizers.SGD(0.5))
        pretrainer.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
        results.append([w.numpy() for w in pretrainer.trainable_weights])
    changed = max(np.abs(a - b).max() for a, b in zip(results[0], results[1]))
    assert changed < 1e-5


def test_keras_file_round_trip(tmp_path, tiny_config):
    pretrainer = AlbertPretrainer(AlbertBackbone(tiny_config.replace(num_hidden_groups=3, num_hidden_layers=3)))
    batch = model_inputs(make_batch(tiny_config))
    expected = pretrainer(batch)
    pretrainer.save(tmp_path / "pretrainer.keras")
    restored = keras.saving.load_model(tmp_path / "pretrainer.keras")
    assert isinstance(restored, AlbertPretrainer) and isinstance(restored.backbone, AlbertBackbone)
    for name, value in restored(batch).items():
        np.testing.assert_array_equal(value, expected[name])
    assert restored.masked_lm_head.token_embedding is restored.backbone.token_embedding


def test_mixed_bfloat16_logits_are_float32(tiny_config):
    pretrainer = AlbertPretrainer(AlbertBackbone(tiny_config, dtype="mixed_bfloat16"))
    outputs = pretrainer(model_inputs(make_batch(tiny_config)))
    assert outputs["mlm_logits"].dtype == tf.float32 and outputs["sop_logits"].dtype == tf.float32


def test_masked_lm_head_gathers_the_masked_rows_and_scatters_their_gradients(tiny_config):
    """The head's logits at each masked position are the decoder of that position's hidden state, and
    the gradient w.r.t. the sequence output lands on those rows (summed where a position repeats)."""
    pretrainer = AlbertPretrainer(AlbertBackbone(tiny_config))
    head = pretrainer.masked_lm_head
    rng = np.random.default_rng(3)
    batch, seq_length, hidden = 3, 10, tiny_config.hidden_size
    sequence_output = tf.constant(rng.normal(size=(batch, seq_length, hidden)).astype("float32"))
    # Row 0 repeats position 4; row 2 predicts position 0 and the last one.
    positions = tf.constant([[4, 1, 4], [2, 7, 3], [0, 9, 5]], tf.int32)
    for weight in head.weights:  # random, not the zero bias and unit LayerNorm it starts with
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(sequence_output)
        logits = head(sequence_output, positions)
        weights = tf.constant(rng.normal(size=logits.shape).astype("float32"))
        loss = tf.reduce_sum(logits * weights)
    gradient = tape.gradient(loss, sequence_output).numpy()

    expected = np.stack([
        head(tf.constant(sequence_output.numpy()[b][positions.numpy()[b]][None]),
             tf.constant(np.arange(3)[None], tf.int32))[0].numpy()
        for b in range(batch)])
    np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-5, atol=1e-5)
    touched = np.zeros((batch, seq_length), bool)
    touched[np.arange(batch)[:, None], positions.numpy()] = True
    assert np.all(gradient[~touched] == 0)
    assert np.all(np.abs(gradient[touched]).sum(-1) > 0)
    # The repeated position gets the sum of both predictions' gradients.
    with tf.GradientTape() as tape:
        tape.watch(sequence_output)
        once = tf.reduce_sum(head(sequence_output, positions[:, :1]) * weights[:, :1])
        both = once + tf.reduce_sum(head(sequence_output, positions[:, 2:]) * weights[:, 2:])
    both = tape.gradient(both, sequence_output).numpy()
    np.testing.assert_allclose(gradient[0, 4], both[0, 4], rtol=1e-5, atol=1e-6)
