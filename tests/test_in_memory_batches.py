"""The in-memory batch pipelines run without tf.data autotuning (whose iterators waited ~2 s when destroyed)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from albert_tf.in_memory_batches import in_memory_batches
from albert_tf.length_batches import LengthTrim, length_sorted_dataset
from albert_tf.training.trainer import EpochBatches


def inputs(rows: int = 6, length: int = 16) -> dict[str, np.ndarray]:
    mask = (np.arange(length) < np.arange(2, 2 + rows)[:, None]).astype("int32")
    return {"input_word_ids": mask * 7, "input_mask": mask, "input_type_ids": np.zeros_like(mask)}


def test_in_memory_batches_keep_the_elements_and_turn_autotuning_off():
    dataset = tf.data.Dataset.range(5).batch(2)
    batched = in_memory_batches(dataset)
    assert batched.options().autotune.enabled is False
    assert [batch.numpy().tolist() for batch in batched] == [[0, 1], [2, 3], [4]]


def test_training_and_prediction_pipelines_are_not_autotuned():
    training = EpochBatches((inputs(), np.arange(6)), 4, 1, seed=0, trim=LengthTrim()).steps(0, 2)
    prediction, _ = length_sorted_dataset(inputs(), 4, LengthTrim())
    for dataset in (training, prediction):
        assert dataset.options().autotune.enabled is False
