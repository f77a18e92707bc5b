"""`WarmupPolynomialDecay`: ALBERT's learning-rate schedule."""

from __future__ import annotations

import math
import numbers
from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="albert_tf")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0, then polynomial decay to `end_learning_rate`.

    For optimizer step `s` (Keras passes `optimizer.iterations`, which is 0 at
    the first update), `p = peak_learning_rate`, `e = end_learning_rate`,
    `W = warmup_steps`, `D = decay_steps`:

        decayed(s) = (p - e) * (1 - min(s, D) / D) ** power + e
        lr(s)      = p * s / W      if s < W
                     decayed(s)     otherwise

    This is exactly google-research/albert's `create_optimizer`: the decay is
    measured from step 0, not from the end of the warm-up, so at `s = W` the
    rate is `decayed(W) = (p - e) * (1 - W / D) ** power + e`, slightly below
    the peak (1 - W/D = 0.975 for ALBERT's 3,125 of 125,000 steps), and the
    peak itself is never reached. The very first update (s = 0) has rate 0
    when `W > 0`. After `D` steps the rate stays at `e`. `W = 0` means no
    warm-up (pure polynomial decay).

    Args:
        peak_learning_rate: the rate the warm-up heads for (0.00176 for ALBERT).
        warmup_steps: steps of linear warm-up, >= 0.
        decay_steps: total steps of the decay, counted from step 0; must be
            greater than `warmup_steps` (the decay would otherwise never run).
        end_learning_rate: the rate at and after `decay_steps`, in [0, peak].
        power: exponent of the decay; 1.0 (ALBERT's) is linear.
        name: name of the schedule.

    Example:
    >>> schedule = WarmupPolynomialDecay(1.0, warmup_steps=10, decay_steps=100)
    >>> [round(float(schedule(step)), 4) for step in (0, 5, 10, 55, 100, 200)]
    [0.0, 0.5, 0.9, 0.45, 0.0, 0.0]
    """

    def __init__(
        self,
        peak_learning_rate: float,
        warmup_steps: int,
        decay_steps: int,
        end_learning_rate: float = 0.0,
        power: float = 1.0,
        name: str = "WarmupPolynomialDecay",
    ):
        super().__init__()
        if not _is_real(peak_learning_rate) or not 0.0 < peak_learning_rate < math.inf:
            raise ValueError(
                "`peak_learning_rate` must be a positive finite number. "
                f"Received: peak_learning_rate={peak_learning_rate!r}"
            )
        if not _is_int(warmup_steps) or warmup_steps < 0:
            raise ValueError(f"`warmup_steps` must be a non-negative integer. Received: warmup_steps={warmup_steps!r}")
        if not _is_int(decay_steps) or decay_steps <= warmup_steps:
            raise ValueError(
                "`decay_steps` must be an integer greater than `warmup_steps`. "
                f"Received: decay_steps={decay_steps!r}, warmup_steps={warmup_steps!r}"
            )
        if not _is_real(end_learning_rate) or not 0.0 <= end_learning_rate <= peak_learning_rate:
            raise ValueError(
                "`end_learning_rate` must be in [0, peak_learning_rate]. "
                f"Received: end_learning_rate={end_learning_rate!r}, peak_learning_rate={peak_learning_rate!r}"
            )
        if not _is_real(power) or not 0.0 < power < math.inf:
            raise ValueError(f"`power` must be a positive finite number. Received: power={power!r}")
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.decay_steps = int(decay_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.name = name

    def __call__(self, step):
        with keras.name_scope(self.name):
            # float32 counts steps exactly up to 2**24, far beyond pretraining runs.
            step = ops.cast(step, "float32")
            done = ops.minimum(step, float(self.decay_steps)) / float(self.decay_steps)
            decayed = (self.peak_learning_rate - self.end_learning_rate) * ops.power(
                1.0 - done, self.power
            ) + self.end_learning_rate
            if self.warmup_steps == 0:
                return decayed
            warmup = self.peak_learning_rate * step / float(self.warmup_steps)
            return ops.where(ops.less(step, float(self.warmup_steps)), warmup, decayed)

    def get_config(self) -> dict[str, Any]:
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "name": self.name,
        }


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
