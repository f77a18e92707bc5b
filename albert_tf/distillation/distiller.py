"""`Distiller`: train a student `AlbertClassifier` from a frozen teacher."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from albert_tf.backbone import INPUT_NAMES
from albert_tf.distillation.layer_mapping import uniform_layer_mapping, validate_layer_mapping
from albert_tf.distillation.losses import attention_map_loss, distillation_loss, hidden_state_loss
from albert_tf.distillation.probe import ClassifierProbe
from albert_tf.distillation.teacher_cache import TEACHER_LOGITS_KEY
from albert_tf.tasks import AlbertClassifier

ATTENTION_LOSS_KINDS = ("mse", "kl")


class Distiller(keras.Model):
    """A frozen teacher and a trainable student, trained with distillation losses.

    Both models are `albert_tf.tasks.AlbertClassifier`s with the same
    `num_classes` (1 = regression) and vocabulary, of any sizes. `fit` /
    `evaluate` take the student's usual data: feature dicts with the three
    backbone inputs, and labels. The per-example loss is

        alpha * hard + (1 - alpha) * soft
            + hidden_state_weight * hidden + attention_weight * attention

    * classification: `hard` = CE(labels, z_s), `soft` = `T^2 * CE(softmax(z_t/T), softmax(z_s/T))`;
    * regression: `hard` = MSE(labels, s), `soft` = MSE(t, s) (no temperature);
    * `hidden` (TinyBERT): MSE between `projection(student depth i)` and
      teacher depth `layer_mapping[i]`, over real tokens, averaged over the
      mapped pairs. The projection is one learned Dense (student H -> teacher
      H) shared by all pairs (TinyBERT's W_h; the embedding output is already
      H wide here), initialised to the identity when the widths are equal;
      it belongs to the distiller, not to the student;
    * `attention` (TinyBERT): MSE (or KL) between the attention probability
      maps of the mapped transformer depths (pairs with depth 0 skipped);
      maps are averaged over heads when the head counts differ.

    The loss is summed over the replica's examples (times `sample_weight`
    when given) and divided by the *global* batch size, and gradients are
    summed over replicas, so training under `tf.distribute` matches one
    device. Metrics: `loss`, `hard_loss`, `distill_loss` (the `soft` term,
    `T^2` included), `accuracy` (classification) or `mse` (regression), plus
    `hidden_loss` / `attention_loss` when enabled.

    The teacher is frozen here (`teacher.trainable = False`, set on the object
    passed in) and always run with `training=False`. A batch whose features
    hold `teacher_logits` (see `albert_tf.distillation.with_teacher_logits`)
    uses those instead of running the teacher; intermediate losses still run
    it for its hidden states.

    Saving: save the student (`distiller.student.save("student.keras")`); the
    Distiller itself is not serializable (`get_config` raises), though
    `save_weights` / `load_weights` checkpoint it (projection included).
    `compile` needs only an optimizer; a `loss` given there is not used.

    Args:
        teacher: the trained teacher classifier.
        student: the classifier to train.
        alpha: weight of the hard-label loss, in [0, 1]; 0 learns from the
            teacher alone (labels may then be omitted).
        temperature: softmax temperature T > 0 for the soft targets.
        hidden_state_weight: weight of the hidden-state loss (0 = off).
        attention_weight: weight of the attention-map loss (0 = off).
        attention_loss: `"mse"` or `"kl"` for the attention maps.
        layer_mapping: `{student_depth: teacher_depth}` (0 = embedding
            output, 1..L = transformer depths) for the intermediate losses;
            None for `uniform_layer_mapping` (embeddings included).

    Example:
    >>> distiller = Distiller(teacher, student, alpha=0.5, temperature=2.0)  # doctest: +SKIP
    >>> distiller.compile(optimizer=keras.optimizers.AdamW(5e-5))  # doctest: +SKIP
    >>> distiller.fit(train_dataset, epochs=3)  # doctest: +SKIP
    >>> distiller.student.save("student.keras")  # doctest: +SKIP
    """

    def __init__(self, teacher: AlbertClassifier, student: AlbertClassifier, *, alpha: float = 0.5,
                 temperature: float = 2.0, hidden_state_weight: float = 0.0, attention_weight: float = 0.0,
                 attention_loss: str = "mse", layer_mapping: Mapping[int, int] | None = None,
                 name: str = "distiller", **kwargs):
        _check_models(teacher, student)
        alpha, temperature = _check_number("alpha", alpha), _check_number("temperature", temperature)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(
                "`alpha` must be in [0, 1]: it weights the hard-label loss and 1 - alpha the soft targets "
                f"(0.5 is a common start). Received: alpha={alpha}"
            )
        if not temperature > 0.0:
            raise ValueError(
                "`temperature` must be > 0: it divides the logits (1 = plain softmax; 2 to 4 is usual). "
                f"Received: temperature={temperature}"
            )
        hidden_state_weight = _check_number("hidden_state_weight", hidden_state_weight)
        attention_weight = _check_number("attention_weight", attention_weight)
        for argument, value in (("hidden_state_weight", hidden_state_weight), ("attention_weight", attention_weight)):
            if value < 0.0:
                raise ValueError(f"`{argument}` must be >= 0 (0 turns that loss off). Received: {argument}={value}")
        if attention_loss not in ATTENTION_LOSS_KINDS:
            raise ValueError(f"`attention_loss` must be one of {list(ATTENTION_LOSS_KINDS)}. "
                             f"Received: attention_loss={attention_loss!r}")
        super().__init__(name=name, **kwargs)

        teacher.trainable = False
        # A model constructed with trainable=False (e.g. from_config of a
        # frozen model) still has variables flagged trainable, and the
        # distiller's trainable_variables go by those flags: clear them too.
        for variable in teacher.variables:
            variable.trainable = False
        self.teacher = teacher
        self.student = student
        self.alpha = alpha
        self.temperature = temperature
        self.hidden_state_weight = hidden_state_weight
        self.attention_weight = attention_weight
        self.attention_loss = attention_loss
        self.regression = student.num_classes == 1

        student_config, teacher_config = student.backbone.config, teacher.backbone.config
        self.uses_intermediate_losses = hidden_state_weight > 0 or attention_weight > 0
        mapping = validate_layer_mapping(
            layer_mapping if layer_mapping is not None
            else uniform_layer_mapping(student_config.num_hidden_layers, teacher_config.num_hidden_layers),
            student_config.num_hidden_layers, teacher_config.num_hidden_layers,
        )
        # Stored as tuples: Keras wraps dict attributes in trackers.
        self._hidden_pairs = tuple(mapping.items()) if hidden_state_weight > 0 else ()
        self._attention_pairs = tuple((s, t) for s, t in mapping.items() if s >= 1 and t >= 1) \
            if attention_weight > 0 else ()
        if attention_weight > 0 and not self._attention_pairs:
            raise ValueError(
                "`layer_mapping` maps no transformer depth to a transformer depth (>= 1 on both sides), "
                f"so there is no attention map to distil. Received: layer_mapping={mapping}"
            )
        self._layer_mapping = tuple(mapping.items())

        self.hidden_projection = None
        if self.uses_intermediate_losses:
            self._student_probe = ClassifierProbe(student)
            self._teacher_probe = ClassifierProbe(teacher)
            self._student_probe.check()
            self._teacher_probe.check()
        if hidden_state_weight > 0:
            student_width, teacher_width = student_config.hidden_size, teacher_config.hidden_size
            initializer = ("identity" if student_width == teacher_width
                           else keras.initializers.TruncatedNormal(stddev=student_config.initializer_range))
            self.hidden_projection = keras.layers.Dense(
                teacher_width, kernel_initializer=initializer, dtype=student.backbone.dtype_policy,
                name="hidden_projection",
            )
            self.hidden_projection.build((None, None, student_width))

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.hard_loss_tracker = keras.metrics.Mean(name="hard_loss")
        self.distill_loss_tracker = keras.metrics.Mean(name="distill_loss")
        self.task_metric = (keras.metrics.MeanSquaredError(name="mse") if self.regression
                            else keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
        self.hidden_loss_tracker = keras.metrics.Mean(name="hidden_loss")
        self.attention_loss_tracker = keras.metrics.Mean(name="attention_loss")
        # Teacher, student and projection are all built: nothing to infer from data.
        self.built = True

    # ------------------------------------------------------------------ API
    @property
    def layer_mapping(self) -> dict[int, int]:
        """The `{student_depth: teacher_depth}` mapping in use (for the intermediate losses)."""
        return dict(self._layer_mapping)

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.hard_loss_tracker, self.distill_loss_tracker, self.task_metric]
        if self._hidden_pairs:
            trackers.append(self.hidden_loss_tracker)
        if self._attention_pairs:
            trackers.append(self.attention_loss_tracker)
        return trackers

    def call(self, inputs, training=None):
        """The student's outputs (so `predict` gives student logits)."""
        return self.student(_model_inputs(inputs), training=training)

    def compute_losses(self, x: dict, y=None, sample_weight=None, training: bool = False) -> dict[str, Any]:
        """The per-example loss terms of one batch (no metric updates).

        Returns:
            A dict of `[B]` float32 tensors: `loss` (the weighted total),
            `hard_loss`, `distill_loss`, and `hidden_loss` / `attention_loss`
            when enabled; plus `student_logits` `[B, C]`.
        """
        features = _model_inputs(x)
        cached = x.get(TEACHER_LOGITS_KEY) if isinstance(x, Mapping) else None
        terms = {}
        if self.uses_intermediate_losses:
            student_attention_depths = [s for s, _ in self._attention_pairs]
            teacher_attention_depths = [t for _, t in self._attention_pairs]
            student_out = self._student_probe(features, training=training, attention_depths=student_attention_depths)
            teacher_out = self._teacher_probe(features, training=False, attention_depths=teacher_attention_depths)
            student_logits = student_out.logits
            teacher_logits = teacher_out.logits if cached is None else cached
            mask = features["input_mask"]
            if self._hidden_pairs:
                terms["hidden_loss"] = ops.mean(ops.stack([
                    hidden_state_loss(self.hidden_projection(student_out.hidden_states[s]),
                                      ops.stop_gradient(teacher_out.hidden_states[t]), mask)
                    for s, t in self._hidden_pairs
                ]), axis=0)
            if self._attention_pairs:
                terms["attention_loss"] = ops.mean(ops.stack([
                    attention_map_loss(student_out.attention_probs[s],
                                       ops.stop_gradient(teacher_out.attention_probs[t]), mask,
                                       kind=self.attention_loss)
                    for s, t in self._attention_pairs
                ]), axis=0)
        else:
            student_logits = self.student(features, training=training)
            teacher_logits = cached if cached is not None else self.teacher(features, training=False)
        teacher_logits = ops.stop_gradient(ops.cast(teacher_logits, "float32"))

        total, hard, soft = distillation_loss(student_logits, teacher_logits, y, alpha=self.alpha,
                                              temperature=self.temperature, regression=self.regression)
        if "hidden_loss" in terms:
            total = total + self.hidden_state_weight * terms["hidden_loss"]
        if "attention_loss" in terms:
            total = total + self.attention_weight * terms["attention_loss"]
        return {"loss": total, "hard_loss": hard, "distill_loss": soft, **terms,
                "student_logits": ops.cast(student_logits, "float32")}

    # ------------------------------------------------------------------ steps
    def _step_loss(self, data, training: bool):
        """The replica's share of the global mean loss; updates the metrics."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        terms = self.compute_losses(x, y, training=training)
        per_example = terms["loss"]
        weights = None if sample_weight is None else ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        weighted = per_example if weights is None else per_example * weights
        # Sum over this replica / global batch size: summing the replicas'
        # gradients then gives the gradient of the global mean.
        local_batch = ops.cast(ops.shape(per_example)[0], "float32")
        context = tf.distribute.get_replica_context()
        global_batch = local_batch if context is None else context.all_reduce("sum", local_batch)
        loss = ops.sum(weighted) / global_batch

        self.loss_tracker.update_state(per_example, sample_weight=weights)
        self.hard_loss_tracker.update_state(terms["hard_loss"], sample_weight=weights)
        self.distill_loss_tracker.update_state(terms["distill_loss"], sample_weight=weights)
        if "hidden_loss" in terms:
            self.hidden_loss_tracker.update_state(terms["hidden_loss"], sample_weight=weights)
        if "attention_loss" in terms:
            self.attention_loss_tracker.update_state(terms["attention_loss"], sample_weight=weights)
        if y is not None:
            labels = ops.reshape(y, (-1, 1)) if self.regression else ops.reshape(y, (-1,))
            self.task_metric.update_state(labels, terms["student_logits"], sample_weight=weights)
        return loss

    def _trained_variables(self) -> list:
        # Named explicitly rather than self.trainable_variables, so that no
        # teacher variable can reach the optimizer whatever its flags say.
        variables = list(self.student.trainable_variables)
        if self.hidden_projection is not None:
            variables += self.hidden_projection.trainable_variables
        return variables

    def train_step(self, data):
        variables = self._trained_variables()
        with tf.GradientTape() as tape:
            loss = self._step_loss(data, training=True)
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        return self._logs()

    def test_step(self, data):
        self._step_loss(data, training=False)
        return self._logs()

    def _logs(self) -> dict[str, tf.Tensor]:
        logs = {metric.name: metric.result() for metric in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces multi-worker logs along axis 0, which scalars lack
            # (keras-team/keras#20585): give them that axis.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Everything is built at construction; Keras' version would first
        # reduce a data batch across replicas, which fails under
        # MultiWorkerMirroredStrategy (keras-team/keras#20585). Only the
        # optimizer still needs its variables, in the strategy's scope.
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self._trained_variables())
        self._post_build()

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            "A Distiller is not serializable: save the trained student with "
            "`distiller.student.save('student.keras')` (or checkpoint with `distiller.save_weights`)."
        )


def _model_inputs(x) -> dict:
    if not isinstance(x, Mapping):
        raise ValueError(f"Distiller inputs must be a dict with keys {list(INPUT_NAMES)}. Received: {type(x).__name__}")
    return {name: x[name] for name in INPUT_NAMES}


def _check_number(argument: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"`{argument}` must be a number. Received: {argument}={value!r}")
    return float(value)


def _check_models(teacher, student) -> None:
    for role, model in (("teacher", teacher), ("student", student)):
        if not isinstance(model, AlbertClassifier):
            raise ValueError(
                f"`{role}` must be an albert_tf.tasks.AlbertClassifier (num_classes >= 2, or 1 for regression). "
                f"Received: {type(model).__name__}"
            )
    if teacher is student:
        raise ValueError("`teacher` and `student` must be different models (the teacher is frozen).")
    if {id(v) for v in teacher.variables} & {id(v) for v in student.variables}:
        raise ValueError(
            "`teacher` and `student` share variables (e.g. a common backbone or layer), which freezing the "
            "teacher would freeze in the student too: build the student from its own layers."
        )
    if teacher.num_classes != student.num_classes:
        raise ValueError(
            f"`num_classes` differs: the teacher has num_classes={teacher.num_classes}, the student "
            f"num_classes={student.num_classes}. Build the student with "
            f"AlbertClassifier(backbone, num_classes={teacher.num_classes})."
        )
    teacher_vocab, student_vocab = teacher.backbone.config.vocab_size, student.backbone.config.vocab_size
    if teacher_vocab != student_vocab:
        raise ValueError(
            f"`vocab_size` differs: teacher {teacher_vocab}, student {student_vocab}. Both models read the same "
            "token ids: give the student's config the teacher's vocab_size (and tokenizer)."
        )
