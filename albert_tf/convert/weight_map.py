"""Canonical weight keys of albert_tf models and the Keras variables behind them.

Every converter speaks in these keys; each checkpoint format only says how a
key is spelled in its files and how the array is laid out there. Transformer
weights are keyed per (group, inner layer), so models with several groups or
several layers per group map one layer at a time:

    embeddings/word_embeddings               [V, E]
    embeddings/position_embeddings           [P, E]
    embeddings/type_embeddings               [T, E]
    embeddings/layer_norm/{gamma,beta}       [E]
    embedding_projection/{kernel,bias}       [E, H], [H]
    group_{g}/layer_{i}/attention/{query,key,value,output}/{kernel,bias}
    group_{g}/layer_{i}/attention_layer_norm/{gamma,beta}
    group_{g}/layer_{i}/feed_forward/{intermediate,output}/{kernel,bias}
    group_{g}/layer_{i}/feed_forward_layer_norm/{gamma,beta}
    pooler/{kernel,bias}
    mlm/transform/{kernel,bias}, mlm/layer_norm/{gamma,beta}, mlm/output_bias   (pretrainer)
    sop/{kernel,bias}                                                            (pretrainer)

Kernels are Keras-style [in, out]. The MLM decoder has no key: it is the word
embedding matrix (tied).
"""

from __future__ import annotations

import re
from typing import Any

import keras

EMBEDDING_KEYS = (
    "embeddings/word_embeddings",
    "embeddings/position_embeddings",
    "embeddings/type_embeddings",
    "embeddings/layer_norm/gamma",
    "embeddings/layer_norm/beta",
    "embedding_projection/kernel",
    "embedding_projection/bias",
)
POOLER_KEYS = ("pooler/kernel", "pooler/bias")
WORD_EMBEDDINGS_KEY = "embeddings/word_embeddings"

# The part of a transformer-layer key after `group_{g}/layer_{i}/`.
LAYER_PARTS = (
    "attention/query/kernel", "attention/query/bias",
    "attention/key/kernel", "attention/key/bias",
    "attention/value/kernel", "attention/value/bias",
    "attention/output/kernel", "attention/output/bias",
    "attention_layer_norm/gamma", "attention_layer_norm/beta",
    "feed_forward/intermediate/kernel", "feed_forward/intermediate/bias",
    "feed_forward/output/kernel", "feed_forward/output/bias",
    "feed_forward_layer_norm/gamma", "feed_forward_layer_norm/beta",
)
MLM_KEYS = (
    "mlm/transform/kernel", "mlm/transform/bias",
    "mlm/layer_norm/gamma", "mlm/layer_norm/beta",
    "mlm/output_bias",
)
SOP_KEYS = ("sop/kernel", "sop/bias")

_LAYER_KEY = re.compile(r"^group_(\d+)/layer_(\d+)/(.+)$")

# `sharing` values (None: a config without the field) that keep the
# whole-layer sharing that every checkpoint format here describes.
_ALL_SHARED = (None, "all")


def layer_key(group: int, inner: int, part: str) -> str:
    """The canonical key of `part` in inner layer `inner` of group `group`."""
    return f"group_{group}/layer_{inner}/{part}"


def split_layer_key(key: str) -> tuple[int, int, str] | None:
    """(group, inner layer, part) of a transformer-layer key; None for other keys."""
    match = _LAYER_KEY.match(key)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(3)


def backbone_of(model: keras.Model) -> Any:
    """The `AlbertBackbone` of a backbone or pretrainer."""
    from albert_tf.backbone import AlbertBackbone
    from albert_tf.pretrainer import AlbertPretrainer

    if isinstance(model, AlbertPretrainer):
        return model.backbone
    if isinstance(model, AlbertBackbone):
        return model
    raise ValueError(
        f"Expected an AlbertBackbone or AlbertPretrainer. Received: {type(model).__name__}"
    )


def _dense(prefix: str, layer: keras.layers.Dense) -> dict[str, keras.Variable]:
    return {f"{prefix}/kernel": layer.kernel, f"{prefix}/bias": layer.bias}


def _layer_norm(prefix: str, layer: keras.layers.LayerNormalization) -> dict[str, keras.Variable]:
    return {f"{prefix}/gamma": layer.gamma, f"{prefix}/beta": layer.beta}


def transformer_layer_variables(layer: Any) -> dict[str, keras.Variable]:
    """One `AlbertTransformerLayer`'s variables by layer part (see `LAYER_PARTS`)."""
    attention, feed_forward = layer.attention, layer.feed_forward
    variables: dict[str, keras.Variable] = {}
    variables.update(_dense("attention/query", attention.query))
    variables.update(_dense("attention/key", attention.key))
    variables.update(_dense("attention/value", attention.value))
    variables.update(_dense("attention/output", attention.output_dense))
    variables.update(_layer_norm("attention_layer_norm", layer.attention_layer_norm))
    variables.update(_dense("feed_forward/intermediate", feed_forward.intermediate))
    variables.update(_dense("feed_forward/output", feed_forward.output_dense))
    variables.update(_layer_norm("feed_forward_layer_norm", layer.feed_forward_layer_norm))
    return variables


def model_variables(model: keras.Model, include_heads: bool = True) -> dict[str, keras.Variable]:
    """Every weight of a backbone or pretrainer by canonical key, in a stable order.

    Walks the layer objects by attribute (not `model.weights` order), so the
    map does not depend on how Keras tracks or orders variables.
    """
    from albert_tf.pretrainer import AlbertPretrainer

    backbone = backbone_of(model)
    sharing = getattr(backbone.config, "sharing", None)
    if sharing not in _ALL_SHARED:
        raise ValueError(
            f"Checkpoint conversion supports the all-shared ALBERT structure only. Received: sharing={sharing!r}"
        )
    embeddings = backbone.embeddings
    variables: dict[str, keras.Variable] = {
        "embeddings/word_embeddings": embeddings.word_embeddings.embeddings,
        "embeddings/position_embeddings": embeddings.position_embeddings.embeddings,
        "embeddings/type_embeddings": embeddings.type_embeddings.embeddings,
    }
    variables.update(_layer_norm("embeddings/layer_norm", embeddings.layer_norm))
    if backbone.embedding_projection is not None:  # absent when E == H (as the original code)
        variables.update(_dense("embedding_projection", backbone.embedding_projection))
    for group_index, group in enumerate(backbone.transformer_groups):
        for inner_index, layer in enumerate(group):
            for part, variable in transformer_layer_variables(layer).items():
                variables[layer_key(group_index, inner_index, part)] = variable
    variables.update(_dense("pooler", backbone.pooler))
    if include_heads and isinstance(model, AlbertPretrainer):
        head = model.masked_lm_head
        variables.update(_dense("mlm/transform", head.transform))
        variables.update(_layer_norm("mlm/layer_norm", head.layer_norm))
        variables["mlm/output_bias"] = head.output_bias
        variables.update(_dense("sop", model.sop_head))
    return variables
