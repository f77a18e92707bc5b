"""Knowledge distillation: train a small ALBERT classifier from a large one.

`Distiller(teacher, student, alpha=..., temperature=...)` is a Keras model
whose `fit` trains the student on soft targets (DistilBERT-style) and,
optionally, on the teacher's hidden states and attention maps (TinyBERT-style).
`cache_teacher_logits` / `with_teacher_logits` run the teacher once and reuse
its logits from disk.
"""

from albert_tf.distillation.distiller import Distiller
from albert_tf.distillation.layer_mapping import uniform_layer_mapping, validate_layer_mapping
from albert_tf.distillation.losses import (
    attention_map_loss,
    distillation_loss,
    hard_label_loss,
    hidden_state_loss,
    regression_distillation_loss,
    soft_target_loss,
)
from albert_tf.distillation.probe import ClassifierProbe, ProbeOutputs
from albert_tf.distillation.teacher_cache import (
    TEACHER_LOGITS_KEY,
    cache_teacher_logits,
    load_teacher_logits,
    save_teacher_logits,
    with_teacher_logits,
)

__all__ = [
    "TEACHER_LOGITS_KEY",
    "ClassifierProbe",
    "Distiller",
    "ProbeOutputs",
    "attention_map_loss",
    "cache_teacher_logits",
    "distillation_loss",
    "hard_label_loss",
    "hidden_state_loss",
    "load_teacher_logits",
    "regression_distillation_loss",
    "save_teacher_logits",
    "soft_target_loss",
    "uniform_layer_mapping",
    "validate_layer_mapping",
    "with_teacher_logits",
]
