"""Knowledge-distillation losses, as pure per-example functions.

Every function returns one value per example (shape `[batch]`, float32), so
the caller decides the reduction: `Distiller` sums and divides by the global
batch size, which keeps gradients right under `tf.distribute`.

References (facts, not code): DistilBERT / Hinton et al. (soft-target
cross-entropy at temperature T, scaled by T^2), TinyBERT (MSE between hidden
states through a learned projection, and between attention matrices).
"""

from __future__ import annotations

import keras
from keras import ops

# Clamp for log() of attention probabilities: padded keys have probability
# exp(-10000) == 0, whose log would be -inf.
_LOG_EPSILON = 1e-12


def hard_label_loss(labels, logits, regression: bool = False):
    """The task loss against gold labels.

    Args:
        labels: `[B]` (or `[B, 1]`) int class ids, or float targets when
            `regression`.
        logits: `[B, C]` logits, or `[B, 1]` scores when `regression`.
        regression: squared error instead of softmax cross-entropy.

    Returns:
        `[B]` float32: cross-entropy, or the squared error averaged over the
        output width.
    """
    logits = ops.cast(logits, "float32")
    if regression:
        labels = ops.reshape(ops.cast(labels, "float32"), ops.shape(logits))
        return ops.mean(ops.square(logits - labels), axis=-1)
    labels = ops.reshape(labels, (-1,))
    return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def soft_target_loss(student_logits, teacher_logits, temperature: float):
    """`T^2 * CE(softmax(z_t / T), softmax(z_s / T))` per example.

    This is the cross-entropy form; it differs from `KL(teacher || student)`
    only by the teacher's entropy, a constant for the student, so gradients
    are the same. The `T^2` factor keeps the soft-target gradients on the same
    scale as the hard-label ones when T changes (Hinton et al.).

    Args:
        student_logits, teacher_logits: `[B, C]`.
        temperature: T > 0.

    Returns:
        `[B]` float32.
    """
    student_logits = ops.cast(student_logits, "float32")
    teacher_logits = ops.cast(teacher_logits, "float32")
    soft_targets = ops.softmax(teacher_logits / temperature, axis=-1)
    student_log_probs = ops.log_softmax(student_logits / temperature, axis=-1)
    return -(temperature ** 2) * ops.sum(soft_targets * student_log_probs, axis=-1)


def regression_distillation_loss(student_outputs, teacher_outputs):
    """Squared error between student and teacher scores, averaged over the
    output width: the soft part for regression tasks (no temperature: there
    is no distribution to soften). Returns `[B]` float32."""
    student_outputs = ops.cast(student_outputs, "float32")
    teacher_outputs = ops.cast(teacher_outputs, "float32")
    return ops.mean(ops.square(student_outputs - teacher_outputs), axis=-1)


def distillation_loss(student_logits, teacher_logits, labels, *, alpha: float, temperature: float,
                      regression: bool = False):
    """The combined per-example loss and its two parts.

    Classification: `alpha * CE(labels, z_s) + (1 - alpha) * T^2 * CE(softmax(z_t/T), softmax(z_s/T))`.
    Regression: `alpha * MSE(labels, s) + (1 - alpha) * MSE(t, s)`
    (`temperature` unused).

    Args:
        student_logits, teacher_logits: `[B, C]` (`[B, 1]` for regression).
        labels: gold labels, or None when `alpha == 0` (unlabelled transfer data).
        alpha: weight of the hard-label loss, in [0, 1].
        temperature: softmax temperature T > 0.
        regression: whether the task is regression.

    Returns:
        `(total, hard, soft)`, each `[B]` float32; `soft` already includes
        the `T^2` factor, `hard` is zeros when `labels` is None.
    """
    if regression:
        soft = regression_distillation_loss(student_logits, teacher_logits)
    else:
        soft = soft_target_loss(student_logits, teacher_logits, temperature)
    if labels is None:
        if alpha != 0:
            raise ValueError(f"Labels are needed when `alpha` > 0 (the hard-label weight). Received: alpha={alpha}")
        hard = ops.zeros_like(soft)
    else:
        hard = hard_label_loss(labels, student_logits, regression=regression)
    return alpha * hard + (1.0 - alpha) * soft, hard, soft


def _token_mask(mask):
    # mask: [B, T] int -> float32 [B, T] and the real-token count [B] (>= 1 so
    # an all-padding row gives 0 instead of NaN).
    mask = ops.cast(mask, "float32")
    return mask, ops.maximum(ops.sum(mask, axis=-1), 1.0)


def hidden_state_loss(student_hidden, teacher_hidden, mask):
    """MSE between (already projected) student and teacher hidden states.

    Averaged over the hidden width and the real tokens of each example
    (padding positions are ignored).

    Args:
        student_hidden: `[B, T, H_t]` (projected to the teacher's width).
        teacher_hidden: `[B, T, H_t]`.
        mask: `[B, T]`, 1 on tokens, 0 on padding.

    Returns:
        `[B]` float32.
    """
    mask, tokens = _token_mask(mask)
    squared = ops.mean(ops.square(ops.cast(student_hidden, "float32") - ops.cast(teacher_hidden, "float32")),
                       axis=-1)  # [B, T]
    return ops.sum(squared * mask, axis=-1) / tokens


def attention_map_loss(student_probs, teacher_probs, mask, kind: str = "mse"):
    """Distance between attention probability maps `[B, N, T, T]`.

    When the head counts differ, both sides are first averaged over heads (a
    head-to-head comparison has no meaning then).

    Args:
        student_probs, teacher_probs: softmax attention probabilities.
        mask: `[B, T]`, 1 on tokens, 0 on padding; padded query rows are
            ignored.
        kind: `"mse"`: mean squared difference over the real query x key
            block; `"kl"`: `KL(teacher || student)` of each query row,
            averaged over heads and real rows.

    Returns:
        `[B]` float32.
    """
    student_probs = ops.cast(student_probs, "float32")
    teacher_probs = ops.cast(teacher_probs, "float32")
    if student_probs.shape[1] != teacher_probs.shape[1]:
        student_probs = ops.mean(student_probs, axis=1, keepdims=True)
        teacher_probs = ops.mean(teacher_probs, axis=1, keepdims=True)
    mask, tokens = _token_mask(mask)
    rows = mask[:, None, :]  # [B, 1, T]: query positions
    if kind == "mse":
        # Padded keys hold probability 0 on both sides; dividing by the real
        # key count makes this the mean over the real block.
        per_row = ops.sum(ops.square(student_probs - teacher_probs), axis=-1) / tokens[:, None, None]
    elif kind == "kl":
        per_row = ops.sum(
            teacher_probs * (ops.log(ops.maximum(teacher_probs, _LOG_EPSILON))
                             - ops.log(ops.maximum(student_probs, _LOG_EPSILON))),
            axis=-1,
        )  # [B, N, T]
    else:
        raise ValueError(f"`kind` must be 'mse' or 'kl'. Received: kind={kind!r}")
    return ops.mean(ops.sum(per_row * rows, axis=-1), axis=1) / tokens
