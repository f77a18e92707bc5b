"""Teacher logits computed once, stored on disk, and joined back to the inputs.

A frozen teacher gives the same logits every epoch, so a large teacher need
run only once over the training set. The cache is a `.npy` array
`[num_examples, num_classes]` (float32) whose row `i` belongs to example `i`
of the dataset in its fixed order; it is written through a temporary file and
an atomic rename, so an interrupted run never leaves a truncated cache.

`with_teacher_logits` joins row `i` to example `i` (by index, via
`enumerate`) under the feature key `teacher_logits`, which `Distiller` uses in
place of a live teacher. Shuffle and batch *after* joining; the dataset given
to both functions must yield its examples in the same order every time.
"""

from __future__ import annotations

import io
import os

import keras
import numpy as np
import tensorflow as tf

from albert_tf.backbone import INPUT_NAMES
from albert_tf.io_utils import atomic_write_bytes

TEACHER_LOGITS_KEY = "teacher_logits"


def _features(element):
    # An example is `x`, `(x, y)` or `(x, y, sample_weight)`; x a feature dict.
    return element[0] if isinstance(element, tuple) else element


def _attach(element, logits):
    features = dict(_features(element))
    features[TEACHER_LOGITS_KEY] = logits
    if isinstance(element, tuple):
        return (features,) + tuple(element[1:])
    return features


def cache_teacher_logits(teacher: keras.Model, dataset: tf.data.Dataset, path: str | os.PathLike,
                         batch_size: int = 64) -> np.ndarray:
    """Runs `teacher` (inference mode) over `dataset` and saves its logits to `path`.

    Args:
        teacher: the teacher task model.
        dataset: *unbatched* examples (`x`, `(x, y)` or `(x, y, w)`, `x` a
            dict with the backbone's inputs) in a fixed order: no
            reshuffling shuffle, no random augmentation.
        path: the `.npy` file to write (directories are created).
        batch_size: how many examples the teacher scores at once.

    Returns:
        The logits, `[num_examples, num_classes]` float32.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    # tf.data passes a tuple element as separate arguments: x is the first either way.
    inputs = dataset.map(lambda *element: {name: element[0][name] for name in INPUT_NAMES})
    logits = teacher.predict(inputs.batch(batch_size), verbose=0)
    logits = np.asarray(logits, dtype="float32")
    save_teacher_logits(path, logits)
    return logits


def save_teacher_logits(path: str | os.PathLike, logits: np.ndarray) -> None:
    """Writes `logits` `[N, C]` to the `.npy` file `path` atomically."""
    logits = np.asarray(logits, dtype="float32")
    if logits.ndim != 2:
        raise ValueError(f"Teacher logits must be [num_examples, num_classes]. Received shape {logits.shape}")
    buffer = io.BytesIO()
    np.save(buffer, logits, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def load_teacher_logits(path: str | os.PathLike) -> np.ndarray:
    """Reads a cache written by `cache_teacher_logits` / `save_teacher_logits`."""
    logits = np.load(os.fspath(path), allow_pickle=False)
    if logits.ndim != 2:
        raise ValueError(f"{os.fspath(path)} is not a teacher-logits cache: expected [N, C], got shape {logits.shape}")
    return logits.astype("float32", copy=False)


def with_teacher_logits(dataset: tf.data.Dataset, logits: np.ndarray | str | os.PathLike) -> tf.data.Dataset:
    """Adds `teacher_logits` (row `i` of the cache) to the features of example `i`.

    Args:
        dataset: the same unbatched examples, in the same order, as were cached.
        logits: the cached array, or the path of its `.npy` file.

    Returns:
        A dataset of the same structure whose feature dicts also hold
        `teacher_logits` `[num_classes]`; shuffle / batch it afterwards.

    Raises:
        ValueError: when the dataset's known length differs from the cache's.
    """
    if not isinstance(logits, np.ndarray):
        logits = load_teacher_logits(logits)
    cardinality = int(dataset.cardinality())
    if cardinality >= 0 and cardinality != len(logits):
        raise ValueError(
            f"The teacher-logits cache has {len(logits)} rows but the dataset has {cardinality} examples: "
            "rebuild the cache with cache_teacher_logits on this (unbatched, unshuffled) dataset."
        )
    table = tf.constant(logits, dtype=tf.float32)

    def join(index, element):
        return _attach(element, tf.gather(table, index))

    return dataset.enumerate().map(join, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
