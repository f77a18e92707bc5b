"""`create_optimizer`: ALBERT's optimizer recipe (schedule, clipping, exclusions) in one call."""

from __future__ import annotations

import math
from typing import Literal

import keras

from albert_tf.optimization.lamb import AlbertLamb
from albert_tf.optimization.schedule import WarmupPolynomialDecay

OPTIMIZERS = ("lamb", "adamw")

# Keras' `exclude_from_weight_decay(var_names=...)` joins these into one regex
# and searches it in the variable's name: on the TensorFlow backend the
# tf.Variable's, i.e. the full path plus ":0" ("pooler/bias:0"), on the other
# backends the short name ("bias"). The short names of LayerNorm ("gamma",
# "beta") and bias ("bias", "output_bias") variables match under both.
ADAMW_EXCLUDE_FROM_WEIGHT_DECAY = ("gamma", "beta", "bias")


def create_optimizer(
    name: Literal["lamb", "adamw"],
    learning_rate: float,
    warmup_steps: int,
    total_steps: int,
    weight_decay: float = 0.01,
    clipnorm: float | None = 1.0,
    end_learning_rate: float = 0.0,
    power: float = 1.0,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-6,
) -> keras.optimizers.Optimizer:
    """The optimizer of ALBERT's recipe: warm-up then polynomial decay, global-norm clipping.

    `lamb` is `AlbertLamb` (the pretraining optimizer; LayerNorm and bias
    variables are excluded from weight decay and the trust ratio). `adamw` is
    Keras' `AdamW` with LayerNorm (`gamma`, `beta`) and bias variables excluded
    from weight decay, for fine-tuning; note that Keras' AdamW, unlike the
    original `AdamWeightDecayOptimizer`, applies bias correction and decays the
    weights separately from (before) the Adam step.

    Args:
        name: `lamb` or `adamw`.
        learning_rate: the peak learning rate (0.00176 for ALBERT pretraining).
        warmup_steps: linear warm-up steps (see `WarmupPolynomialDecay`).
        total_steps: steps over which the rate decays to `end_learning_rate`.
        weight_decay: weight decay coefficient (0.01 in ALBERT).
        clipnorm: global gradient norm to clip to (1.0 in ALBERT); None or 0
            disables clipping.
        end_learning_rate: the rate at and after `total_steps`.
        power: exponent of the polynomial decay; 1.0 is linear.
        beta_1: first-moment decay.
        beta_2: second-moment decay.
        epsilon: added to the root of the second moment (1e-6 in ALBERT).

    Example:
    >>> optimizer = create_optimizer("lamb", learning_rate=0.00176, warmup_steps=3125, total_steps=125000)
    >>> type(optimizer).__name__, optimizer.global_clipnorm
    ('AlbertLamb', 1.0)
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"`name` must be one of {OPTIMIZERS}. Received: name={name!r}")
    if clipnorm is not None and not (isinstance(clipnorm, (int, float)) and 0.0 <= clipnorm < math.inf):
        raise ValueError(f"`clipnorm` must be None or a non-negative finite number. Received: clipnorm={clipnorm!r}")
    schedule = WarmupPolynomialDecay(
        learning_rate, warmup_steps=warmup_steps, decay_steps=total_steps,
        end_learning_rate=end_learning_rate, power=power,
    )
    global_clipnorm = float(clipnorm) if clipnorm else None
    if name == "lamb":
        return AlbertLamb(
            learning_rate=schedule, weight_decay_rate=weight_decay, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, global_clipnorm=global_clipnorm,
        )
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2,
        epsilon=epsilon, global_clipnorm=global_clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_names=list(ADAMW_EXCLUDE_FROM_WEIGHT_DECAY))
    return optimizer
