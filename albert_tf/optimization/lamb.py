"""`AlbertLamb`: the LAMB update rule exactly as ALBERT was pretrained with it.

Keras ships a `Lamb` optimizer, but it is a different rule from the one in
google-research/albert (`lamb_optimizer.py`): Keras applies Adam bias
correction, epsilon 1e-7, the trust ratio to every variable, and decoupled
weight decay outside the trust ratio. ALBERT's rule, implemented here, is for
each variable `w` with gradient `g` (after global-norm clipping):

    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g ** 2
    update = m / (sqrt(v) + epsilon)                 # no bias correction
    if w is not excluded from weight decay:
        update += weight_decay_rate * w              # inside the trust ratio
    ratio = ||w|| / ||update|| if both norms > 0 else 1
    if w is excluded from layer adaptation: ratio = 1
    w -= learning_rate * ratio * update
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import ops

# The lists of google-research/albert's `create_optimizer`: LayerNorm scales and
# offsets and every bias (MLM `output_bias` included) are neither decayed nor
# trust-ratio scaled. Both spellings, because TF1 checkpoints say "LayerNorm"
# and albert_tf's layers say "layer_norm".
DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY = ("layer_norm", "LayerNorm", "bias")


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertLamb(keras.optimizers.Optimizer):
    """LAMB as in the original ALBERT code: no bias correction, decay inside the trust ratio.

    A variable is excluded from weight decay (or from layer adaptation, i.e.
    the trust ratio) when any of the given substrings occurs in its full
    `path`, e.g. `"group_0_layer_0/attention_layer_norm/gamma"` or
    `"pooler/bias"` (the name without its `:0` suffix for a plain
    `tf.Variable`). The original matched the same strings with `re.search`;
    for the default list the two are identical. Variables can also be excluded
    from weight decay (only) with Keras' `exclude_from_weight_decay(var_list=...,
    var_names=...)` before the optimizer is built; as in Keras' optimizers on
    the TensorFlow backend, `var_names` are regular expressions searched in
    the path plus ":0".

    Sparse gradients (`tf.IndexedSlices` from embedding lookups) are converted
    to dense ones, summing repeated ids, before clipping: the update of an
    embedding row is then exactly that of the dense gradient, as in the
    original, where every row's moments also decay at every step.

    Pass clipping through Keras' own arguments: ALBERT clips by global norm
    1.0 (`global_clipnorm=1.0`). Under a multi-replica `tf.distribute`
    strategy the clipping applies to the gradient summed over replicas (Keras'
    own optimizers clip each replica's part before the sum), so training
    matches a single device at the same global batch.

    Args:
        learning_rate: a float, a `keras.optimizers.schedules.LearningRateSchedule`
            (e.g. `WarmupPolynomialDecay`) or a zero-argument callable.
        weight_decay_rate: L2 decay coefficient added to the update (0.01 in
            ALBERT); 0 disables it.
        beta_1: decay of the first-moment estimate.
        beta_2: decay of the second-moment estimate.
        epsilon: added to `sqrt(v)` (1e-6 in ALBERT; Keras' optimizers use 1e-7).
        exclude_from_weight_decay: substrings of variable paths that get no
            weight decay.
        exclude_from_layer_adaptation: substrings of variable paths whose update
            is not scaled by the trust ratio; None means the same list as
            `exclude_from_weight_decay` (as in the original), `[]` excludes
            nothing.
        **kwargs: the arguments of `keras.optimizers.Optimizer` (`name`,
            `global_clipnorm`, `clipnorm`, `clipvalue`, `use_ema`,
            `loss_scale_factor`, `gradient_accumulation_steps`, ...), except
            `weight_decay`: Keras' decoupled decay is a different rule, use
            `weight_decay_rate`.

    Example:
    >>> optimizer = AlbertLamb(learning_rate=1e-3, global_clipnorm=1.0)
    >>> kernel = keras.Variable([[1.0, -2.0]], name="kernel")
    >>> optimizer.apply([ops.convert_to_tensor([[0.5, 0.5]])], [kernel])
    >>> [round(value, 5) for value in kernel.numpy().ravel().tolist()]
    [0.99841, -2.00157]
    """

    def __init__(
        self,
        learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 0.001,
        weight_decay_rate: float = 0.01,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-6,
        exclude_from_weight_decay: Sequence[str] | None = DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
        exclude_from_layer_adaptation: Sequence[str] | None = None,
        **kwargs: Any,
    ):
        # Keras' `weight_decay` would add its own decoupled decay on top of
        # ours; `get_config` of the base class writes it as None, so None is
        # accepted back.
        keras_weight_decay = kwargs.pop("weight_decay", None)
        if keras_weight_decay is not None:
            raise ValueError(
                "AlbertLamb applies ALBERT's weight decay inside the update; pass `weight_decay_rate`, "
                f"not Keras' decoupled `weight_decay`. Received: weight_decay={keras_weight_decay!r}"
            )
        if _is_number(learning_rate):  # Keras takes only a Python float (or a schedule)
            learning_rate = float(learning_rate)
        super().__init__(learning_rate=learning_rate, **kwargs)
        for name, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not _is_number(value) or not 0.0 <= value < 1.0:
                raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
        if not _is_number(epsilon) or not 0.0 < epsilon < math.inf:
            raise ValueError(f"`epsilon` must be a positive finite number. Received: epsilon={epsilon!r}")
        if not _is_number(weight_decay_rate) or not 0.0 <= weight_decay_rate < math.inf:
            raise ValueError(
                "`weight_decay_rate` must be a non-negative finite number. "
                f"Received: weight_decay_rate={weight_decay_rate!r}"
            )
        self.weight_decay_rate = float(weight_decay_rate)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        # Not `self.exclude_from_weight_decay`: that name is Keras' method.
        self.weight_decay_exclusions = _substrings(exclude_from_weight_decay, "exclude_from_weight_decay")
        self.layer_adaptation_exclusions = (
            None if exclude_from_layer_adaptation is None
            else _substrings(exclude_from_layer_adaptation, "exclude_from_layer_adaptation")
        )

    def build(self, var_list: list) -> None:
        """Creates the moments `m`, `v` of each variable and decides its exclusions."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ["m", "v"])
        adaptation_exclusions = (
            self.weight_decay_exclusions if self.layer_adaptation_exclusions is None
            else self.layer_adaptation_exclusions
        )
        # Decided once from the Keras variables: under tf.distribute,
        # `update_step` only sees the per-device tf.Variables.
        self._uses_weight_decay = [
            self.weight_decay_rate > 0.0
            and not _matches(variable, self.weight_decay_exclusions)
            # Keras' own list, matched as its TF-backend optimizers do: on the
            # tf.Variable, whose name is the path plus ":0".
            and self._use_weight_decay(variable.value if isinstance(variable, keras.Variable) else variable)
            for variable in var_list
        ]
        self._uses_layer_adaptation = [not _matches(variable, adaptation_exclusions) for variable in var_list]

    def apply(self, grads: list, trainable_variables: list | None = None) -> None:
        """Applies one step; sparse gradients are made dense first (see the class doc)."""
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        return super().apply(grads, trainable_variables)

    def _clip_gradients(self, grads: list) -> list:
        # Keras clips each replica's gradients before they are summed, so under
        # a multi-replica strategy the "global" norm would be a per-replica one
        # and the result would depend on the number of replicas. There the
        # clipping is done after the sum, in `_backend_update_step`.
        if _num_replicas() > 1:
            return grads
        return super()._clip_gradients(grads)

    def _backend_update_step(self, grads: list, trainable_variables: list, learning_rate) -> None:
        if _num_replicas() == 1:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        variables = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
        grads_and_vars = self._all_reduce_sum_gradients(list(zip(grads, variables)))
        clipped = super()._clip_gradients([grad for grad, _ in grads_and_vars])
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._distributed_tf_update_step,
            self._distribution_strategy,
            list(zip(clipped, variables)),
            learning_rate,
        )

    def update_step(self, gradient, variable, learning_rate) -> None:
        """ALBERT's LAMB update of one variable (see the module doc)."""
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        learning_rate = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        m = self._momentums[index]
        v = self._velocities[index]

        next_m = ops.add(ops.multiply(self.beta_1, m), ops.multiply(1.0 - self.beta_1, gradient))
        next_v = ops.add(ops.multiply(self.beta_2, v), ops.multiply(1.0 - self.beta_2, ops.square(gradient)))
        update = ops.divide(next_m, ops.add(ops.sqrt(next_v), self.epsilon))
        if self._uses_weight_decay[index]:
            update = ops.add(update, ops.multiply(self.weight_decay_rate, variable))
        if self._uses_layer_adaptation[index]:
            w_norm = ops.sqrt(ops.sum(ops.square(variable)))
            u_norm = ops.sqrt(ops.sum(ops.square(update)))
            ratio = ops.where(
                ops.logical_and(ops.greater(w_norm, 0.0), ops.greater(u_norm, 0.0)),
                ops.divide(w_norm, u_norm),
                ops.ones_like(w_norm),
            )
            learning_rate = ops.multiply(learning_rate, ratio)

        self.assign(m, next_m)
        self.assign(v, next_v)
        self.assign_sub(variable, ops.multiply(learning_rate, update))

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> "AlbertLamb":
        # Keras' `from_config` replaces the schedule inside the dict it gets.
        return super().from_config(dict(config), custom_objects=custom_objects)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "weight_decay_rate": self.weight_decay_rate,
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "exclude_from_weight_decay": list(self.weight_decay_exclusions),
                "exclude_from_layer_adaptation": (
                    None if self.layer_adaptation_exclusions is None else list(self.layer_adaptation_exclusions)
                ),
            }
        )
        return config


def _num_replicas() -> int:
    replica_context = tf.distribute.get_replica_context()
    return replica_context.num_replicas_in_sync if replica_context is not None else 1


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


def _substrings(values: Sequence[str] | None, name: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not all(isinstance(value, str) and value for value in values):
        raise ValueError(f"`{name}` must be a list of non-empty strings. Received: {name}={values!r}")
    return tuple(values)


def _variable_path(variable) -> str:
    path = getattr(variable, "path", None)
    if path is None:  # a plain tf.Variable: "scope/name:0"
        path = variable.name.rsplit(":", 1)[0]
    return path


def _matches(variable, substrings: Sequence[str]) -> bool:
    path = _variable_path(variable)
    return any(substring in path for substring in substrings)
