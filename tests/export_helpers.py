"""Shared, cached artifacts for the export tests: one tiny SST-2 classifier, its bundle and SavedModel.

Built once per pytest process (the export tests share them), in a temporary
directory removed at exit.
"""

from __future__ import annotations

import atexit
import functools
import pathlib
import shutil
import tempfile

import keras
import numpy as np
import pytest

from albert_tf import AlbertConfig, AlbertTokenizer
from albert_tf.backbone import AlbertBackbone
from albert_tf.tasks import AlbertClassifier

from conftest import SHARED_DATA  # noqa: E402

SPM_MODEL = SHARED_DATA / "albert" / "spiece.model"
SST2 = SHARED_DATA / "glue" / "SST-2"
SEQ_LENGTH = 32
LABELS = ("negative", "positive")
# The real 30k vocabulary with a small encoder: E=16, H=32, 2 layers.
TINY_CLASSIFIER_FIELDS = dict(vocab_size=30000, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=64, max_position_embeddings=64)


@functools.lru_cache(maxsize=None)
def workdir() -> pathlib.Path:
    path = pathlib.Path(tempfile.mkdtemp(prefix="albert-export-test-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


_DATA_PRESENT = all(path.is_file() for path in (SPM_MODEL, SST2 / "train.tsv", SST2 / "dev.tsv",
                                                  SHARED_DATA / "corpus" / "hf_sample_text.txt"))
_NO_DATA = f"shared data (real ALBERT spiece.model, SST-2, sample text) not found under {SHARED_DATA}"
# For tests that read the shared files themselves; the helpers below skip on their own.
needs_data = pytest.mark.skipif(not _DATA_PRESENT, reason=_NO_DATA)


def require_data() -> None:
    """Skip the calling test (as the other data tests do) when the shared data is absent."""
    if not _DATA_PRESENT:
        pytest.skip(_NO_DATA)


@functools.lru_cache(maxsize=None)
def tokenizer() -> AlbertTokenizer:
    require_data()
    return AlbertTokenizer(SPM_MODEL)


@functools.lru_cache(maxsize=None)
def trained_classifier() -> AlbertClassifier:
    """A tiny classifier trained ~150 steps on SST-2 train rows: enough signal for a meaningful argmax.

    (At learning rate 3e-3 this run sat on the edge of collapsing to a constant output: float-rounding
    differences in the gradient decided which side it fell; 1e-3 learns on either.)
    """
    from albert_tf.export.representative_data import encode_texts, read_labeled_tsv

    require_data()
    keras.utils.set_random_seed(7)
    texts, labels = read_labeled_tsv(SST2 / "train.tsv", limit=2400)
    inputs = encode_texts(tokenizer(), texts, SEQ_LENGTH)
    model = AlbertClassifier(AlbertBackbone(AlbertConfig(**TINY_CLASSIFIER_FIELDS)), num_classes=2, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(inputs, labels, batch_size=32, epochs=2, verbose=0)
    return model


@functools.lru_cache(maxsize=None)
def bundle():
    """The edge bundle of `trained_classifier` with all four quantizations and the text model."""
    from albert_tf.export import export_bundle
    from albert_tf.export.representative_data import read_texts

    require_data()
    texts = read_texts(SST2 / "dev.tsv", limit=200)
    return export_bundle(trained_classifier(), SPM_MODEL, workdir() / "bundle", seq_length=SEQ_LENGTH,
                         quantizations=("none", "fp16", "dynamic", "int8"), labels=LABELS,
                         representative_texts=texts, text_model=True)


@functools.lru_cache(maxsize=None)
def saved_model_dir() -> pathlib.Path:
    from albert_tf.export import export_saved_model

    require_data()
    return export_saved_model(trained_classifier(), workdir() / "serving", SPM_MODEL, seq_length=SEQ_LENGTH)


def keras_outputs(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    logits = np.asarray(trained_classifier()(inputs, training=False))
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    return {"logits": logits, "probabilities": probabilities / probabilities.sum(-1, keepdims=True)}
