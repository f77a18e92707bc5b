"""`AlbertPretrainer`: the backbone with the masked-LM and sentence-order heads."""

from __future__ import annotations

import os
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from albert_tf import fused_ops
from albert_tf.backbone import INPUT_NAMES, AlbertBackbone
from albert_tf.layers.masked_lm_head import AlbertMaskedLMHead


PRETRAINER_INPUT_NAMES = INPUT_NAMES + ("masked_lm_positions",)


@keras.saving.register_keras_serializable(package="albert_tf")
class MaskedLMPerplexity(keras.metrics.Mean):
    """exp of the running mean of the per-token masked-LM cross-entropy."""

    def result(self):
        return ops.exp(super().result())


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertPretrainer(keras.Model):
    """ALBERT pretraining model: MLM + SOP heads on an `AlbertBackbone`.

    Inputs: the backbone's three inputs plus `masked_lm_positions` [B, P].
    Outputs: `mlm_logits` [B, P, V] (float32) and `sop_logits` [B, 2].

    `fit` takes the batches of `albert_tf.data.pipeline.pretraining_dataset`
    (feature dicts that also hold the targets, so no separate `y`). The loss
    is the masked-LM cross-entropy averaged over real predictions (weights
    `masked_lm_weights`) plus `sentence_loss_weight` times the sentence-task
    cross-entropy. Metrics: `mlm_loss`, `sop_loss`, `mlm_accuracy`,
    `sop_accuracy`, `mlm_perplexity`.

    The sentence head learns whatever the records' `sentence_order_label`
    means: sentence order (SOP, ALBERT's) or next sentence (NSP, BERT's; see
    the records' `metadata.json`). The head and its `sop_*` names are the same
    for both, so checkpoints and metric logs keep one layout.

    Args:
        backbone: the encoder; its word embeddings double as the MLM decoder.
        gradient_accumulation_steps: split each batch into this many
            micro-batches and apply their mean gradient once, for global
            batches larger than memory allows (works under tf.distribute).
        sentence_loss_weight: weight of the sentence-task loss; 0 trains
            the MLM alone (the paper's "None" row of Table 5), the head's
            metrics are still reported.
    """

    def __init__(self, backbone: AlbertBackbone, gradient_accumulation_steps: int = 1,
                 sentence_loss_weight: float = 1.0, **kwargs):
        if gradient_accumulation_steps < 1:
            raise ValueError(
                f"`gradient_accumulation_steps` must be >= 1. Received: {gradient_accumulation_steps}"
            )
        if not sentence_loss_weight >= 0.0:
            raise ValueError(
                f"`sentence_loss_weight` must be >= 0. Received: sentence_loss_weight={sentence_loss_weight}"
            )
        config = backbone.config
        policy = backbone.dtype_policy

        # === Layers ===
        masked_lm_head = AlbertMaskedLMHead(
            backbone.token_embedding, config.embedding_size, activation=config.hidden_act,
            initializer_range=config.initializer_range, layer_norm_eps=config.layer_norm_eps,
            dtype=policy, name="masked_lm_head",
        )
        sop_head = keras.layers.Dense(
            2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
            dtype="float32", name="sop_head",
        )

        # === Functional model ===
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in PRETRAINER_INPUT_NAMES}
        encoded = backbone({name: inputs[name] for name in INPUT_NAMES})
        outputs = {
            "mlm_logits": masked_lm_head(encoded["sequence_output"], inputs["masked_lm_positions"]),
            "sop_logits": sop_head(encoded["pooled_output"]),
        }
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.masked_lm_head = masked_lm_head
        self.sop_head = sop_head
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.sentence_loss_weight = float(sentence_loss_weight)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
        self.sop_loss_tracker = keras.metrics.Mean(name="sop_loss")
        self.mlm_accuracy = keras.metrics.Mean(name="mlm_accuracy")
        self.sop_accuracy = keras.metrics.Mean(name="sop_accuracy")
        self.mlm_perplexity = MaskedLMPerplexity(name="mlm_perplexity")

    @property
    def metrics(self):
        return [self.loss_tracker, self.mlm_loss_tracker, self.sop_loss_tracker,
                self.mlm_accuracy, self.sop_accuracy, self.mlm_perplexity]

    # ------------------------------------------------------------------ losses
    def _forward_and_loss(self, features: dict[str, tf.Tensor], training: bool,
                          mlm_normalizer: tf.Tensor | None = None, sop_share: float = 1.0):
        """The loss of one (micro-)batch, and the metric updates.

        `mlm_normalizer` is the number of real predictions the MLM mean runs
        over (default: this batch's); `sop_share` scales the SOP mean. Training
        passes the global count and 1 / (replicas x micro-batches), so the
        gradients summed over replicas and micro-batches are exactly those of
        the whole global batch.
        """
        model_inputs = {name: features[name] for name in PRETRAINER_INPUT_NAMES}
        outputs = self(model_inputs, training=training)
        mlm_logits, sop_logits = outputs["mlm_logits"], outputs["sop_logits"]
        labels = features["masked_lm_ids"]
        weights = ops.cast(features["masked_lm_weights"], "float32")  # [B, P]
        token_loss, mlm_predictions = fused_ops.sparse_cross_entropy(labels, mlm_logits)
        if mlm_normalizer is None:
            mlm_normalizer = ops.sum(weights)
        # Mean over real predictions, as the original (sum w * loss / sum w).
        mlm_loss = ops.sum(token_loss * weights) / (mlm_normalizer + 1e-5)
        sop_labels = features["sentence_order_label"]
        sop_token_loss = keras.losses.sparse_categorical_crossentropy(sop_labels, sop_logits, from_logits=True)
        sop_loss = ops.mean(sop_token_loss) * sop_share

        mlm_correct = ops.cast(ops.equal(mlm_predictions, ops.cast(labels, "int32")), "float32")
        sop_correct = ops.cast(ops.equal(tf.argmax(sop_logits, axis=-1, output_type="int32"),
                                         ops.cast(sop_labels, "int32")), "float32")
        self.mlm_loss_tracker.update_state(token_loss, sample_weight=weights)
        self.mlm_perplexity.update_state(token_loss, sample_weight=weights)
        self.mlm_accuracy.update_state(mlm_correct, sample_weight=weights)
        self.sop_loss_tracker.update_state(sop_token_loss)
        self.sop_accuracy.update_state(sop_correct)
        return mlm_loss + self.sentence_loss_weight * sop_loss

    def train_step(self, data):
        # `fit` on a dataset passes the feature dict; `train_on_batch` wraps it in a tuple.
        features, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        steps = self.gradient_accumulation_steps
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        # The MLM mean runs over the real predictions of the whole global batch.
        global_predictions = tf.distribute.get_replica_context().all_reduce(
            "sum", ops.sum(ops.cast(features["masked_lm_weights"], "float32"))
        )
        share = 1.0 / (replicas * steps)
        variables = self.trainable_variables
        micro_batches = [features] if steps == 1 else _split_batch(features, steps)
        gradients = None
        total_loss = 0.0
        for micro_batch in micro_batches:
            with tf.GradientTape() as tape:
                loss = self._forward_and_loss(micro_batch, training=True, mlm_normalizer=global_predictions,
                                              sop_share=share)
                scaled = self.optimizer.scale_loss(loss)
            micro_gradients = [tf.convert_to_tensor(g) for g in tape.gradient(scaled, variables)]
            gradients = micro_gradients if gradients is None else [a + b for a, b in zip(gradients, micro_gradients)]
            total_loss += loss
        self.optimizer.apply(gradients, variables)
        # This replica's share times the replicas: the replicas' mean is the global loss.
        self.loss_tracker.update_state(total_loss * replicas)
        return self._logs()

    def test_step(self, data):
        features, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.loss_tracker.update_state(self._forward_and_loss(features, training=False))
        return self._logs()

    def _logs(self) -> dict[str, tf.Tensor]:
        logs = {metric.name: metric.result() for metric in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces multi-worker logs with a mean along axis 0, which
            # scalars lack (keras-team/keras#20585): give them that axis.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' own version first reduces a data batch across replicas, which
        # fails under MultiWorkerMirroredStrategy (keras-team/keras#20585).
        # This functional model is built at construction: only the optimizer
        # still needs its variables, created in the strategy's scope.
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        self._post_build()

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "sentence_loss_weight": self.sentence_loss_weight,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AlbertPretrainer":
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)

    # ----------------------------------------------------------------- presets
    @classmethod
    def from_preset(cls, preset: str | os.PathLike, **kwargs: Any) -> "AlbertPretrainer":
        """The pretrainer of a pretrainer preset (heads included); from another kind, new heads."""
        from albert_tf.preset_format import load_head_weights, read_preset

        spec = read_preset(preset)
        pretrainer = cls(AlbertBackbone.from_preset(preset), **{**spec.head, **kwargs} if spec.kind == "pretrainer"
                         else kwargs)
        if spec.kind == "pretrainer":
            load_head_weights(pretrainer, pretrainer.backbone, spec)
        return pretrainer

    def save_to_preset(self, preset: str | os.PathLike, spm_model: str | os.PathLike | bytes | None = None,
                       sequence_length: int = 128, provenance: dict[str, Any] | None = None,
                       overwrite: bool = False) -> None:
        """Writes backbone, MLM and sentence heads and the SentencePiece model as a preset folder."""
        from albert_tf.preset_format import save_model_preset, tokenizer_proto_of

        save_model_preset(preset, self, self.backbone, "pretrainer",
                          head={"sentence_loss_weight": self.sentence_loss_weight},
                          tokenizer_proto=tokenizer_proto_of(spm_model), sequence_length=sequence_length,
                          provenance=provenance, overwrite=overwrite)


def _split_batch(features: dict[str, tf.Tensor], parts: int) -> list[dict[str, tf.Tensor]]:
    """Splits every feature along the batch axis into `parts` equal micro-batches."""
    batch = tf.shape(next(iter(features.values())))[0]
    tf.debugging.assert_equal(
        batch % parts, 0, message="the per-replica batch must be divisible by gradient_accumulation_steps"
    )
    split = {name: tf.split(value, parts, axis=0) for name, value in features.items()}
    return [{name: split[name][index] for name in features} for index in range(parts)]
