"""Per-depth hidden states and attention maps of an `AlbertClassifier`.

`AlbertBackbone` outputs only its last hidden state. `ClassifierProbe` re-runs
the backbone's own layer objects (same weights, nothing copied) in the order
`AlbertBackbone.__init__` applies them: embeddings, the optional E -> H
projection, the transformer layers depth by depth, the pooler; then the
classifier's dropout and dense head. It returns the logits together with the
hidden state after every depth, so a distillation step needs one forward pass
per model (one dropout draw for logits and hidden states alike).

Attention probabilities are recomputed from the `query` / `key` dense
sublayers of each layer's `AlbertSelfAttention` on that layer's input, with
the same scaling, float32 softmax and padding bias (before attention
dropout). That costs two extra projections and a `[T, T]` matmul per mapped
depth; the attention layer itself is left untouched.

`check()` compares the probe with the real model on a small batch; `Distiller`
runs it at construction, so a backbone change the probe does not follow fails
loudly instead of distilling from the wrong tensors.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import keras
import numpy as np
from keras import ops

from albert_tf.backbone import INPUT_NAMES, AlbertBackbone
from albert_tf.layers import AlbertSelfAttention
from albert_tf.tasks import AlbertClassifier

# The backbone's additive bias at padding keys (see backbone.py).
_PADDING_SCORE = -10000.0


@dataclasses.dataclass
class ProbeOutputs:
    """What `ClassifierProbe` returns.

    Attributes:
        logits: `[B, C]` float32, as the classifier's output.
        hidden_states: `L + 1` tensors `[B, T, H]`: index 0 the embedding
            output after the projection, index `l` the output of depth `l`.
        attention_probs: `{depth: [B, N, T, T]}` for the requested depths
            (1-based); the mean over the depth's inner layers when
            `inner_group_num > 1`.
    """

    logits: object
    hidden_states: list
    attention_probs: dict


def layers_by_depth(backbone: AlbertBackbone) -> list[list[keras.layers.Layer]]:
    """The transformer layers applied at each depth, in order."""
    by_depth = getattr(backbone, "layers_by_depth", None)
    if by_depth is not None:
        return [list(layers) for layers in by_depth]
    # Older backbones: whole-layer sharing, group g at depth l = group_of_layer(l).
    config = backbone.config
    return [list(backbone.transformer_groups[config.group_of_layer(depth)])
            for depth in range(config.num_hidden_layers)]


def attention_probabilities(attention: AlbertSelfAttention, hidden, attention_bias):
    """Softmax attention probabilities `[B, N, T, T]` of `attention` on `hidden` `[B, T, H]`,
    computed as `AlbertSelfAttention.call` does (before its dropout)."""
    batch, seq_length = ops.shape(hidden)[0], ops.shape(hidden)[1]
    heads, head_size = attention.num_heads, attention.head_size

    def split_heads(x):
        return ops.transpose(ops.reshape(x, (batch, seq_length, heads, head_size)), (0, 2, 1, 3))

    query = split_heads(attention.query(hidden) * (1.0 / math.sqrt(head_size)))
    key = split_heads(attention.key(hidden))
    scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))
    scores = ops.cast(scores, "float32") + ops.cast(attention_bias, "float32")
    return ops.softmax(scores, axis=-1)


class ClassifierProbe:
    """Runs an `AlbertClassifier` layer by layer, keeping the per-depth tensors.

    Args:
        model: the classifier whose layers (and weights) are used.
    """

    def __init__(self, model: AlbertClassifier):
        self.model = model
        self.backbone = model.backbone
        self.layers_by_depth = layers_by_depth(self.backbone)
        self.head_dropout = model.get_layer("classifier_dropout")
        self.head = model.get_layer("classifier")

    @property
    def num_layers(self) -> int:
        return len(self.layers_by_depth)

    def __call__(self, inputs: dict, training: bool = False, attention_depths: Iterable[int] = ()) -> ProbeOutputs:
        backbone = self.backbone
        attention_depths = set(attention_depths)
        word_ids, mask, type_ids = (inputs[name] for name in INPUT_NAMES)
        hidden = backbone.embeddings(word_ids, type_ids, training=training)
        if backbone.embedding_projection is not None:
            hidden = backbone.embedding_projection(hidden)
        attention_bias = ((1.0 - ops.cast(mask, "float32")) * _PADDING_SCORE)[:, None, None, :]
        hidden_states = [hidden]
        attention_probs = {}
        for depth, depth_layers in enumerate(self.layers_by_depth, start=1):
            maps = []
            for transformer_layer in depth_layers:
                if depth in attention_depths:
                    maps.append(attention_probabilities(transformer_layer.attention, hidden, attention_bias))
                hidden = transformer_layer(hidden, attention_bias, training=training)
            hidden_states.append(hidden)
            if maps:
                attention_probs[depth] = maps[0] if len(maps) == 1 else ops.mean(ops.stack(maps), axis=0)
        pooled = backbone.pooler(hidden[:, 0, :])
        logits = self.head(self.head_dropout(pooled, training=training))
        return ProbeOutputs(logits=logits, hidden_states=hidden_states, attention_probs=attention_probs)

    def check(self, seq_length: int = 6, atol: float = 1e-3) -> None:
        """Raises RuntimeError unless the probe reproduces the model's
        sequence output and logits (inference mode) on a small padded batch."""
        vocab = self.backbone.config.vocab_size
        word_ids = (np.arange(2 * seq_length, dtype="int32").reshape(2, seq_length) % max(vocab - 1, 1)) + 1
        mask = np.ones_like(word_ids)
        mask[1, -2:] = 0
        inputs = {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": np.zeros_like(word_ids)}
        probe = self(inputs, training=False)
        expected_sequence = self.backbone(inputs, training=False)["sequence_output"]
        expected_logits = self.model(inputs, training=False)
        for name, got, expected in (("sequence_output", probe.hidden_states[-1], expected_sequence),
                                    ("logits", probe.logits, expected_logits)):
            got = np.asarray(ops.convert_to_numpy(ops.cast(got, "float32")))
            expected = np.asarray(ops.convert_to_numpy(ops.cast(expected, "float32")))
            if got.shape != expected.shape or not np.allclose(got, expected, atol=atol, rtol=1e-3):
                raise RuntimeError(
                    f"The distillation probe does not reproduce {self.model.name}'s {name}: "
                    "AlbertBackbone's forward pass changed in a way albert_tf/distillation/probe.py "
                    "does not follow. Update ClassifierProbe.__call__ to apply the layers as the backbone does."
                )
