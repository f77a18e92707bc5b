"""`AlbertBackbone`: the ALBERT encoder as a Keras 3 functional model."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from albert_tf.config import AlbertConfig
from albert_tf.layers import AlbertEmbeddings, AlbertTransformerLayer

INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")

# Added to attention scores at padding positions. Finite (as in the original
# code) so that a fully padded row stays a uniform softmax instead of NaN, and
# representable in float16.
_PADDING_SCORE = -10000.0


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertBackbone(keras.Model):
    """ALBERT encoder: factorized embeddings and shared transformer layers.

    Inputs are three int32 tensors of shape [batch, seq]: `input_word_ids`,
    `input_mask` (1 on tokens, 0 on padding) and `input_type_ids` (segment ids).
    Outputs a dict with `sequence_output` [batch, seq, H] and `pooled_output`
    [batch, H] (tanh dense on the first token).

    Transformer layers are built once per (group, inner layer) and the same
    objects are called at every depth: the parameter count does not depend on
    `num_hidden_layers`. Layer `l` uses group `int(l * G / L)`.

    Args:
        config: the network's hyper-parameters.
        dtype: a dtype or policy name (e.g. `"mixed_bfloat16"`); the global
            policy when None.

    Example:
    >>> import numpy as np
    >>> backbone = AlbertBackbone(AlbertConfig.from_preset("tiny"))
    >>> ids = np.array([[2, 48, 1423, 3, 0]], dtype="int32")
    >>> outputs = backbone({"input_word_ids": ids, "input_mask": (ids > 0).astype("int32"),
    ...                     "input_type_ids": np.zeros_like(ids)})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 5, 128), (1, 128))
    """

    def __init__(self, config: AlbertConfig, dtype: Any = None, **kwargs):
        if isinstance(config, dict):
            config = AlbertConfig.from_dict(config)
        if not isinstance(config, AlbertConfig):
            raise ValueError(f"`config` must be an AlbertConfig. Received: {type(config).__name__}")
        dtype_policy = keras.dtype_policies.get(dtype) if dtype is not None else keras.config.dtype_policy()
        initializer = keras.initializers.TruncatedNormal(stddev=config.initializer_range)

        # === Layers ===
        embeddings = AlbertEmbeddings(
            vocab_size=config.vocab_size,
            embedding_size=config.embedding_size,
            max_position_embeddings=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            initializer_range=config.initializer_range,
            layer_norm_eps=config.layer_norm_eps,
            dropout=config.hidden_dropout_prob,
            dtype=dtype_policy,
            name="embeddings",
        )
        embedding_projection = keras.layers.Dense(
            config.hidden_size, kernel_initializer=initializer, dtype=dtype_policy, name="embedding_projection"
        )
        groups = [
            [
                AlbertTransformerLayer(
                    hidden_size=config.hidden_size,
                    num_attention_heads=config.num_attention_heads,
                    intermediate_size=config.intermediate_size,
                    hidden_act=config.hidden_act,
                    hidden_dropout_prob=config.hidden_dropout_prob,
                    attention_probs_dropout_prob=config.attention_probs_dropout_prob,
                    initializer_range=config.initializer_range,
                    layer_norm_eps=config.layer_norm_eps,
                    dtype=dtype_policy,
                    name=f"group_{group}_layer_{inner}",
                )
                for inner in range(config.inner_group_num)
            ]
            for group in range(config.num_hidden_groups)
        ]
        pooler = keras.layers.Dense(
            config.hidden_size, activation="tanh", kernel_initializer=initializer,
            dtype=dtype_policy, name="pooler",
        )

        # === Functional model ===
        # Legend: B batch, T sequence, E embedding width, H hidden width.
        word_ids = keras.Input(shape=(None,), dtype="int32", name="input_word_ids")
        mask = keras.Input(shape=(None,), dtype="int32", name="input_mask")
        type_ids = keras.Input(shape=(None,), dtype="int32", name="input_type_ids")

        hidden = embedding_projection(embeddings(word_ids, type_ids))  # [B, T, H]
        attention_bias = _attention_bias_from_mask(mask)  # [B, 1, 1, T]
        for layer_index in range(config.num_hidden_layers):
            for transformer_layer in groups[config.group_of_layer(layer_index)]:
                hidden = transformer_layer(hidden, attention_bias)
        outputs = {"sequence_output": hidden, "pooled_output": pooler(hidden[:, 0, :])}

        super().__init__(
            inputs={"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids},
            outputs=outputs,
            **kwargs,
        )
        # Functional models ignore a `dtype` argument; set the policy so that
        # it is reported and serialized with the model.
        self.dtype_policy = dtype_policy

        # === Config ===
        self.config = config
        self.embeddings = embeddings
        self.embedding_projection = embedding_projection
        self.transformer_groups = groups
        self.pooler = pooler

    @property
    def token_embedding(self) -> keras.layers.Embedding:
        """The V x E word-embedding layer (the MLM decoder reuses its matrix)."""
        return self.embeddings.word_embeddings

    @property
    def transformer_layers(self) -> list[AlbertTransformerLayer]:
        """The distinct transformer layer objects, group by group."""
        return [layer for group in self.transformer_groups for layer in group]

    def get_config(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AlbertBackbone":
        config = dict(config)
        albert_config = AlbertConfig.from_dict(config.pop("config"), source="albert_tf")
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(albert_config, **config)


def _attention_bias_from_mask(mask):
    # mask: [B, T] int, 1 on tokens -> bias [B, 1, 1, T], 0 on tokens.
    mask = ops.cast(mask, "float32")
    return ((1.0 - mask) * _PADDING_SCORE)[:, None, None, :]
