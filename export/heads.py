"""What an exported model returns, by the kind of model (its head).

One place decides how a Keras model is served: a classifier answers
probabilities (softmax inside the graph, as on-device runtimes expect) and
logits; span QA answers start/end logits; a bare backbone answers its
sequence and pooled outputs. Every exporter (SavedModel, TFLite) goes through
`serving_outputs`, so the formats cannot drift apart.
"""

from __future__ import annotations

from typing import Literal, Mapping

import keras
import tensorflow as tf

from albert_tf.backbone import INPUT_NAMES, AlbertBackbone
from albert_tf.tasks import AlbertClassifier, AlbertSpanQA

ModelKind = Literal["classifier", "span_qa", "backbone"]
MODEL_KINDS: tuple[str, ...] = ("classifier", "span_qa", "backbone")

# Output names per kind, in the order the TFLite signature lists them.
OUTPUT_NAMES: dict[str, tuple[str, ...]] = {
    "classifier": ("probabilities", "logits"),
    "span_qa": ("start_logits", "end_logits"),
    "backbone": ("sequence_output", "pooled_output"),
}


def detect_kind(model: keras.Model) -> ModelKind:
    """The kind of `model`: "classifier", "span_qa" or "backbone".

    Raises:
        ValueError: for other models (multiple choice, token classification),
            which have no serving contract here yet.
    """
    if isinstance(model, AlbertClassifier):
        return "classifier"
    if isinstance(model, AlbertSpanQA):
        return "span_qa"
    if isinstance(model, AlbertBackbone):
        return "backbone"
    raise ValueError(
        f"Cannot export a {type(model).__name__}: export supports AlbertClassifier, AlbertSpanQA and "
        "AlbertBackbone. Save one of those with model.save('model.keras')."
    )


def check_kind(model: keras.Model, kind: str | None) -> ModelKind:
    """`detect_kind(model)`, checked against the kind the caller asked for (None: accept any)."""
    found = detect_kind(model)
    if kind is not None and kind != found:
        if kind == "classifier":
            raise ValueError(
                f"The model is a {type(model).__name__} ({found}), which has no classifier head, but it was "
                "exported as a classifier. Export an AlbertClassifier (fine-tune one with `albert finetune` or "
                f"AlbertClassifier(backbone, num_classes)), or pass --task {found}."
            )
        raise ValueError(f"The model is a {found} ({type(model).__name__}), not a {kind}. Pass --task {found}.")
    return found


def backbone_of(model: keras.Model) -> AlbertBackbone:
    """The `AlbertBackbone` inside a task model (or the model itself)."""
    return model if isinstance(model, AlbertBackbone) else model.backbone


def max_positions(model: keras.Model) -> int:
    """The longest sequence the model's position table covers."""
    return backbone_of(model).config.max_position_embeddings


def check_seq_length(model: keras.Model, seq_length: int) -> int:
    """`seq_length` if the model can take it, else a ValueError that says what to do."""
    limit = max_positions(model)
    if not isinstance(seq_length, int) or seq_length < 3:
        raise ValueError(f"--seq-length must be an int >= 3 ([CLS] text [SEP]). Received: {seq_length!r}")
    if seq_length > limit:
        raise ValueError(
            f"--seq-length {seq_length} is longer than the model's max_position_embeddings={limit}. "
            f"Use --seq-length {limit} or less."
        )
    return seq_length


def serving_outputs(model: keras.Model, kind: ModelKind, inputs: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The served outputs of `model` (inference mode) on int32 `inputs` keyed by `INPUT_NAMES`."""
    features = {name: inputs[name] for name in INPUT_NAMES}
    outputs = model(features, training=False)
    if kind == "classifier":
        logits = tf.cast(outputs, tf.float32)
        return {"probabilities": tf.nn.softmax(logits, axis=-1), "logits": logits}
    if kind == "span_qa":
        return {"start_logits": outputs["start_logits"], "end_logits": outputs["end_logits"]}
    return {"sequence_output": outputs["sequence_output"], "pooled_output": outputs["pooled_output"]}


def num_labels(model: keras.Model) -> int | None:
    """Classes of a classifier, else None."""
    return int(model.num_classes) if isinstance(model, AlbertClassifier) else None
