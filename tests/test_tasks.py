"""Fine-tuning task models: shapes, saving, per-choice consistency, learning a toy task."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from albert_tf import AlbertBackbone
from albert_tf.tasks import AlbertClassifier, AlbertMultipleChoice, AlbertSpanQA, AlbertTokenClassifier
from conftest import make_inputs

BUILDERS = {
    "classifier": lambda backbone: AlbertClassifier(backbone, num_classes=3),
    "regression": lambda backbone: AlbertClassifier(backbone, num_classes=1),
    "span_qa": lambda backbone: AlbertSpanQA(backbone),
    "token_classifier": lambda backbone: AlbertTokenClassifier(backbone, num_labels=5),
}
EXPECTED_SHAPES = {
    "classifier": (2, 3),
    "regression": (2, 1),
    "span_qa": {"start_logits": (2, 11), "end_logits": (2, 11)},
    "token_classifier": (2, 11, 5),
}


def shapes(outputs):
    if isinstance(outputs, dict):
        return {name: tuple(value.shape) for name, value in outputs.items()}
    return tuple(outputs.shape)


@pytest.mark.parametrize("task", sorted(BUILDERS))
def test_shapes_and_keras_round_trip(tmp_path, tiny_config, task):
    model = BUILDERS[task](AlbertBackbone(tiny_config))
    inputs = make_inputs(2, 11, tiny_config.vocab_size, pad=3)
    outputs = model(inputs)
    assert shapes(outputs) == EXPECTED_SHAPES[task]
    model.save(tmp_path / "task.keras")
    restored = keras.saving.load_model(tmp_path / "task.keras")
    assert type(restored) is type(model) and isinstance(restored.backbone, AlbertBackbone)
    restored_outputs = restored(inputs)
    if isinstance(outputs, dict):
        for name in outputs:
            np.testing.assert_array_equal(restored_outputs[name], outputs[name])
    else:
        np.testing.assert_array_equal(restored_outputs, outputs)


def test_multiple_choice_scores_each_choice_independently(tmp_path, tiny_config):
    model = AlbertMultipleChoice(AlbertBackbone(tiny_config), num_choices=4)
    per_choice = [make_inputs(3, 10, tiny_config.vocab_size, seed=seed) for seed in range(4)]
    inputs = {name: np.stack([choice[name] for choice in per_choice], axis=1) for name in per_choice[0]}
    logits = model(inputs).numpy()
    assert logits.shape == (3, 4)
    head = model.get_layer("choice_score")
    for index, choice in enumerate(per_choice):
        alone = head(model.backbone(choice)["pooled_output"]).numpy()[:, 0]
        np.testing.assert_allclose(logits[:, index], alone, atol=1e-5)
    model.save(tmp_path / "mc.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "mc.keras")(inputs), logits)


def test_classifier_learns_a_toy_task(tiny_config):
    """Label 1 iff token 7 occurs: learnable only through attention over the sequence."""
    inputs = make_inputs(256, 12, tiny_config.vocab_size, seed=3)
    inputs["input_word_ids"][inputs["input_word_ids"] == 7] = 8
    labels = np.random.default_rng(0).integers(0, 2, 256)
    positions = np.random.default_rng(1).integers(1, 12, 256)
    inputs["input_word_ids"][labels == 1, positions[labels == 1]] = 7
    model = AlbertClassifier(AlbertBackbone(tiny_config), num_classes=2, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(inputs, labels, batch_size=32, epochs=12, verbose=0).history
    assert history["accuracy"][-1] > 0.95


@pytest.mark.parametrize("build, message", [
    (lambda b: AlbertClassifier(b, num_classes=0), "num_classes"),
    (lambda b: AlbertTokenClassifier(b, num_labels=0), "num_labels"),
    (lambda b: AlbertMultipleChoice(b, num_choices=1), "num_choices"),
])
def test_bad_arguments(tiny_config, build, message):
    with pytest.raises(ValueError, match=message):
        build(AlbertBackbone(tiny_config))
