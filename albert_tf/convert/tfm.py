"""TF Model Garden (TF2) `AlbertEncoder` and `BertPretrainerV2` checkpoints.

Object-based checkpoints (`tf.train.Checkpoint(encoder=...)` or
`(model=...)`) key variables by object path (`layer_with_weights-5/...`), which
depends on construction order. Their object graph also records each
variable's own name (`full_name`: `transformer/self_attention/query/kernel`,
the names in Model Garden's tf2_albert_encoder_checkpoint_converter.py);
those are what this module maps, so nothing depends on order. A name-based
checkpoint with those names as keys reads the same way.

The encoder holds one `TransformerEncoderBlock` reused at every depth (no
groups); its attention kernels are 3-D: [H, heads, head_size] for
query/key/value, [heads, head_size, H] for the output. `BertPretrainerV2`'s
masked-LM head maps onto ours. Its classification heads read the raw [CLS]
vector, not the pooled output, so they have no counterpart in
`AlbertPretrainer` and are reported unused.
"""

from __future__ import annotations

import os
import re
from typing import Mapping

import numpy as np

from albert_tf.convert.errors import ConversionError
from albert_tf.convert.formats import CheckpointFormat, NameTable
from albert_tf.convert.sources import TFCheckpointSource

TFM_NAMES = NameTable(
    fixed={
        "embeddings/word_embeddings": "word_embeddings/embeddings",
        "embeddings/position_embeddings": "position_embedding/embeddings",
        "embeddings/type_embeddings": "type_embeddings/embeddings",
        "embeddings/layer_norm/gamma": "embeddings/layer_norm/gamma",
        "embeddings/layer_norm/beta": "embeddings/layer_norm/beta",
        "embedding_projection/kernel": "embedding_projection/kernel",
        "embedding_projection/bias": "embedding_projection/bias",
        "pooler/kernel": "pooler_transform/kernel",
        "pooler/bias": "pooler_transform/bias",
        "mlm/transform/kernel": "bert/cls/predictions/transform/dense/kernel",
        "mlm/transform/bias": "bert/cls/predictions/transform/dense/bias",
        "mlm/layer_norm/gamma": "bert/cls/predictions/transform/LayerNorm/gamma",
        "mlm/layer_norm/beta": "bert/cls/predictions/transform/LayerNorm/beta",
        "mlm/output_bias": "bert/cls/predictions/output_bias/bias",
    },
    layer_prefix="transformer/",
    layer_parts={
        "attention/query/kernel": "self_attention/query/kernel",
        "attention/query/bias": "self_attention/query/bias",
        "attention/key/kernel": "self_attention/key/kernel",
        "attention/key/bias": "self_attention/key/bias",
        "attention/value/kernel": "self_attention/value/kernel",
        "attention/value/bias": "self_attention/value/bias",
        "attention/output/kernel": "self_attention/attention_output/kernel",
        "attention/output/bias": "self_attention/attention_output/bias",
        "attention_layer_norm/gamma": "self_attention_layer_norm/gamma",
        "attention_layer_norm/beta": "self_attention_layer_norm/beta",
        "feed_forward/intermediate/kernel": "intermediate/kernel",
        "feed_forward/intermediate/bias": "intermediate/bias",
        "feed_forward/output/kernel": "output/kernel",
        "feed_forward/output/bias": "output/bias",
        "feed_forward_layer_norm/gamma": "output_layer_norm/gamma",
        "feed_forward_layer_norm/beta": "output_layer_norm/beta",
    },
    max_layers=(1, 1),
)

_PROJECTIONS = ("query", "key", "value")
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_BOOKKEEPING = re.compile(r"\.OPTIMIZER_SLOT/|^(optimizer|save_counter|global_step|step)(/|$)|_CHECKPOINTABLE")


class TFMFormat(CheckpointFormat):
    """Model Garden `AlbertEncoder` variable names (see `TFM_NAMES`)."""

    label = "TF Model Garden AlbertEncoder checkpoint"
    table = TFM_NAMES

    @staticmethod
    def _attention(key: str) -> tuple[str, str] | None:
        # ("query" | "key" | "value" | "output", "kernel" | "bias") for attention keys.
        match = re.search(r"/attention/(\w+)/(kernel|bias)$", key)
        return (match.group(1), match.group(2)) if match else None

    def source_shapes(self, key, target_shape, config):
        target_shape = tuple(target_shape)
        attention = self._attention(key)
        if attention is None:
            return (target_shape,)
        projection, kind = attention
        heads, head_size, hidden = config.num_attention_heads, config.head_size, config.hidden_size
        if projection in _PROJECTIONS:
            stored = (hidden, heads, head_size) if kind == "kernel" else (heads, head_size)
        elif kind == "kernel":
            stored = (heads, head_size, hidden)
        else:
            stored = (hidden,)
        # A renamed TF1 checkpoint (the converter's intermediate) keeps 2-D kernels.
        return (stored, target_shape) if stored != target_shape else (stored,)

    def to_ours(self, key, array, target_shape):
        # [H, N, D] -> [H, N*D] and [N, D, H] -> [N*D, H] are plain reshapes (row-major).
        return np.reshape(array, target_shape)

    def is_bookkeeping(self, name: str) -> bool:
        return bool(_BOOKKEEPING.search(name))


def _variable_names(reader) -> Mapping[str, str]:
    """Variable name -> checkpoint key, from the object graph's `full_name`s."""
    keys = reader.get_variable_to_shape_map()
    if _OBJECT_GRAPH_KEY not in keys:
        return {key: key for key in keys}  # name-based checkpoint: keys are the names
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(_OBJECT_GRAPH_KEY))
    names: dict[str, str] = {}
    named_keys = set()
    for node in graph.nodes:
        for attribute in node.attributes:
            if attribute.checkpoint_key not in keys:
                continue
            named_keys.add(attribute.checkpoint_key)
            name = attribute.full_name or attribute.checkpoint_key
            if _BOOKKEEPING.search(attribute.checkpoint_key):
                name = attribute.checkpoint_key  # optimizer slots share their variable's name
            previous = names.setdefault(name, attribute.checkpoint_key)
            if previous != attribute.checkpoint_key:
                raise ConversionError(
                    f"Two variables in the checkpoint are both named {name!r} ({previous} and "
                    f"{attribute.checkpoint_key}); save a single encoder or pretrainer per checkpoint."
                )
    for key in keys:
        if key not in named_keys and key != _OBJECT_GRAPH_KEY:
            names.setdefault(key, key)
    return names


def open_tfm_checkpoint(path: str | os.PathLike) -> TFCheckpointSource:
    """A Model Garden TF2 checkpoint, variables named by their `full_name`.

    Raises:
        FileNotFoundError: no checkpoint at `path`.
    """
    return TFCheckpointSource(path, "TF Model Garden checkpoint", rename=_variable_names)
