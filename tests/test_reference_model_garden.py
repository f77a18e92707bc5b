"""Numerical equivalence with TF Model Garden's `AlbertEncoder` (same weights).

Model Garden's encoder has the same variables in the same order (it shares one
`TransformerEncoderBlock` across depth, tanh GELU, LayerNorm epsilon 1e-12);
its attention kernels are 3-D, [H, heads, head_size], so they are reshaped.
"""

from __future__ import annotations

import numpy as np
import pytest

from albert_tf import AlbertBackbone
from conftest import make_inputs

albert_encoder = pytest.importorskip("official.nlp.modeling.networks.albert_encoder")


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
