"""Batches cut to their longest sequence give the full-length batches' outputs, in the inputs' order."""

from __future__ import annotations

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf import AlbertBackbone, AlbertConfig, AlbertGraphTokenizer
from albert_tf.distillation import Distiller
from albert_tf.finetuning.task_kinds import task_kind
from albert_tf.length_batches import LengthTrim, length_sorted_dataset, predict_by_length, sequence_lengths
from albert_tf.preprocessor import AlbertPreprocessor
from albert_tf.tasks import AlbertClassifier, AlbertMultipleChoice
from albert_tf.training.trainer import EpochBatches
from conftest import SHARED_DATA, TINY_FIELDS, needs_data

LENGTH = 40


def padded_inputs(lengths, seq_length: int = LENGTH, vocab_size: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """Token inputs of rows with the given lengths, padded at the end as the packers pad."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    mask = (np.arange(seq_length) < lengths[..., None]).astype("int32")
    return {"input_word_ids": rng.integers(5, vocab_size, size=mask.shape).astype("int32") * mask,
            "input_mask": mask,
            "input_type_ids": (np.arange(seq_length) >= lengths[..., None] // 2).astype("int32") * mask}


def randomized(model: keras.Model) -> keras.Model:
    """`model` with every weight random (zero biases and unit LayerNorm scales would hide mistakes)."""
    rng = np.random.default_rng(7)
    for weight in model.weights:
        weight.assign(rng.normal(0.0, 0.2, size=weight.shape).astype(weight.dtype))
    return model


@pytest.mark.parametrize("lengths, trim, expected", [
    ([3, 10], LengthTrim(), 16),
    ([3, 17], LengthTrim(), 24),
    ([3, 17], LengthTrim(powers_of_two=True), 32),
    ([1, 2], LengthTrim(powers_of_two=True), 8),
    ([3, 39], LengthTrim(), LENGTH),  # 40: never past the arrays' own length
    ([33, 20], LengthTrim(powers_of_two=True), LENGTH),
])
def test_trim_cuts_to_the_longest_row_rounded_up(lengths, trim, expected):
    inputs = padded_inputs(lengths)
    inputs["label"] = np.array([0, 1])
    cut = trim({name: tf.constant(value) for name, value in inputs.items()})
    for name in ("input_word_ids", "input_mask", "input_type_ids"):
        np.testing.assert_array_equal(cut[name].numpy(), inputs[name][:, :expected])
    np.testing.assert_array_equal(cut["label"].numpy(), inputs["label"])  # not a token input: as it was


def test_lengths_are_the_smallest_allowed_at_or_above_the_longest_row():
    longest = tf.range(1, 700)
    multiples = LengthTrim().length(longest, tf.constant(512)).numpy()
    powers = LengthTrim(powers_of_two=True).length(longest, tf.constant(512)).numpy()
    for row, (multiple, power) in enumerate(zip(multiples, powers), start=1):
        assert multiple == min(512, -(-row // 8) * 8), row
        assert power == min(512, max(8, 1 << (row - 1).bit_length())), row


def test_trim_needs_the_mask():
    with pytest.raises(ValueError, match="input_mask"):
        LengthTrim()({"input_word_ids": tf.zeros([2, 8], tf.int32)})


def test_classifier_logits_of_a_cut_batch_equal_the_full_length_ones(tiny_config):
    model = randomized(AlbertClassifier(AlbertBackbone(tiny_config), num_classes=3))
    inputs = padded_inputs([5, 12, 9, 2])
    full = model(inputs).numpy()
    cut = model(LengthTrim()({name: tf.constant(value) for name, value in inputs.items()})).numpy()
    assert cut.shape == full.shape
    np.testing.assert_allclose(cut, full, rtol=1e-5, atol=1e-5)


def test_predict_by_length_gives_predict_s_outputs_in_the_inputs_order(tiny_config):
    model = randomized(AlbertClassifier(AlbertBackbone(tiny_config), num_classes=3))
    lengths = np.random.default_rng(3).integers(2, LENGTH + 1, size=23)
    inputs = padded_inputs(lengths)
    expected = model.predict(inputs, batch_size=4, verbose=0)
    got = predict_by_length(model, inputs, batch_size=4)  # 6 batches, the last of 3 rows
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_length_sorted_batches_hold_rows_of_about_one_length():
    lengths = [30, 2, 17, 3, 29, 16]
    dataset, order = length_sorted_dataset(padded_inputs(lengths), batch_size=2, trim=LengthTrim())
    assert [lengths[row] for row in order] == sorted(lengths)
    assert [batch["input_mask"].shape[1] for batch in dataset] == [8, 24, 32]


def test_multiple_choice_scores_of_cut_batches_equal_the_full_length_ones(tiny_config):
    model = randomized(AlbertMultipleChoice(AlbertBackbone(tiny_config), num_choices=3))
    inputs = padded_inputs(np.random.default_rng(4).integers(3, 20, size=(7, 3)))  # [7 examples, 3 choices, T]
    assert sequence_lengths(inputs).shape == (7,)
    expected = model.predict(inputs, batch_size=3, verbose=0)
    np.testing.assert_allclose(predict_by_length(model, inputs, batch_size=3), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attention_loss", ["mse", "kl"])
def test_distillation_losses_of_a_cut_batch_equal_the_full_length_ones(tiny_config, attention_loss):
    teacher = randomized(AlbertClassifier(AlbertBackbone(tiny_config), num_classes=3))
    student = randomized(AlbertClassifier(AlbertBackbone(AlbertConfig(
        **{**TINY_FIELDS, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
           "intermediate_size": 32})), num_classes=3))
    distiller = Distiller(teacher, student, alpha=0.5, temperature=2.0, hidden_state_weight=1.0,
                          attention_weight=1.0, attention_loss=attention_loss)
    inputs, labels = padded_inputs([5, 12, 9, 2]), np.array([0, 1, 2, 1])
    full = distiller.compute_losses(inputs, labels)
    cut = distiller.compute_losses(LengthTrim()({name: tf.constant(value) for name, value in inputs.items()}), labels)
    for term in ("loss", "hidden_loss", "attention_loss", "distill_loss", "student_logits"):
        np.testing.assert_allclose(cut[term], full[term], rtol=1e-5, atol=1e-6, err_msg=term)


def test_epoch_batches_cut_each_step_s_rows_and_keep_its_targets():
    lengths = np.random.default_rng(5).integers(2, 25, size=10)
    inputs, labels = padded_inputs(lengths), np.arange(10)
    full = list(EpochBatches((inputs, labels), 4, 2, seed=1).steps(0, 6))
    cut = list(EpochBatches((inputs, labels), 4, 2, seed=1, trim=LengthTrim()).steps(0, 6))
    for (full_inputs, full_labels), (cut_inputs, cut_labels) in zip(full, cut, strict=True):
        np.testing.assert_array_equal(cut_labels, full_labels)
        rows = full_labels.numpy()
        width = -(-int(lengths[rows].max()) // 8) * 8
        assert cut_inputs["input_mask"].shape == (len(rows), min(width, LENGTH))
        np.testing.assert_array_equal(cut_inputs["input_word_ids"], full_inputs["input_word_ids"][:, :width])


def settings(**changes) -> types.SimpleNamespace:
    fields = dict(task="sst2", jit_compile=False)
    return types.SimpleNamespace(**{**fields, **changes})


@pytest.mark.parametrize("changes, full_length, expected", [
    ({}, False, LengthTrim()),
    ({"jit_compile": True}, False, LengthTrim(powers_of_two=True)),
    ({"task": "race"}, False, LengthTrim()),
    ({}, True, None),  # --pad-to-max-length, TPUs
    ({"task": "squad1"}, False, None),  # start and end logits at every position
])
def test_which_fine_tuning_batches_are_cut(changes, full_length, expected):
    assert task_kind(settings(**changes), tokenizer=None, full_length=full_length).trim == expected


@needs_data("albert/spiece.model")
def test_classifier_predict_on_text_matches_full_length_batches():
    spm = AlbertGraphTokenizer(SHARED_DATA / "albert" / "spiece.model")
    config = AlbertConfig(**{**TINY_FIELDS, "vocab_size": 30000})
    model = randomized(AlbertClassifier(AlbertBackbone(config), num_classes=2,
                                        preprocessor=AlbertPreprocessor(spm, sequence_length=LENGTH)))
    texts = ["a fine film", "dull", "a long and winding story about the sea, the wind and a boat that never "
             "came home", "moving", "the cast is superb and the plot moves along at a good pace"]
    expected = keras.Model.predict(model, model.text_features(texts)[0], batch_size=2, verbose=0)  # all 40 long
    np.testing.assert_allclose(model.predict(texts, batch_size=2, verbose=0), expected, rtol=1e-5, atol=1e-5)
    outputs, counts = model.predict_text(texts, batch_size=2)
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)
    assert counts.tolist() == [int(length) for length in sequence_lengths(model.text_features(texts)[0])]


@needs_data("albert/spiece.model")
def test_fit_on_text_shuffles_each_pass_and_cuts_each_batch():
    spm = AlbertGraphTokenizer(SHARED_DATA / "albert" / "spiece.model")
    config = AlbertConfig(**{**TINY_FIELDS, "vocab_size": 30000})
    model = AlbertClassifier(AlbertBackbone(config), num_classes=2,
                             preprocessor=AlbertPreprocessor(spm, sequence_length=LENGTH))
    texts = [" ".join(["word"] * count) for count in range(1, 21)]  # 3 to 22 tokens
    labels = np.arange(20) % 2
    tf.random.set_seed(0)
    dataset = model.text_dataset(texts, labels, batch_size=5, shuffle=True)
    first, second = ([int(count) for batch, _ in dataset for count in batch["input_mask"].numpy().sum(axis=1)]
                     for _ in range(2))
    assert sorted(first) == sorted(second) == list(range(3, 23))
    assert first != sorted(first) and first != second  # shuffled, and again at the next pass
    for batch, _ in dataset:
        longest = int(batch["input_mask"].numpy().sum(axis=1).max())
        assert batch["input_mask"].shape[1] == min(LENGTH, -(-longest // 8) * 8)
    in_order = [int(count) for batch, _ in model.text_dataset(texts, labels, batch_size=5)
                for count in batch["input_mask"].numpy().sum(axis=1)]
    assert in_order == list(range(3, 23))  # evaluate / predict keep the order
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(texts, labels, batch_size=5, epochs=1, verbose=0)  # text in, shuffled, cut: trains
