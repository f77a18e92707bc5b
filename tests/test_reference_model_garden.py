"""Numerical equivalence with TF Model Garden's `AlbertEncoder` (same weights).

Model Garden's encoder has the same variables in the same order (it shares one
`TransformerEncoderBlock` across depth, tanh GELU, LayerNorm epsilon 1e-12);
its attention kernels are 3-D, [H, heads, head_size], so they are reshaped.
Every variable is randomised first: a fresh encoder has zero biases and
LayerNorm gamma 1 / beta 0, behind which a misrouted bias or LayerNorm would
not change the outputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from albert_tf import AlbertBackbone
from conftest import make_inputs

albert_encoder = pytest.importorskip("official.nlp.modeling.networks.albert_encoder")


def randomize(weights, seed: int) -> None:
    """Every weight drawn at random; LayerNorm scales around 1 so the activations keep their size."""
    rng = np.random.default_rng(seed)
    for weight in weights:
        values = rng.normal(0.0, 0.2, tuple(weight.shape))
        weight.assign((values + 1.0 if "gamma" in weight.name else values).astype("float32"))


def test_matches_model_garden_albert_encoder(tiny_config):
    config = tiny_config.replace(num_hidden_layers=4)
    reference = albert_encoder.AlbertEncoder(
        vocab_size=config.vocab_size,
        embedding_width=config.embedding_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        max_sequence_length=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        intermediate_size=config.intermediate_size,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        dict_outputs=True,
    )
    randomize(reference.weights, seed=11)
    assert all(np.ptp(weight.numpy()) > 0 for weight in reference.weights), "no constant variable left"
    backbone = AlbertBackbone(config)
    assert len(reference.weights) == len(backbone.weights)
    for ours, theirs in zip(backbone.weights, reference.weights):
        assert int(np.prod(ours.shape)) == int(np.prod(theirs.shape)), (ours.path, theirs.name)
        ours.assign(np.reshape(theirs.numpy(), ours.shape))

    inputs = make_inputs(3, 20, config.vocab_size, seed=7, pad=6)
    expected = reference(inputs)
    actual = backbone(inputs)
    real = inputs["input_mask"].astype(bool)
    np.testing.assert_allclose(
        actual["sequence_output"].numpy()[real], expected["sequence_output"].numpy()[real], atol=1e-5
    )
    np.testing.assert_allclose(actual["pooled_output"], expected["pooled_output"], atol=1e-5)
