"""A control for sentence-task experiments: the same records with coin-flip labels.

A model that learns sentence order from records must fail on a copy whose
`sentence_order_label` is random and whose other features are unchanged; if
it still scores above chance, the label leaks through the inputs or the
pipeline. Used by the SOP test and `benchmarks/sop_recipe.py`.
"""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np

from albert_tf.data.records import LABEL_FEATURE


def copy_with_random_labels(source_dir: str | os.PathLike, target_dir: str | os.PathLike, seed: int = 0) -> int:
    """Copies a record directory, replacing every sentence-task label with a random 0 or 1.

    Every other feature, the record order and the file names stay the same;
    `metadata.json` gains a `label_control` note (its statistics no longer
    describe the labels). Returns the number of records. Refuses a target
    that exists, so nothing is overwritten.
    """
    import tensorflow as tf

    source, target = pathlib.Path(source_dir), pathlib.Path(target_dir)
    shards = sorted(source.glob("*.tfrecord"))
    if not shards:
        raise ValueError(f"No .tfrecord files in {source}: pass a directory written by `albert create-data`.")
    target.mkdir(parents=True, exist_ok=False)
    rng = np.random.default_rng(seed)
    count = 0
    for shard in shards:
        with tf.io.TFRecordWriter(str(target / shard.name)) as writer:
            for raw in tf.data.TFRecordDataset(str(shard)).as_numpy_iterator():
                example = tf.train.Example.FromString(raw)
                example.features.feature[LABEL_FEATURE].int64_list.value[0] = int(rng.integers(0, 2))
                writer.write(example.SerializeToString(deterministic=True))
                count += 1
    for path in source.glob("*.json"):
        (target / path.name).write_bytes(path.read_bytes())
    metadata_path = target / "metadata.json"
    if metadata_path.exists():
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        metadata["label_control"] = f"labels replaced by coin flips (seed {seed}); copied from {source}"
        metadata_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return count
