"""`copy_with_random_labels`: random sentence labels, every other byte kept."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
from albert_tf.data.label_control import copy_with_random_labels
from albert_tf.data.records import LABEL_FEATURE
from conftest import SHARED_DATA

SPM = SHARED_DATA / "albert" / "spiece.model"
SAMPLE = SHARED_DATA / "corpus" / "hf_sample_text.txt"
pytestmark = pytest.mark.skipif(not SPM.exists(), reason="needs ../shared/data")


def _examples(directory):
    return [tf.train.Example.FromString(raw) for path in sorted(directory.glob("*.tfrecord"))
            for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator()]


def test_only_the_labels_change_and_they_are_coin_flips(tmp_path):
    source = tmp_path / "records"
    create_pretraining_data([str(SAMPLE)], str(SPM), str(source),
                            PretrainingDataConfig(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=20),
                            progress=False)
    count = copy_with_random_labels(source, tmp_path / "control")
    before, after = _examples(source), _examples(tmp_path / "control")
    assert count == len(before) == len(after) > 100
    labels_before = [e.features.feature[LABEL_FEATURE].int64_list.value[0] for e in before]
    labels_after = [e.features.feature[LABEL_FEATURE].int64_list.value[0] for e in after]
    for old, new, label in zip(before, after, labels_before):
        new.features.feature[LABEL_FEATURE].int64_list.value[0] = label  # put the true label back
        assert new.SerializeToString(deterministic=True) == old.SerializeToString(deterministic=True)
    agreement = sum(a == b for a, b in zip(labels_before, labels_after)) / count
    assert set(labels_after) == {0, 1} and 0.35 < agreement < 0.65
    assert "label_control" in json.loads((tmp_path / "control" / "metadata.json").read_text())
    with pytest.raises(FileExistsError):
        copy_with_random_labels(source, tmp_path / "control")
    with pytest.raises(ValueError, match="No .tfrecord files"):
        copy_with_random_labels(tmp_path / "control" / "nothing", tmp_path / "other")
