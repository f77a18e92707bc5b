"""Shared fixtures: tiny configurations and deterministic inputs."""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from albert_tf import AlbertConfig  # noqa: E402

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"

TINY_FIELDS = dict(
    vocab_size=100,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)


@pytest.fixture
def tiny_config() -> AlbertConfig:
    """A few-thousand-parameter ALBERT for fast structural tests."""
    return AlbertConfig(**TINY_FIELDS)


@pytest.fixture(autouse=True)
def _isolate_keras_state():
    """Each test starts from the float32 policy and a fixed seed."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


def make_inputs(batch: int, seq_length: int, vocab_size: int, seed: int = 0, pad: int = 0) -> dict[str, np.ndarray]:
    """Random ids with `[CLS]`-like first token, two segments and `pad` trailing padding tokens."""
    rng = np.random.default_rng(seed)
    word_ids = rng.integers(5, vocab_size, size=(batch, seq_length)).astype("int32")
    mask = np.ones((batch, seq_length), "int32")
    type_ids = np.zeros((batch, seq_length), "int32")
    type_ids[:, seq_length // 2:] = 1
    if pad:
        word_ids[:, -pad:] = 0
        mask[:, -pad:] = 0
        type_ids[:, -pad:] = 0
    return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids}
