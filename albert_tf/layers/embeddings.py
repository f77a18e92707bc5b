"""Factorized input embeddings: word + position + segment, all of width E."""

from __future__ import annotations

import keras
from keras import ops

from albert_tf.layers.layer_norm import AlbertLayerNorm


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertEmbeddings(keras.layers.Layer):
    """Sums word, absolute-position and segment embeddings of width E, then
    LayerNorm and dropout.

    The vocabulary matrix is V x E rather than V x H: this is ALBERT's
    factorization; the backbone projects E -> H afterwards. The MLM head reuses
    `word_embeddings.embeddings` as its decoder (tied weights).

    Args:
        vocab_size: V.
        embedding_size: E.
        max_position_embeddings: longest sequence the position table covers.
        type_vocab_size: number of segment ids.
        initializer_range: stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon.
        dropout: dropout rate after the LayerNorm.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        max_position_embeddings: int,
        type_vocab_size: int,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.dropout = dropout

        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.word_embeddings = keras.layers.Embedding(
            vocab_size, embedding_size, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="word_embeddings",
        )
        self.position_embeddings = keras.layers.Embedding(
            max_position_embeddings, embedding_size, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="position_embeddings",
        )
        self.type_embeddings = keras.layers.Embedding(
            type_vocab_size, embedding_size, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="type_embeddings",
        )
        self.layer_norm = AlbertLayerNorm(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm"
        )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    def build(self, input_shape):
        # input_shape: shape of `word_ids`, [B, T].
        self.word_embeddings.build(input_shape)
        self.position_embeddings.build(input_shape)
        self.type_embeddings.build(input_shape)
        self.layer_norm.build(tuple(input_shape) + (self.embedding_size,))
        self.built = True

    def call(self, word_ids, type_ids, training=None):
        # Legend: B batch, T sequence length, E embedding width.
        static_length = word_ids.shape[1]
        if static_length is not None and static_length > self.max_position_embeddings:
            raise ValueError(
                f"Input of {static_length} tokens is longer than max_position_embeddings="
                f"{self.max_position_embeddings}. Truncate the input (e.g. max_seq_length <= "
                f"{self.max_position_embeddings} in the tokenizer) or use a config with more positions."
            )
        seq_length = ops.shape(word_ids)[1]
        # A slice of the table, not a gather: a sequence longer than the table
        # then fails on every device instead of reading zeros on some.
        positions = ops.slice(self.position_embeddings.embeddings, (0, 0), (seq_length, self.embedding_size))
        embeddings = (
            self.word_embeddings(word_ids)  # [B, T, E]
            + ops.cast(positions, self.compute_dtype)[None]  # [1, T, E]
            + self.type_embeddings(type_ids)  # [B, T, E]
        )
        embeddings = self.layer_norm(embeddings)
        return self.dropout_layer(embeddings, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embedding_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_size=self.embedding_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            initializer_range=self.initializer_range,
            layer_norm_eps=self.layer_norm_eps,
            dropout=self.dropout,
        )
        return config
