"""Fine-tuning task models over an `AlbertBackbone`."""

from albert_tf.tasks.classifier import AlbertClassifier
from albert_tf.tasks.multiple_choice import AlbertMultipleChoice
from albert_tf.tasks.span_qa import AlbertSpanQA
from albert_tf.tasks.token_classifier import AlbertTokenClassifier

__all__ = ["AlbertClassifier", "AlbertMultipleChoice", "AlbertSpanQA", "AlbertTokenClassifier"]
