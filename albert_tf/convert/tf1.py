"""Original google-research/albert TF1 checkpoints (`model.ckpt-*`) and TF-Hub TF1 modules.

Variable names follow `modeling.py` of google-research/albert; TF-Hub TF1
modules put everything under `module/`. Kernels are [in, out] as in Keras,
except the SOP classifier's `output_weights`, stored [2, H] (out, in).
Optimizer slots (`adam_m`, `adam_v`, ...) and counters are skipped.
"""

from __future__ import annotations

import os
import re
from typing import Mapping

from albert_tf.convert.formats import NameTable, TransposedKernelsFormat
from albert_tf.convert.sources import TFCheckpointSource

_TRANSFORMER = "bert/encoder/transformer/group_{group}/inner_group_{inner}/"
HUB_PREFIX = "module/"

TF1_NAMES = NameTable(
    fixed={
        "embeddings/word_embeddings": "bert/embeddings/word_embeddings",
        "embeddings/position_embeddings": "bert/embeddings/position_embeddings",
        "embeddings/type_embeddings": "bert/embeddings/token_type_embeddings",
        "embeddings/layer_norm/gamma": "bert/embeddings/LayerNorm/gamma",
        "embeddings/layer_norm/beta": "bert/embeddings/LayerNorm/beta",
        "embedding_projection/kernel": "bert/encoder/embedding_hidden_mapping_in/kernel",
        "embedding_projection/bias": "bert/encoder/embedding_hidden_mapping_in/bias",
        "pooler/kernel": "bert/pooler/dense/kernel",
        "pooler/bias": "bert/pooler/dense/bias",
        "mlm/transform/kernel": "cls/predictions/transform/dense/kernel",
        "mlm/transform/bias": "cls/predictions/transform/dense/bias",
        "mlm/layer_norm/gamma": "cls/predictions/transform/LayerNorm/gamma",
        "mlm/layer_norm/beta": "cls/predictions/transform/LayerNorm/beta",
        "mlm/output_bias": "cls/predictions/output_bias",
        "sop/kernel": "cls/seq_relationship/output_weights",
        "sop/bias": "cls/seq_relationship/output_bias",
    },
    layer_prefix=_TRANSFORMER,
    layer_parts={
        "attention/query/kernel": "attention_1/self/query/kernel",
        "attention/query/bias": "attention_1/self/query/bias",
        "attention/key/kernel": "attention_1/self/key/kernel",
        "attention/key/bias": "attention_1/self/key/bias",
        "attention/value/kernel": "attention_1/self/value/kernel",
        "attention/value/bias": "attention_1/self/value/bias",
        "attention/output/kernel": "attention_1/output/dense/kernel",
        "attention/output/bias": "attention_1/output/dense/bias",
        "attention_layer_norm/gamma": "LayerNorm/gamma",
        "attention_layer_norm/beta": "LayerNorm/beta",
        "feed_forward/intermediate/kernel": "ffn_1/intermediate/dense/kernel",
        "feed_forward/intermediate/bias": "ffn_1/intermediate/dense/bias",
        "feed_forward/output/kernel": "ffn_1/intermediate/output/dense/kernel",
        "feed_forward/output/bias": "ffn_1/intermediate/output/dense/bias",
        "feed_forward_layer_norm/gamma": "LayerNorm_1/gamma",
        "feed_forward_layer_norm/beta": "LayerNorm_1/beta",
    },
)

# Slots of Adam/LAMB/momentum optimizers, loss-scale state and step counters.
_BOOKKEEPING = re.compile(
    r"(^|/)(adam_[mv]|lamb_[mv]|Adam(_\d+)?|LAMB(_\d+)?|Momentum|Adagrad|RMSProp(_\d+)?|ExponentialMovingAverage)$"
    r"|^(global_step|beta[12]_power|good_steps|loss_scale|current_loss_scale)$"
)


class TF1Format(TransposedKernelsFormat):
    """google-research/albert variable names (see `TF1_NAMES`)."""

    label = "TF1 (google-research/albert) checkpoint"
    table = TF1_NAMES

    def transposed(self, key: str) -> bool:
        return key == "sop/kernel"

    def is_bookkeeping(self, name: str) -> bool:
        return bool(_BOOKKEEPING.search(name))


def _without_hub_prefix(reader) -> Mapping[str, str]:
    keys = list(reader.get_variable_to_shape_map())
    # A TF-Hub TF1 module stores the same names under `module/`.
    hub = any(key.startswith(HUB_PREFIX + "bert/") for key in keys)
    return {(key[len(HUB_PREFIX):] if hub and key.startswith(HUB_PREFIX) else key): key for key in keys}


def open_tf1_checkpoint(path: str | os.PathLike) -> TFCheckpointSource:
    """A google-research TF1 checkpoint (or TF-Hub module variables) with the `module/` prefix removed.

    Raises:
        FileNotFoundError: no checkpoint at `path`.
    """
    return TFCheckpointSource(path, "TF1 checkpoint", rename=_without_hub_prefix)
