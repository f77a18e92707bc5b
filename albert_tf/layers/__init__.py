"""Keras layers of the ALBERT backbone, each registered as serializable."""

from albert_tf.layers.attention import AlbertSelfAttention
from albert_tf.layers.embeddings import AlbertEmbeddings
from albert_tf.layers.feed_forward import AlbertFeedForward
from albert_tf.layers.layer_norm import AlbertLayerNorm
from albert_tf.layers.transformer_layer import AlbertTransformerLayer

__all__ = ["AlbertEmbeddings", "AlbertFeedForward", "AlbertLayerNorm", "AlbertSelfAttention", "AlbertTransformerLayer"]
