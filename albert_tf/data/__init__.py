"""Pretraining data: documents, sentence-order pairs, n-gram masking, TFRecords, tf.data."""
