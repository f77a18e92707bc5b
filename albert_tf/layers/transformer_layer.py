"""One post-LayerNorm transformer layer: the object ALBERT reuses across depth."""

from __future__ import annotations

import keras

from albert_tf.layers.attention import AlbertSelfAttention
from albert_tf.layers.feed_forward import AlbertFeedForward
from albert_tf.layers.layer_norm import AlbertLayerNorm


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertTransformerLayer(keras.layers.Layer):
    """Self-attention and feed-forward sub-layers, each followed by dropout, a
    residual connection and LayerNorm (post-LN, as BERT and ALBERT).

    The backbone builds this layer once per (group, inner layer) and calls the
    same object at every depth that maps to it, so the weights are shared.

    For partial sharing (`AlbertConfig.sharing` `attention` or `ffn`) the
    backbone builds one layer per depth and passes the shared block in: a
    sub-layer given here is used as is (and built only if not yet built), so
    every layer that receives the same object shares its weights. A block is
    the sub-layer and its LayerNorm, given together. `get_config` does not
    carry such shared objects: their owner (the backbone) recreates them.

    Args:
        hidden_size: H.
        num_attention_heads: attention heads.
        intermediate_size: feed-forward inner width.
        hidden_act: feed-forward activation name.
        hidden_dropout_prob: dropout on each sub-layer's output.
        attention_probs_dropout_prob: dropout on attention probabilities.
        initializer_range: stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon.
        attention, attention_layer_norm: a pre-built (shared) attention block;
            both or neither.
        feed_forward, feed_forward_layer_norm: a pre-built (shared)
            feed-forward block; both or neither.
    """

    def __init__(self, hidden_size: int, num_attention_heads: int, intermediate_size: int,
                 hidden_act: str = "gelu_tanh", hidden_dropout_prob: float = 0.0,
                 attention_probs_dropout_prob: float = 0.0, initializer_range: float = 0.02,
                 layer_norm_eps: float = 1e-12,
                 attention: AlbertSelfAttention | None = None,
                 attention_layer_norm: AlbertLayerNorm | None = None,
                 feed_forward: AlbertFeedForward | None = None,
                 feed_forward_layer_norm: AlbertLayerNorm | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        for block, norm, name in ((attention, attention_layer_norm, "attention"),
                                  (feed_forward, feed_forward_layer_norm, "feed_forward")):
            if (block is None) != (norm is None):
                raise ValueError(
                    f"Pass `{name}` and `{name}_layer_norm` together (a shared block is the sub-layer and "
                    f"its LayerNorm). Received: {name}={block!r}, {name}_layer_norm={norm!r}"
                )
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps

        policy = self.dtype_policy
        if attention is None:
            attention = AlbertSelfAttention(
                hidden_size, num_attention_heads, initializer_range=initializer_range,
                dropout=attention_probs_dropout_prob, dtype=policy, name="attention",
            )
            attention_layer_norm = AlbertLayerNorm(
                epsilon=layer_norm_eps, dtype=policy, name="attention_layer_norm"
            )
        if feed_forward is None:
            feed_forward = AlbertFeedForward(
                hidden_size, intermediate_size, activation=hidden_act,
                initializer_range=initializer_range, dtype=policy, name="feed_forward",
            )
            feed_forward_layer_norm = AlbertLayerNorm(
                epsilon=layer_norm_eps, dtype=policy, name="feed_forward_layer_norm"
            )
        # The assignment order fixes the weight order (and checkpoint layout): keep it.
        self.attention = attention
        self.attention_dropout = keras.layers.Dropout(hidden_dropout_prob, dtype=policy, name="attention_dropout")
        self.attention_layer_norm = attention_layer_norm
        self.feed_forward = feed_forward
        self.feed_forward_dropout = keras.layers.Dropout(hidden_dropout_prob, dtype=policy, name="feed_forward_dropout")
        self.feed_forward_layer_norm = feed_forward_layer_norm

    def build(self, input_shape):
        # A shared block is built once, by its owner or its first user;
        # building it again would create a second set of variables.
        for sublayer in (self.attention, self.attention_layer_norm, self.feed_forward, self.feed_forward_layer_norm):
            if not sublayer.built:
                sublayer.build(input_shape)
        self.built = True

    def call(self, hidden, attention_bias, training=None):
        # hidden: [B, T, H]; attention_bias: [B, 1, 1, T].
        attended = self.attention(hidden, attention_bias, training=training)
        hidden = self.attention_layer_norm(hidden + self.attention_dropout(attended, training=training))
        transformed = self.feed_forward(hidden, training=training)
        return self.feed_forward_layer_norm(hidden + self.feed_forward_dropout(transformed, training=training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout_prob=self.hidden_dropout_prob,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            initializer_range=self.initializer_range,
            layer_norm_eps=self.layer_norm_eps,
        )
        return config
