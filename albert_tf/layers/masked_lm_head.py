"""The masked-LM head: transform, then a decoder tied to the word embeddings."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from albert_tf.activations import get_activation
from albert_tf.layers.layer_norm import AlbertLayerNorm


def gather_positions(sequence_output, positions):
    """The [B, P, H] rows of [B, T, H] `sequence_output` at the [B, P] `positions` of each sequence."""
    if keras.backend.backend() == "tensorflow":
        # Row gathers, whose gradient scatters B * P rows. `ops.take_along_axis` transposes the
        # sequence output to gather B * H columns element by element, and its gradient then scatters
        # B * P * H scalars: 5.6 against 1.2 ms forward + backward on the demo's batch
        # (benchmarks/fused_ops_ab.py times both in the training step).
        return tf.gather(sequence_output, tf.cast(positions, tf.int32), batch_dims=1)
    return ops.take_along_axis(sequence_output, ops.expand_dims(positions, -1), axis=1)


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertMaskedLMHead(keras.layers.Layer):
    """Predicts the vocabulary at chosen positions of the sequence output.

    Gathers the hidden states at `masked_lm_positions`, applies dense
    H -> E with the activation and LayerNorm, and decodes with the transposed
    V x E word-embedding matrix plus an output bias. Tying the decoder to the
    embeddings (as ALBERT and BERT) saves V x E parameters and keeps the
    input and output vocabularies in one space.

    Args:
        token_embedding: the backbone's word `Embedding` layer (weights shared).
        embedding_size: E.
        activation: name from `albert_tf.activations.ACTIVATIONS`.
        initializer_range: stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon (1e-12, as the original; some ports use 1e-5).
    """

    def __init__(self, token_embedding: keras.layers.Embedding, embedding_size: int,
                 activation: str = "gelu_tanh", initializer_range: float = 0.02,
                 layer_norm_eps: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.embedding_size = embedding_size
        self.activation = activation
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self._activation_fn = get_activation(activation)
        self.transform = keras.layers.Dense(
            embedding_size, kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="transform",
        )
        self.layer_norm = AlbertLayerNorm(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="layer_norm"
        )

    def build(self, sequence_output_shape, masked_lm_positions_shape=None):
        self.transform.build(sequence_output_shape)
        self.layer_norm.build(tuple(sequence_output_shape[:-1]) + (self.embedding_size,))
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.token_embedding.input_dim,), initializer="zeros"
        )
        self.built = True

    def call(self, sequence_output, masked_lm_positions):
        # Legend: B batch, T sequence, P predictions, H hidden, E embedding, V vocabulary.
        gathered = gather_positions(sequence_output, masked_lm_positions)  # [B, P, H]
        hidden = self.layer_norm(self._activation_fn(self.transform(gathered)))  # [B, P, E]
        embeddings = ops.cast(self.token_embedding.embeddings, self.compute_dtype)  # [V, E]
        if keras.backend.backend() == "tensorflow":
            # The [V, E] matrix read as is (transpose_b): no transposed copy of it, nor of its gradient.
            rows = tf.matmul(tf.reshape(hidden, [-1, self.embedding_size]), embeddings, transpose_b=True)
            logits = tf.reshape(rows, tf.concat([tf.shape(hidden)[:-1], [self.token_embedding.input_dim]], 0))
        else:
            logits = ops.matmul(hidden, ops.transpose(embeddings))
        logits = logits + ops.cast(self.output_bias, self.compute_dtype)
        # Softmax cross-entropy over V wants float32 logits under mixed precision.
        return ops.cast(logits, "float32")  # [B, P, V]

    def compute_output_shape(self, sequence_output_shape, masked_lm_positions_shape):
        return tuple(masked_lm_positions_shape) + (self.token_embedding.input_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            embedding_size=self.embedding_size,
            activation=self.activation,
            initializer_range=self.initializer_range,
            layer_norm_eps=self.layer_norm_eps,
        )
        return config
