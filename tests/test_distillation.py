"""Knowledge distillation: losses against numpy, a frozen teacher, learning from
soft targets alone, the teacher-logits cache, intermediate (TinyBERT) losses,
and argument checks."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import albert_tf
from albert_tf import AlbertBackbone, AlbertConfig
from albert_tf.backbone import INPUT_NAMES
from albert_tf.distillation import (
    TEACHER_LOGITS_KEY,
    ClassifierProbe,
    Distiller,
    cache_teacher_logits,
    distillation_loss,
    load_teacher_logits,
    uniform_layer_mapping,
    validate_layer_mapping,
    with_teacher_logits,
)
from albert_tf.tasks import AlbertClassifier
from conftest import TINY_FIELDS, make_inputs

# Narrower (H 16 vs 32), shallower (2 vs 3 depths), fewer heads (2 vs 4).
SMALL_FIELDS = dict(TINY_FIELDS, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)


def classifier(fields: dict, num_classes: int = 3, dropout: float = 0.0) -> AlbertClassifier:
    return AlbertClassifier(AlbertBackbone(AlbertConfig(**fields)), num_classes=num_classes, dropout=dropout)


def copy_of(model: AlbertClassifier) -> AlbertClassifier:
    clone = AlbertClassifier.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def numpy_distillation_loss(student, teacher, labels, alpha, temperature, regression=False):
    student, teacher = np.float64(student), np.float64(teacher)
    if regression:
        hard = ((student - np.reshape(labels, student.shape)) ** 2).mean(-1)
        soft = ((student - teacher) ** 2).mean(-1)
    else:
        hard = -log_softmax(student)[np.arange(len(labels)), labels]
        soft = -temperature ** 2 * (np.exp(log_softmax(teacher / temperature))
                                    * log_softmax(student / temperature)).sum(-1)
    return alpha * hard + (1 - alpha) * soft, hard, soft


# ---------------------------------------------------------------- the losses
def test_distillation_loss_matches_numpy_on_fixed_logits():
    student = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0], [0.0, 0.0, 0.0]], "float32")
    teacher = np.array([[2.0, 1.0, -1.0], [0.1, 0.2, 3.0], [5.0, -5.0, 0.0]], "float32")
    labels = np.array([1, 2, 0])
    for alpha, temperature in ((0.3, 2.5), (0.0, 1.0), (1.0, 4.0)):
        total, hard, soft = distillation_loss(student, teacher, labels, alpha=alpha, temperature=temperature)
        expected = numpy_distillation_loss(student, teacher, labels, alpha, temperature)
        for got, want in zip((total, hard, soft), expected):
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
    # T^2 scaling, written out for one row: 0.5 * CE + 0.5 * 4 * soft CE at T = 2.
    p = np.exp(log_softmax(teacher[0] / 2.0))
    by_hand = 0.5 * -log_softmax(student[0])[1] + 0.5 * 4.0 * -(p * log_softmax(student[0] / 2.0)).sum()
    total, _, _ = distillation_loss(student, teacher, labels, alpha=0.5, temperature=2.0)
    np.testing.assert_allclose(np.asarray(total)[0], by_hand, rtol=1e-5)


def test_regression_loss_matches_numpy_and_ignores_temperature():
    student = np.array([[0.5], [2.0], [-1.0]], "float32")
    teacher = np.array([[1.0], [1.5], [0.0]], "float32")
    labels = np.array([0.0, 3.0, -2.0], "float32")
    expected = numpy_distillation_loss(student, teacher, labels, 0.25, None, regression=True)
    for temperature in (1.0, 3.0):
        got = distillation_loss(student, teacher, labels, alpha=0.25, temperature=temperature, regression=True)
        for value, want in zip(got, expected):
            np.testing.assert_allclose(np.asarray(value), want, rtol=1e-6)
    np.testing.assert_allclose(expected[0], [0.25 * 0.25 + 0.75 * 0.25, 0.25 * 1 + 0.75 * 0.25, 0.25 * 1 + 0.75 * 1])


@pytest.mark.parametrize("num_classes", [3, 1])
def test_distiller_loss_matches_numpy(num_classes):
    """The model-level loss, metrics and reduction against numpy on given teacher logits."""
    teacher, student = classifier(TINY_FIELDS, num_classes), classifier(SMALL_FIELDS, num_classes)
    distiller = Distiller(teacher, student, alpha=0.4, temperature=3.0)
    distiller.compile(optimizer="sgd")
    x = make_inputs(6, 9, TINY_FIELDS["vocab_size"], seed=2, pad=2)
    rng = np.random.default_rng(0)
    x[TEACHER_LOGITS_KEY] = rng.normal(0, 2, (6, num_classes)).astype("float32")
    y = rng.integers(0, 3, 6) if num_classes > 1 else rng.normal(size=6).astype("float32")

    student_logits = student({name: x[name] for name in INPUT_NAMES}).numpy()
    total, hard, soft = numpy_distillation_loss(student_logits, x[TEACHER_LOGITS_KEY], y, 0.4, 3.0,
                                                regression=num_classes == 1)
    terms = distiller.compute_losses(x, y)
    np.testing.assert_allclose(terms["loss"], total, rtol=1e-5, atol=1e-6)
    logs = distiller.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    np.testing.assert_allclose([logs["loss"], logs["hard_loss"], logs["distill_loss"]],
                               [total.mean(), hard.mean(), soft.mean()], rtol=1e-5)
    assert ("mse" if num_classes == 1 else "accuracy") in logs


# --------------------------------------------------------- training behaviour
def test_teacher_weights_never_change():
    teacher, student = classifier(TINY_FIELDS, dropout=0.1), classifier(SMALL_FIELDS, dropout=0.1)
    before = [variable.numpy().copy() for variable in teacher.variables]
    student_before = [variable.numpy().copy() for variable in student.trainable_variables]
    distiller = Distiller(teacher, student, alpha=0.5, temperature=2.0, hidden_state_weight=1.0,
                          attention_weight=1.0)
    assert not teacher.trainable
    assert {id(v) for v in distiller.trainable_variables}.isdisjoint({id(v) for v in teacher.variables})
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = make_inputs(8, 8, TINY_FIELDS["vocab_size"], pad=1)
    distiller.fit(x, np.arange(8) % 3, batch_size=4, epochs=1, verbose=0)
    assert all(np.array_equal(variable.numpy(), old) for variable, old in zip(teacher.variables, before))
    assert any(not np.array_equal(v.numpy(), old) for v, old in zip(student.trainable_variables, student_before))


def toy_task(num_examples: int, seed: int) -> tuple[dict, np.ndarray]:
    """Label 1 iff token 7 occurs in the sequence."""
    x = make_inputs(num_examples, 10, TINY_FIELDS["vocab_size"], seed=seed)
    x["input_word_ids"][x["input_word_ids"] == 7] = 8
    rng = np.random.default_rng(seed + 100)
    labels = rng.integers(0, 2, num_examples)
    positions = rng.integers(1, 10, num_examples)
    x["input_word_ids"][labels == 1, positions[labels == 1]] = 7
    return x, labels


def test_student_learns_from_soft_targets_alone():
    x, y = toy_task(256, seed=3)
    held_out_x, held_out_y = toy_task(128, seed=4)
    teacher = classifier(TINY_FIELDS, num_classes=2)
    teacher.compile(optimizer=keras.optimizers.Adam(3e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    teacher.fit(x, y, batch_size=32, epochs=5, verbose=0)
    assert (teacher.predict(held_out_x, verbose=0).argmax(-1) == held_out_y).mean() > 0.9

    student = classifier(dict(SMALL_FIELDS, num_hidden_layers=1), num_classes=2)
    distiller = Distiller(teacher, student, alpha=0.0, temperature=2.0)
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3))
    # No labels at all: alpha = 0 learns from the teacher only.
    history = distiller.fit(x, batch_size=32, epochs=6, verbose=0).history
    assert history["distill_loss"][-1] < history["distill_loss"][0]
    accuracy = (student.predict(held_out_x, verbose=0).argmax(-1) == held_out_y).mean()
    assert accuracy > 0.8, accuracy


def test_cached_teacher_logits_give_the_live_loss(tmp_path):
    teacher, student = classifier(TINY_FIELDS), classifier(SMALL_FIELDS)
    x = make_inputs(12, 8, TINY_FIELDS["vocab_size"], seed=5, pad=2)
    y = np.arange(12) % 3
    examples = tf.data.Dataset.from_tensor_slices((x, y))
    path = tmp_path / "cache" / "teacher_logits.npy"
    logits = cache_teacher_logits(teacher, examples, path, batch_size=5)
    assert logits.shape == (12, 3) and sorted(p.name for p in path.parent.iterdir()) == [path.name]
    np.testing.assert_array_equal(load_teacher_logits(path), logits)
    np.testing.assert_allclose(logits, teacher(x).numpy(), atol=1e-6)

    distiller = Distiller(teacher, student, alpha=0.3, temperature=2.0)
    distiller.compile(optimizer="sgd")
    live = distiller.evaluate(examples.batch(4), verbose=0, return_dict=True)
    cached = distiller.evaluate(with_teacher_logits(examples, path).batch(4), verbose=0, return_dict=True)
    for name in ("loss", "hard_loss", "distill_loss"):
        np.testing.assert_allclose(cached[name], live[name], rtol=0, atol=1e-6)
    # Rows follow examples through a shuffle after joining.
    joined = with_teacher_logits(examples, logits).shuffle(12, seed=0).batch(12)
    features, _ = next(iter(joined))
    live_logits = teacher({name: features[name] for name in INPUT_NAMES}).numpy()
    np.testing.assert_allclose(features[TEACHER_LOGITS_KEY], live_logits, atol=1e-6)
    with pytest.raises(ValueError, match="rebuild the cache"):
        with_teacher_logits(examples.take(5), path)


# ------------------------------------------------------- intermediate losses
def test_uniform_layer_mapping():
    assert uniform_layer_mapping(3, 12) == {0: 0, 1: 4, 2: 8, 3: 12}
    assert uniform_layer_mapping(4, 6, include_embeddings=False) == {1: 1, 2: 3, 3: 4, 4: 6}
    assert uniform_layer_mapping(3, 2) == {0: 0, 1: 1, 2: 1, 3: 2}
    assert validate_layer_mapping({2: 3, 0: 0}, 2, 3) == {0: 0, 2: 3}
    for bad in ({}, {3: 1}, {1: 4}, {1: -1}, {1.0: 1}):
        with pytest.raises(ValueError, match="layer_mapping"):
            validate_layer_mapping(bad, 2, 3)
    teacher, student = classifier(TINY_FIELDS), classifier(SMALL_FIELDS)
    assert Distiller(teacher, student, hidden_state_weight=1.0).layer_mapping == {0: 0, 1: 1, 2: 3}


@pytest.mark.parametrize("variant", [
    {},
    {"inner_group_num": 2},
    {"num_hidden_groups": 3},
    {"embedding_size": 32},  # E == H: no projection
])
def test_probe_reproduces_the_model(variant):
    model = classifier(dict(TINY_FIELDS, **variant))
    probe = ClassifierProbe(model)
    probe.check()
    x = make_inputs(2, 7, TINY_FIELDS["vocab_size"], pad=2)
    out = probe(x, attention_depths=[1, 3])
    assert len(out.hidden_states) == TINY_FIELDS["num_hidden_layers"] + 1
    np.testing.assert_allclose(out.hidden_states[-1], model.backbone(x)["sequence_output"], atol=1e-5)
    np.testing.assert_allclose(out.logits, model(x), atol=1e-5)
    assert sorted(out.attention_probs) == [1, 3]
    probs = out.attention_probs[3].numpy()
    assert probs.shape == (2, 4, 7, 7)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert probs[..., -2:].max() < 1e-6  # padded keys get no attention


def test_intermediate_losses_vanish_for_a_copy_of_the_teacher():
    teacher = classifier(TINY_FIELDS)
    x = make_inputs(3, 8, TINY_FIELDS["vocab_size"], pad=3)
    for kind in ("mse", "kl"):
        distiller = Distiller(teacher, copy_of(teacher), hidden_state_weight=1.0, attention_weight=1.0,
                              attention_loss=kind)
        kernel, bias = distiller.hidden_projection.get_weights()
        np.testing.assert_array_equal(kernel, np.eye(32))
        np.testing.assert_array_equal(bias, 0)
        assert distiller.layer_mapping == {0: 0, 1: 1, 2: 2, 3: 3}
        terms = distiller.compute_losses(x, np.array([0, 1, 2]))
        np.testing.assert_allclose(terms["hidden_loss"], 0.0, atol=1e-10)
        np.testing.assert_allclose(terms["attention_loss"], 0.0, atol=1e-8)


def test_hidden_state_loss_matches_a_hand_computation():
    teacher, student = classifier(TINY_FIELDS), classifier(SMALL_FIELDS)
    mapping = {0: 0, 2: 3}
    distiller = Distiller(teacher, student, alpha=1.0, hidden_state_weight=0.5, layer_mapping=mapping)
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(16, 32)).astype("float32"), rng.normal(size=32).astype("float32")
    distiller.hidden_projection.set_weights([kernel, bias])
    x = make_inputs(3, 8, TINY_FIELDS["vocab_size"], pad=3)
    y = np.array([0, 1, 2])
    student_states = ClassifierProbe(student)(x).hidden_states
    teacher_states = ClassifierProbe(teacher)(x).hidden_states
    mask = np.float64(x["input_mask"])
    per_pair = []
    for s, t in mapping.items():
        squared = ((np.float64(student_states[s]) @ kernel + bias - np.float64(teacher_states[t])) ** 2).mean(-1)
        per_pair.append((squared * mask).sum(-1) / mask.sum(-1))
    expected = np.mean(per_pair, axis=0)
    terms = distiller.compute_losses(x, y)
    np.testing.assert_allclose(terms["hidden_loss"], expected, rtol=1e-4)
    np.testing.assert_allclose(terms["loss"], terms["hard_loss"] + 0.5 * expected, rtol=1e-4)


# --------------------------------------------------------- saving, strategy
def test_the_student_is_what_gets_saved(tmp_path):
    teacher, student = classifier(TINY_FIELDS, num_classes=1), classifier(SMALL_FIELDS, num_classes=1)
    distiller = Distiller(teacher, student, alpha=0.5, hidden_state_weight=1.0)
    distiller.compile(optimizer="adam")
    x = make_inputs(4, 6, TINY_FIELDS["vocab_size"])
    logs = distiller.fit(x, np.linspace(-1, 1, 4), batch_size=4, epochs=1, verbose=0).history
    assert {"loss", "hard_loss", "distill_loss", "mse", "hidden_loss"} <= set(logs)
    distiller.student.save(tmp_path / "student.keras")
    restored = keras.saving.load_model(tmp_path / "student.keras")
    np.testing.assert_array_equal(restored(x), student(x))
    np.testing.assert_allclose(distiller.predict(x, verbose=0), student(x), atol=1e-6)
    with pytest.raises(NotImplementedError, match="student.save"):
        distiller.get_config()


def test_runs_under_a_distribution_strategy():
    x = make_inputs(8, 6, TINY_FIELDS["vocab_size"], pad=1)
    y = np.arange(8) % 3
    teacher, student = classifier(TINY_FIELDS), classifier(SMALL_FIELDS)
    plain = Distiller(teacher, student, alpha=0.5, hidden_state_weight=1.0)
    expected = {name: np.mean(value) for name, value in plain.compute_losses(x, y).items()}
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        mirrored_teacher, mirrored_student = copy_of(teacher), copy_of(student)
        distiller = Distiller(mirrored_teacher, mirrored_student, alpha=0.5, hidden_state_weight=1.0)
        distiller.hidden_projection.set_weights(plain.hidden_projection.get_weights())
        distiller.compile(optimizer="sgd")
    # The copied teacher was built with trainable=False: still none of its
    # variables is trained.
    assert len(distiller.trainable_variables) == len(mirrored_student.trainable_variables) + 2
    logs = distiller.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    for name in ("loss", "hard_loss", "distill_loss", "hidden_loss"):
        np.testing.assert_allclose(logs[name], expected[name], rtol=1e-5)
    distiller.fit(x, y, batch_size=4, epochs=1, verbose=0)


# ----------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def pair() -> tuple[AlbertClassifier, AlbertClassifier]:
    keras.utils.set_random_seed(0)
    return classifier(TINY_FIELDS), classifier(SMALL_FIELDS)


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": -0.1}, r"`alpha` must be in \[0, 1\]"),
    ({"alpha": 1.5}, r"`alpha` must be in \[0, 1\]"),
    ({"temperature": 0.0}, "`temperature` must be > 0"),
    ({"temperature": -2.0}, "`temperature` must be > 0"),
    ({"temperature": "2"}, "`temperature` must be a number"),
    ({"hidden_state_weight": -1.0}, "`hidden_state_weight` must be >= 0"),
    ({"attention_weight": 1.0, "attention_loss": "l1"}, "`attention_loss` must be one of"),
    ({"hidden_state_weight": 1.0, "layer_mapping": {5: 1}}, "layer_mapping"),
    ({"attention_weight": 1.0, "layer_mapping": {0: 0}}, "no transformer depth"),
])
def test_bad_arguments_raise(pair, kwargs, message):
    teacher, student = pair
    with pytest.raises(ValueError, match=message):
        Distiller(teacher, student, **kwargs)


def test_mismatched_models_raise(pair):
    teacher, student = pair
    with pytest.raises(ValueError, match=r"`num_classes` differs.*num_classes=3\)"):
        Distiller(teacher, classifier(SMALL_FIELDS, num_classes=2))
    with pytest.raises(ValueError, match="`vocab_size` differs"):
        Distiller(teacher, classifier(dict(SMALL_FIELDS, vocab_size=50)))
    with pytest.raises(ValueError, match="`student` must be an albert_tf.tasks.AlbertClassifier"):
        Distiller(teacher, student.backbone)
    with pytest.raises(ValueError, match="different models"):
        Distiller(teacher, teacher)
    with pytest.raises(ValueError, match="share variables"):
        Distiller(teacher, AlbertClassifier(teacher.backbone, num_classes=3))


def test_exported_from_the_package():
    assert albert_tf.Distiller is Distiller and "Distiller" in albert_tf.__all__
    assert dataclasses.is_dataclass(ClassifierProbe(classifier(SMALL_FIELDS))(make_inputs(1, 4, 100)))
