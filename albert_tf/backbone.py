"""`AlbertBackbone`: the ALBERT encoder as a Keras 3 functional model."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from typing import Any, Iterator

import keras
import tensorflow as tf
from keras import ops

from albert_tf.config import AlbertConfig
from albert_tf.layers import (AlbertEmbeddings, AlbertFeedForward, AlbertLayerNorm, AlbertSelfAttention,
                              AlbertTransformerLayer)

INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")

# Added to attention scores at padding positions. Finite (as in the original
# code) so that a fully padded row stays a uniform softmax instead of NaN, and
# representable in float16. Read when a backbone is built (the functional
# graph keeps the constant); see `attention_padding_score`.
_PADDING_SCORE = -10000.0

# Whether backbones built now rematerialize their transformer layers (see
# `remat_scope`); a context variable, so one thread's scope leaves others alone.
_REMAT: contextvars.ContextVar[bool] = contextvars.ContextVar("albert_tf_remat", default=False)


@contextlib.contextmanager
def remat_scope(enabled: bool = True) -> Iterator[None]:
    """Backbones built inside this block, by their constructor or loaded from a
    preset or `.keras` file, rematerialize their transformer layers (`remat=True`).

    ALBERT shares the layer's weights across depth but not its activations: without
    rematerialization the backward pass keeps every depth's intermediate tensors
    (attention scores, the feed-forward's inner activations), as BERT does. With
    it only each depth's input is kept and the layer is run again, depth by depth,
    during the backward pass: activation memory falls from about
    L x (one layer's intermediates) to L x [B, T, H] + one layer's intermediates,
    at the cost of one more forward pass of the stack per step. The outputs and
    gradients are the same (to float rounding). `enabled=False` builds without
    it, whatever an outer block says. A network that `remat_refusal` refuses
    is built without it: check `backbone.remat` afterwards.
    """
    token = _REMAT.set(bool(enabled))
    try:
        yield
    finally:
        _REMAT.reset(token)


@contextlib.contextmanager
def attention_padding_score(score: float) -> Iterator[None]:
    """Backbones built inside this block add `score` (not -10000) at padding positions.

    For graphs that are quantized with one int8 range per tensor (TFLite
    full-integer export, `albert_tf.export.tflite`): the range of the biased attention
    scores then spans about `score` instead of -10000, which keeps the real
    scores distinguishable. Any `score` at least ~30 below the real scores gives
    the same float outputs. Not thread-safe: it sets a module-level constant
    while the block runs.

    Raises:
        ValueError: `score` is not a finite negative number.
    """
    global _PADDING_SCORE
    score = float(score)
    if not -1e30 < score < 0:
        raise ValueError(f"The attention padding score must be a finite negative number. Received: {score}")
    previous, _PADDING_SCORE = _PADDING_SCORE, score
    try:
        yield
    finally:
        _PADDING_SCORE = previous


def remat_refusal(config: AlbertConfig) -> str | None:
    """Why `config`'s network cannot be rematerialized (one line naming the fix), or None if it can.

    Dropout in the transformer layers: the backward pass would run each layer
    again with other dropout masks than its forward pass drew, and so compute
    the gradient of another network.
    """
    if not (config.hidden_dropout_prob or config.attention_probs_dropout_prob):
        return None
    return ("--remat needs a model without dropout in its transformer layers (the recomputed pass would draw "
            f"other dropout masks); this one has hidden_dropout_prob={config.hidden_dropout_prob}, "
            f"attention_probs_dropout_prob={config.attention_probs_dropout_prob}. Set both to 0 in its config (as "
            "ALBERT v2 does) or train without --remat.")


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertBackbone(keras.Model):
    """ALBERT encoder: factorized embeddings and shared transformer layers.

    Inputs are three int32 tensors of shape [batch, seq]: `input_word_ids`,
    `input_mask` (1 on tokens, 0 on padding) and `input_type_ids` (segment ids).
    Outputs a dict with `sequence_output` [batch, seq, H] and `pooled_output`
    [batch, H] (tanh dense on the first token).

    With `config.sharing == "all"` (ALBERT) transformer layers are built once
    per (group, inner layer), named `group_{g}_layer_{i}`, and the same objects
    are called at every depth: the parameter count does not depend on
    `num_hidden_layers`. Layer `l` uses group `int(l * G / L)`.

    The other modes (the paper's ablations) build one transformer layer per
    application, `layer_{k}` with `k = l * inner_group_num + i`. Under
    `attention` / `ffn` they all receive the one attention / feed-forward block
    (with its LayerNorm) of their (group, inner position), built here as
    `group_{g}_layer_{i}_attention[_layer_norm]` or
    `group_{g}_layer_{i}_feed_forward[_layer_norm]`; under `none` nothing is
    shared. When `embedding_size == hidden_size` there is no E -> H
    projection (`embedding_projection` is None), as in the original code.

    Args:
        config: the network's hyper-parameters.
        dtype: a dtype or policy name (e.g. `"mixed_bfloat16"`); the global
            policy when None.
        remat: rematerialize the transformer layers' activations in the
            backward pass (gradient checkpointing across depth; see
            `remat_scope`); None takes the enclosing `remat_scope`'s choice
            (off outside one, and for a network that `remat_refusal`
            refuses). A training-time choice: `get_config` does not record it,
            so a saved backbone loads without it.

    Example:
    >>> import numpy as np
    >>> backbone = AlbertBackbone(AlbertConfig.from_preset("tiny"))
    >>> ids = np.array([[2, 48, 1423, 3, 0]], dtype="int32")
    >>> outputs = backbone({"input_word_ids": ids, "input_mask": (ids > 0).astype("int32"),
    ...                     "input_type_ids": np.zeros_like(ids)})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 5, 128), (1, 128))
    """

    def __init__(self, config: AlbertConfig, dtype: Any = None, remat: bool | None = None, **kwargs):
        if isinstance(config, dict):
            config = AlbertConfig.from_dict(config)
        if not isinstance(config, AlbertConfig):
            raise ValueError(f"`config` must be an AlbertConfig. Received: {type(config).__name__}")
        refusal = remat_refusal(config)
        if remat and refusal:
            raise ValueError(refusal)
        # Inside a `remat_scope`, a network with dropout is built without it (its runner says why).
        remat = bool(remat) if remat is not None else _REMAT.get() and refusal is None
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
        embedding_projection = None
        if config.has_embedding_projection:
            embedding_projection = keras.layers.Dense(
                config.hidden_size, kernel_initializer=initializer, dtype=dtype_policy, name="embedding_projection"
            )
        groups, layers_by_depth, shared_sublayers = _transformer_stack(config, dtype_policy, remat)
        pooler = keras.layers.Dense(
            config.hidden_size, activation="tanh", kernel_initializer=initializer,
            dtype=dtype_policy, name="pooler",
        )

        # === Functional model ===
        # Legend: B batch, T sequence, E embedding width, H hidden width.
        word_ids = keras.Input(shape=(None,), dtype="int32", name="input_word_ids")
        mask = keras.Input(shape=(None,), dtype="int32", name="input_mask")
        type_ids = keras.Input(shape=(None,), dtype="int32", name="input_type_ids")

        hidden = embeddings(word_ids, type_ids)  # [B, T, E]
        if embedding_projection is not None:
            hidden = embedding_projection(hidden)  # [B, T, H]
        attention_bias = _attention_bias_from_mask(mask)  # [B, 1, 1, T]
        for depth_layers in layers_by_depth:
            for transformer_layer in depth_layers:
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
        self.remat = remat
        self.embeddings = embeddings
        self.embedding_projection = embedding_projection
        self.transformer_groups = groups
        self.layers_by_depth = layers_by_depth
        self.shared_sublayers = shared_sublayers
        self.pooler = pooler

    def call(self, inputs, training=None, mask=None, **kwargs):
        if training:
            return super().call(inputs, training=training, mask=mask, **kwargs)
        # Under mixed precision Keras casts a float32 weight to the compute dtype wherever a layer
        # reads it: ALBERT-base's shared 7M weights 12 times per forward pass. Here each weight is
        # read (and cast) once and every depth sees that one tensor (`keras.StatelessScope` hands
        # layers the given values for their variables): TensorFlow's graph optimizer then drops
        # the other 11 identical casts. Same values; in float32 it changes nothing but the reads.
        # Inference only: in training the gradients must reach the variables through each depth's
        # own read (rematerialization recomputes them), and there the casts matter less.
        reads = [(weight, tf.identity(weight.value)) for layer in self.transformer_layers
                 for weight in layer.weights]
        with keras.StatelessScope(state_mapping=reads):
            return super().call(inputs, training=training, mask=mask, **kwargs)

    @property
    def token_embedding(self) -> keras.layers.Embedding:
        """The V x E word-embedding layer (the MLM decoder reuses its matrix)."""
        return self.embeddings.word_embeddings

    @property
    def transformer_layers(self) -> list[AlbertTransformerLayer]:
        """The distinct transformer layer objects, group by group (in
        application order for sharing modes other than `all`)."""
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

    # === Presets ===
    @classmethod
    def from_preset(cls, preset: str | os.PathLike, dtype: Any = None) -> "AlbertBackbone":
        """The encoder of any preset folder (backbone, pretrainer or task model)."""
        from albert_tf.preset_format import load_backbone_weights, read_preset

        spec = read_preset(preset)
        backbone = cls(spec.config, dtype=dtype)
        load_backbone_weights(backbone, spec)
        return backbone

    def save_to_preset(self, preset: str | os.PathLike, spm_model: str | os.PathLike | bytes | None = None,
                       sequence_length: int = 128, provenance: dict[str, Any] | None = None,
                       overwrite: bool = False) -> None:
        """Writes the encoder with its SentencePiece model (`spm_model`, a path or bytes) as a preset folder."""
        from albert_tf.preset_format import save_model_preset, tokenizer_proto_of

        save_model_preset(preset, self, self, "backbone", tokenizer_proto=tokenizer_proto_of(spm_model),
                          sequence_length=sequence_length, provenance=provenance, overwrite=overwrite)


def _transformer_stack(config: AlbertConfig, dtype_policy, remat: bool = False) -> tuple[
        list[list[AlbertTransformerLayer]], list[list[AlbertTransformerLayer]], list[keras.layers.Layer]]:
    """The transformer layers for `config.sharing`.

    Returns:
        groups: for each group, its distinct transformer layers: the
            `inner_group_num` shared ones under `all`, else the per-depth
            layers of the group's span of depths, in application order.
        layers_by_depth: for each depth `l`, the layers applied there in order.
        shared_sublayers: the shared attention / feed-forward blocks and their
            LayerNorms (empty under `all` and `none`).

    With `remat`, every transformer layer is rematerialized (`_rematerialize`).
    """
    hidden_size = config.hidden_size

    def transformer_layer(name: str, **blocks) -> AlbertTransformerLayer:
        layer = AlbertTransformerLayer(
            hidden_size=hidden_size,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            hidden_act=config.hidden_act,
            hidden_dropout_prob=config.hidden_dropout_prob,
            attention_probs_dropout_prob=config.attention_probs_dropout_prob,
            initializer_range=config.initializer_range,
            layer_norm_eps=config.layer_norm_eps,
            dtype=dtype_policy,
            name=name,
            **blocks,
        )
        return _rematerialize(layer) if remat else layer

    inner_range = range(config.inner_group_num)
    if config.sharing == "all":
        groups = [[transformer_layer(f"group_{group}_layer_{inner}") for inner in inner_range]
                  for group in range(config.num_hidden_groups)]
        layers_by_depth = [groups[config.group_of_layer(depth)] for depth in range(config.num_hidden_layers)]
        return groups, layers_by_depth, []

    def layer_norm(name: str) -> keras.layers.LayerNormalization:
        return AlbertLayerNorm(epsilon=config.layer_norm_eps, dtype=dtype_policy, name=name)

    # One shared block per (group, inner position), built here (outside any
    # layer's name scope) so its variables are named after it, not after the
    # first layer that happens to call it.
    shared_blocks: dict[tuple[int, int], dict[str, keras.layers.Layer]] = {}
    for group in range(config.num_hidden_groups):
        for inner in inner_range:
            prefix = f"group_{group}_layer_{inner}"
            if config.sharing == "attention":
                blocks = {
                    "attention": AlbertSelfAttention(
                        hidden_size, config.num_attention_heads, initializer_range=config.initializer_range,
                        dropout=config.attention_probs_dropout_prob, dtype=dtype_policy, name=f"{prefix}_attention",
                    ),
                    "attention_layer_norm": layer_norm(f"{prefix}_attention_layer_norm"),
                }
            elif config.sharing == "ffn":
                blocks = {
                    "feed_forward": AlbertFeedForward(
                        hidden_size, config.intermediate_size, activation=config.hidden_act,
                        initializer_range=config.initializer_range, dtype=dtype_policy,
                        name=f"{prefix}_feed_forward",
                    ),
                    "feed_forward_layer_norm": layer_norm(f"{prefix}_feed_forward_layer_norm"),
                }
            else:  # none
                blocks = {}
            for sublayer in blocks.values():
                sublayer.build((None, None, hidden_size))
            shared_blocks[group, inner] = blocks

    groups = [[] for _ in range(config.num_hidden_groups)]
    layers_by_depth = []
    for depth in range(config.num_hidden_layers):
        group = config.group_of_layer(depth)
        depth_layers = [
            transformer_layer(f"layer_{depth * config.inner_group_num + inner}", **shared_blocks[group, inner])
            for inner in inner_range
        ]
        groups[group].extend(depth_layers)
        layers_by_depth.append(depth_layers)
    shared_sublayers = [sublayer for blocks in shared_blocks.values() for sublayer in blocks.values()]
    return groups, layers_by_depth, shared_sublayers


def _rematerialize(layer: AlbertTransformerLayer) -> AlbertTransformerLayer:
    """Makes every call of `layer` rematerialized as a whole (`keras.remat`,
    `tf.recompute_grad` on TensorFlow): the backward pass keeps its inputs only
    and runs it again to get its intermediates.

    The layer keeps its class, variables and names, so the weight layout (which
    Keras' saving names after the class) does not change and checkpoints load
    with or without rematerialization. Keras' `RematScope` is not used: it
    hands `training` to the rematerialized function as a keyword argument,
    which `tf.custom_gradient` refuses inside a `tf.function`; here `training`
    is bound before the call.
    """
    call = layer.call

    @functools.wraps(call)  # Keras reads the call signature
    def rematerialized_call(hidden, attention_bias, training=None):
        def forward(hidden, attention_bias):
            return call(hidden, attention_bias, training=training)

        return keras.remat(forward)(hidden, attention_bias)

    layer.call = rematerialized_call
    return layer


def _attention_bias_from_mask(mask):
    # mask: [B, T] int, 1 on tokens -> bias [B, 1, 1, T], 0 on tokens.
    mask = ops.cast(mask, "float32")
    return ((1.0 - mask) * _PADDING_SCORE)[:, None, None, :]
